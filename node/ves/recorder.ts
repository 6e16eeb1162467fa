import { existsSync } from 'node:fs';
import { configPathOf, loadAgentKey, loadSyncConfig, syncDir } from '../sync/config.js';
import { type MarketEventData, type MarketEventKind, marketEvent } from './market-events.js';
import { Outbox } from './outbox.js';

/**
 * Records the node's market facts (job requested, proved, verified, payment settled, provider
 * slashed) as signed VES events in the sync outbox, for `m2m sync push` to send to a sequencer.
 * The node records only once `m2m sync init` and `m2m sync keys generate` have set up the sync
 * dir; until then `openMarketRecorder` returns undefined and nothing is recorded.
 */
export interface MarketRecorder {
  /** Appends the fact's event (idempotent: the same fact twice appends once). Never throws. */
  record<K extends MarketEventKind>(kind: K, data: MarketEventData[K]): Promise<RecordOutcome>;
  readonly outboxPath: string;
  close(): void;
}

export type RecordOutcome =
  | { ok: true; eventId: string; appended: boolean }
  | { ok: false; code: string; message: string };

/** The recorder of the sync dir (`--dir`, `$M2M_HOME/sync` or `~/.m2m/sync`), if it is set up. */
export function openMarketRecorder(
  dir?: string,
  env: NodeJS.ProcessEnv = process.env,
): MarketRecorder | undefined {
  const resolvedDir = syncDir(dir, env);
  if (!existsSync(configPathOf(resolvedDir))) return undefined;
  const config = loadSyncConfig(resolvedDir, env);
  if (!existsSync(config.agentKeyPath)) return undefined;
  const secretKey = loadAgentKey(config.agentKeyPath);
  const outbox = Outbox.open(config.outboxPath);
  const ctx = {
    tenantId: config.tenantId,
    storeId: config.storeId,
    agentId: config.agentId,
    keyId: config.keyId,
    secretKey,
    outbox,
  };
  return {
    outboxPath: config.outboxPath,
    async record(kind, data) {
      try {
        const { envelope, appended } = await marketEvent(kind, data, ctx);
        return { ok: true, eventId: envelope.event_id, appended };
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        return {
          ok: false,
          code: typeof code === 'string' ? code : 'VES_RECORD_FAILED',
          message: error instanceof Error ? error.message : String(error),
        };
      }
    },
    close: () => outbox.close(),
  };
}
