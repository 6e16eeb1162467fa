import { randomUUID } from 'node:crypto';
import { type Command, InvalidArgumentError } from 'commander';
import { M2mError } from '../../zkvm/errors.js';
import { SequencerClient } from '../sync/client.js';
import {
  createAgentKey,
  loadAgentKey,
  loadSyncConfig,
  type ResolvedSyncConfig,
  SyncConfig,
  saveSyncConfig,
  syncDir,
} from '../sync/config.js';
import { pullStream, pushOutbox } from '../sync/push.js';
import { Outbox } from '../ves/outbox.js';
import { agentPublicKey, signKeyRegistration, signVesEvent } from '../ves/sign.js';
import { JsonValueSchema, Rfc3339, Uuid } from '../ves/types.js';
import { printJson } from './io.js';

/**
 * `m2m sync init | keys generate | keys register | push | pull | status | append`: the
 * stateset-sync verbs against any VES sequencer (the embedded one or stateset-sequencer).
 * Results go to stdout (text or `--json`), progress to stderr.
 */

const positiveInt =
  (max: number) =>
  (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1 || n > max)
      throw new InvalidArgumentError(`expected an integer from 1 to ${max}`);
    return n;
  };
const keyIdArg = (text: string): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff)
    throw new InvalidArgumentError('expected an integer key id');
  return n;
};
const uuidArg = (text: string): string => {
  if (!Uuid.safeParse(text).success) throw new InvalidArgumentError('expected a UUID');
  return text.toLowerCase();
};
const timeArg = (text: string): string => {
  if (!Rfc3339.safeParse(text).success)
    throw new InvalidArgumentError('expected an RFC 3339 time, e.g. 2026-01-01T00:00:00Z');
  return text;
};

const progress = (line: string) => process.stderr.write(`sync: ${line}\n`);

function clientOf(config: ResolvedSyncConfig): SequencerClient {
  return new SequencerClient({
    baseUrl: config.sequencerUrl,
    apiKey: config.apiKey,
    onRetry: ({ attempt, delayMs, reason }) =>
      progress(`${reason}; retry ${attempt} in ${delayMs} ms`),
  });
}

function withOutbox<T>(config: ResolvedSyncConfig, fn: (outbox: Outbox) => Promise<T>): Promise<T> {
  const outbox = Outbox.open(config.outboxPath);
  return fn(outbox).finally(() => outbox.close());
}

interface Common {
  dir?: string;
  json?: boolean;
}

export function registerSyncCommands(program: Command, setExit: (code: number) => void): void {
  const sync = program
    .command('sync')
    .description(
      'VES event sync: sign events into the local outbox, push them to a sequencer, pull its stream',
    );
  const dirOption = '--dir <dir>';
  const dirHelp = 'sync directory (default $M2M_HOME/sync or ~/.m2m/sync)';

  sync
    .command('init')
    .description(
      'write sync.json (sequencer URL, API key, tenant/store/agent ids) and create the outbox',
    )
    .requiredOption(
      '--url <url>',
      'sequencer base URL including the API path, e.g. http://127.0.0.1:8080/api',
    )
    .option('--api-key <key>', 'X-API-Key value ($M2M_SYNC_API_KEY overrides it at run time)')
    .requiredOption('--tenant-id <uuid>', 'tenant id', uuidArg)
    .requiredOption('--store-id <uuid>', 'store id', uuidArg)
    .option('--agent-id <uuid>', 'this agent id (default: a new random UUID)', uuidArg)
    .option('--key-id <n>', 'signing key id (default 1)', keyIdArg)
    .option('--batch-size <n>', 'events per push request (default 500)', positiveInt(1000))
    .option('--force', 'overwrite an existing sync.json')
    .option(dirOption, dirHelp)
    .option('--json', 'print the result as JSON')
    .action(
      async (
        opts: Common & {
          url: string;
          apiKey?: string;
          tenantId: string;
          storeId: string;
          agentId?: string;
          keyId?: number;
          batchSize?: number;
          force?: boolean;
        },
      ) => {
        const dir = syncDir(opts.dir);
        if (!opts.force) {
          let existing: ResolvedSyncConfig | undefined;
          try {
            existing = loadSyncConfig(dir);
          } catch (error) {
            if (!(error instanceof M2mError && error.code === 'SYNC_NOT_INITIALIZED')) throw error;
          }
          if (existing !== undefined)
            throw new M2mError(
              'SYNC_ALREADY_INITIALIZED',
              `${existing.configPath} exists; pass --force to overwrite it`,
            );
        }
        const parsed = SyncConfig.safeParse({
          sequencerUrl: opts.url,
          ...(opts.apiKey === undefined ? {} : { apiKey: opts.apiKey }),
          tenantId: opts.tenantId,
          storeId: opts.storeId,
          agentId: opts.agentId ?? randomUUID(),
          ...(opts.keyId === undefined ? {} : { keyId: opts.keyId }),
          ...(opts.batchSize === undefined ? {} : { batchSize: opts.batchSize }),
        });
        if (!parsed.success)
          throw new M2mError(
            'SYNC_CONFIG_INVALID',
            parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
          );
        const config = saveSyncConfig(dir, parsed.data);
        Outbox.open(config.outboxPath).close();
        const summary = {
          config: config.configPath,
          outbox: config.outboxPath,
          sequencerUrl: config.sequencerUrl,
          tenantId: config.tenantId,
          storeId: config.storeId,
          agentId: config.agentId,
          keyId: config.keyId,
        };
        if (opts.json) printJson({ ok: true, ...summary });
        else
          process.stdout.write(
            `sync initialized: ${summary.config}\n  agent ${summary.agentId} key ${summary.keyId} -> ${summary.sequencerUrl}\n  next: m2m sync keys generate && m2m sync keys register\n`,
          );
      },
    );

  const keys = sync.command('keys').description('the agent Ed25519 signing key');
  keys
    .command('generate')
    .description(
      'create the agent signing key (Ed25519 seed, file mode 0600) and print its public key',
    )
    .option('--force', 'replace an existing key (events already signed keep their old key id)')
    .option(dirOption, dirHelp)
    .option('--json', 'print the result as JSON')
    .action(async (opts: Common & { force?: boolean }) => {
      const config = loadSyncConfig(syncDir(opts.dir));
      const { publicKey } = createAgentKey(config.agentKeyPath, opts.force === true);
      const out = {
        keyFile: config.agentKeyPath,
        publicKey: Buffer.from(publicKey).toString('hex'),
        keyId: config.keyId,
      };
      if (opts.json) printJson({ ok: true, ...out });
      else
        process.stdout.write(
          `agent key written to ${out.keyFile}\npublic key ${out.publicKey} (key id ${out.keyId})\n`,
        );
    });
  keys
    .command('register')
    .description(
      'register the agent public key with the sequencer (POST /v1/agents/keys, with proof of possession)',
    )
    .option('--valid-from <time>', 'start of validity (RFC 3339)', timeArg)
    .option('--valid-to <time>', 'end of validity (RFC 3339)', timeArg)
    .option(dirOption, dirHelp)
    .option('--json', 'print the result as JSON')
    .action(async (opts: Common & { validFrom?: string; validTo?: string }) => {
      const config = loadSyncConfig(syncDir(opts.dir));
      const secretKey = loadAgentKey(config.agentKeyPath);
      const request = signKeyRegistration(
        {
          tenantId: config.tenantId,
          agentId: config.agentId,
          keyId: config.keyId,
          ...(opts.validFrom === undefined ? {} : { validFrom: opts.validFrom }),
          ...(opts.validTo === undefined ? {} : { validTo: opts.validTo }),
        },
        secretKey,
      );
      const answer = await clientOf(config).registerKey(request);
      if (opts.json) printJson({ ok: true, request, answer });
      else
        process.stdout.write(
          `registered key ${config.keyId} of agent ${config.agentId}: ${request.publicKey}\n`,
        );
    });

  sync
    .command('append')
    .description('sign one plaintext event with the agent key and append it to the outbox')
    .requiredOption('--entity-type <type>', 'entity type, e.g. job')
    .requiredOption('--entity-id <id>', 'entity id')
    .requiredOption('--event-type <type>', 'event type, e.g. job.requested')
    .requiredOption('--payload <json>', 'the payload as JSON')
    .option(
      '--event-id <uuid>',
      'event id (default: a new random UUID); appending the same event again is a no-op',
      uuidArg,
    )
    .option(dirOption, dirHelp)
    .option('--json', 'print the result as JSON')
    .action(
      async (
        opts: Common & {
          entityType: string;
          entityId: string;
          eventType: string;
          payload: string;
          eventId?: string;
        },
      ) => {
        const config = loadSyncConfig(syncDir(opts.dir));
        let payloadJson: unknown;
        try {
          payloadJson = JSON.parse(opts.payload);
        } catch (cause) {
          throw new M2mError('DATA_SYNTAX', `--payload is not JSON: ${(cause as Error).message}`, {
            cause,
          });
        }
        const payload = JsonValueSchema.parse(payloadJson);
        const envelope = signVesEvent(
          {
            event_id: opts.eventId ?? randomUUID(),
            tenant_id: config.tenantId,
            store_id: config.storeId,
            source_agent_id: config.agentId,
            agent_key_id: config.keyId,
            entity_type: opts.entityType,
            entity_id: opts.entityId,
            event_type: opts.eventType,
            created_at: new Date().toISOString(),
            payload_kind: 0,
            payload,
          },
          loadAgentKey(config.agentKeyPath),
        );
        const result = await withOutbox(config, async (outbox) => outbox.append(envelope));
        if (opts.json) printJson({ ok: true, eventId: envelope.event_id, ...result });
        else process.stdout.write(`appended ${envelope.event_id} (local #${result.localSeq})\n`);
      },
    );

  sync
    .command('push')
    .description(
      'send pending outbox events to the sequencer until the outbox is drained; progress on stderr',
    )
    .option('--batch-size <n>', 'events per request (default from sync.json)', positiveInt(1000))
    .option('--retry-rejected', 'put events the sequencer rejected back in the queue first')
    .option('--quiet', 'no progress lines')
    .option(dirOption, dirHelp)
    .option('--json', 'print the result as JSON')
    .action(
      async (opts: Common & { batchSize?: number; retryRejected?: boolean; quiet?: boolean }) => {
        const config = loadSyncConfig(syncDir(opts.dir));
        const client = clientOf(config);
        const report = await withOutbox(config, async (outbox) => {
          if (opts.retryRejected) {
            const n = outbox.requeueRejected();
            if (!opts.quiet) progress(`requeued ${n} rejected events`);
          }
          const start = outbox.counts().pending;
          if (!opts.quiet) progress(`pushing ${start} pending events to ${config.sequencerUrl}`);
          // SIGINT/SIGTERM: finish the batch in flight, record its receipts, then stop.
          const controller = new AbortController();
          const stop = () => {
            if (!opts.quiet) progress('stopping after the current batch');
            controller.abort();
          };
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
          return pushOutbox(outbox, client, {
            agentId: config.agentId,
            batchSize: opts.batchSize ?? config.batchSize,
            signal: controller.signal,
            ...(opts.quiet
              ? {}
              : {
                  onProgress: (p) =>
                    progress(
                      `batch ${p.batch}: ${p.sequenced}/${start} sequenced, ${p.rejected} rejected, ${p.pending} pending, head ${p.lastSequence ?? '-'}`,
                    ),
                }),
          })
            .then((r) => ({
              ...r,
              pending: outbox.counts().pending,
              stopped: controller.signal.aborted,
            }))
            .finally(() => {
              process.off('SIGINT', stop);
              process.off('SIGTERM', stop);
            });
        });
        if (opts.json) printJson({ ok: report.rejected.length === 0, ...report });
        else
          process.stdout.write(
            `pushed: ${report.sequenced} sequenced (${report.replayed} already there), ${report.rejected.length} rejected, ${report.batches} requests, ${report.pending} still pending\n`,
          );
        if (report.rejected.length > 0) {
          for (const r of report.rejected.slice(0, 10))
            progress(`rejected ${r.eventId}: ${r.reason}`);
          setExit(1);
        }
      },
    );

  sync
    .command('pull')
    .description(
      "read the sequencer's stream for this tenant/store into the local database; progress on stderr",
    )
    .option('--limit <n>', 'events per request (default 500)', positiveInt(1000))
    .option('--quiet', 'no progress lines')
    .option(dirOption, dirHelp)
    .option('--json', 'print the result as JSON')
    .action(async (opts: Common & { limit?: number; quiet?: boolean }) => {
      const config = loadSyncConfig(syncDir(opts.dir));
      const stream = { tenantId: config.tenantId, storeId: config.storeId };
      const result = await withOutbox(config, (outbox) =>
        pullStream(outbox, clientOf(config), stream, {
          ...(opts.limit === undefined ? {} : { limit: opts.limit }),
          ...(opts.quiet
            ? {}
            : {
                onProgress: (p) =>
                  progress(`pulled ${p.pulled}, up to sequence ${p.lastPulledSeq}`),
              }),
        }),
      );
      if (opts.json) printJson({ ok: true, ...stream, ...result });
      else
        process.stdout.write(
          `pulled ${result.pulled} events; stream synced to sequence ${result.lastPulledSeq}\n`,
        );
    });

  sync
    .command('status')
    .description('outbox counts, last pushed and pulled sequence numbers, and the sequencer head')
    .option('--offline', 'do not ask the sequencer for its head')
    .option(dirOption, dirHelp)
    .option('--json', 'print the result as JSON')
    .action(async (opts: Common & { offline?: boolean }) => {
      const config = loadSyncConfig(syncDir(opts.dir));
      const stream = { tenantId: config.tenantId, storeId: config.storeId };
      const local = await withOutbox(config, async (outbox) => ({
        counts: outbox.counts(),
        state: outbox.syncState(stream),
        oldestPending: outbox.pending(1)[0]?.createdAt,
      }));
      let remote: { head: number } | { error: string } | undefined;
      if (!opts.offline) {
        try {
          const client = new SequencerClient({
            baseUrl: config.sequencerUrl,
            apiKey: config.apiKey,
            retries: 0,
            timeoutMs: 5000,
          });
          remote = { head: await client.head(stream) };
        } catch (error) {
          remote = {
            error: error instanceof M2mError ? `${error.code}: ${error.message}` : String(error),
          };
        }
      }
      let publicKey: string | undefined;
      try {
        publicKey = Buffer.from(agentPublicKey(loadAgentKey(config.agentKeyPath))).toString('hex');
      } catch {
        publicKey = undefined;
      }
      const status = {
        sequencerUrl: config.sequencerUrl,
        ...stream,
        agentId: config.agentId,
        keyId: config.keyId,
        publicKey: publicKey ?? null,
        outbox: config.outboxPath,
        ...local.counts,
        lastPushedSeq: local.state.lastPushedSeq,
        lastPulledSeq: local.state.lastPulledSeq,
        oldestPending: local.oldestPending ?? null,
        remote: remote ?? null,
      };
      if (opts.json) printJson({ ok: true, ...status });
      else {
        const head =
          remote === undefined
            ? 'not asked'
            : 'head' in remote
              ? String(remote.head)
              : `unreachable (${remote.error})`;
        process.stdout.write(
          [
            `sequencer ${status.sequencerUrl} (head ${head})`,
            `stream    tenant ${status.tenantId} store ${status.storeId}`,
            `agent     ${status.agentId} key ${status.keyId} ${publicKey ?? '(no key: m2m sync keys generate)'}`,
            `outbox    ${status.pending} pending, ${status.pushed} pushed, ${status.rejected} rejected, ${status.pulled} pulled`,
            `sequence  last pushed ${status.lastPushedSeq}, last pulled ${status.lastPulledSeq}`,
          ]
            .map((line) => `${line}\n`)
            .join(''),
        );
      }
    });
}
