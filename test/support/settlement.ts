import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accountSpec } from '../../node/settlement/accounts.js';
import type { SettlementConfigInput } from '../../node/settlement/config.js';
import { SettlementNode, type SettlementNodeOptions } from '../../node/settlement/node.js';
import type { ProofExpectation } from '../../node/settlement/proof-check.js';
import { createAgentKey, type ResolvedSyncConfig, saveSyncConfig } from '../../node/sync/config.js';
import { assertValidPlan } from '../../zkvm/plan/validate.js';
import { planDataRootPoseidon } from '../../zkvm/plan-proof/commitments.js';
import { provePlan } from '../../zkvm/plan-proof/prove.js';
import { createEnvelope, decodeEnvelope, encodeEnvelope } from '../../zkvm/proof/envelope.js';
import { findNativeProver } from '../../zkvm/prover/native-process.js';

export interface ProvenJob {
  envelope: Buffer;
  expect: ProofExpectation;
  output: unknown[];
}

/** Fails the suite (never skips it) when the native prover is not built. */
export function requireNativeProver(): void {
  if (findNativeProver() === undefined)
    throw new Error('m2m-prover is not built: run `npm run build:prover`');
}

/** Proves plans/sensor-summary.yaml for real (a few seconds) and returns what settlement needs. */
export async function proveSensorSummary(): Promise<ProvenJob> {
  requireNativeProver();
  const validated = assertValidPlan(readFileSync('plans/sensor-summary.yaml', 'utf8'), {
    file: 'sensor-summary',
  });
  const data = JSON.parse(readFileSync('plans/data/sensor-summary.json', 'utf8')) as Record<
    string,
    unknown[]
  >;
  const proof = await provePlan(validated, data);
  return {
    envelope: encodeEnvelope(proof.envelope),
    expect: {
      jobRequestHash: proof.statement.jobRequestHash,
      planHash: validated.planHash,
      dataRoot: planDataRootPoseidon(validated.plan, data),
    },
    output: proof.execution.output as unknown[],
  };
}

/**
 * The envelope with one STARK proof byte flipped and its proofHash recomputed, so the damage
 * reaches the verifier itself instead of being caught by the envelope's hash check.
 */
export function tamperedEnvelope(envelope: Buffer): Buffer {
  const decoded = decodeEnvelope(envelope);
  const proof = Uint8Array.from(decoded.proof);
  const at = proof.length >> 1;
  proof[at] = (proof[at] as number) ^ 0x01;
  const { version: _v, proofHash: _h, ...fields } = decoded;
  return encodeEnvelope(createEnvelope({ ...fields, proof }));
}

import { freePort } from '../../node/net.js';

export { freePort };

export interface NodePair {
  dir: string;
  escrowConfig: SettlementConfigInput;
  providerConfig: SettlementConfigInput;
  escrow: SettlementNode;
  provider: SettlementNode;
  /** Restarts the escrow node on the same files (a crash when `crash` is true: no cleanup). */
  restartEscrow(options?: SettlementNodeOptions): Promise<SettlementNode>;
  close(): Promise<void>;
}

const TOKEN_TO_PROVIDER = 'escrow-to-provider-token-0123456789';
const TOKEN_TO_ESCROW = 'provider-to-escrow-token-0123456789';

/** Two real settlement nodes on loopback: the buyer's escrow and a provider, peered both ways. */
export async function startNodePair(
  settings: Partial<SettlementConfigInput> = {},
  options: {
    escrow?: SettlementNodeOptions;
    provider?: SettlementNodeOptions;
    /** The provider's ILP address as the escrow has it configured (a misconfiguration test). */
    providerAddress?: string;
  } = {},
): Promise<NodePair> {
  const dir = mkdtempSync(join(tmpdir(), 'm2m-settlement-'));
  const [escrowPort, providerPort] = [await freePort(), await freePort()];
  const escrowConfig: SettlementConfigInput = {
    ilpAddress: 'test.m2m.escrow',
    listen: { host: '127.0.0.1', port: escrowPort },
    peers: {
      prov: {
        url: `http://127.0.0.1:${providerPort}`,
        ilpAddress: options.providerAddress ?? 'test.m2m.prov',
        token: TOKEN_TO_PROVIDER,
        acceptToken: TOKEN_TO_ESCROW,
      },
    },
    ledger: { sqlite: join(dir, 'escrow-ledger.db') },
    journal: join(dir, 'escrow-journal.db'),
    tickMs: 50,
    fulfilMarginMs: 5_000,
    ...settings,
  };
  const providerConfig: SettlementConfigInput = {
    ilpAddress: 'test.m2m.prov',
    listen: { host: '127.0.0.1', port: providerPort },
    peers: {
      escrow: {
        url: `http://127.0.0.1:${escrowPort}`,
        ilpAddress: 'test.m2m.escrow',
        token: TOKEN_TO_ESCROW,
        acceptToken: TOKEN_TO_PROVIDER,
      },
    },
    ledger: { sqlite: join(dir, 'provider-ledger.db') },
    journal: join(dir, 'provider-journal.db'),
    tickMs: 50,
  };
  const pair: NodePair = {
    dir,
    escrowConfig,
    providerConfig,
    escrow: await SettlementNode.start(escrowConfig, options.escrow),
    provider: await SettlementNode.start(providerConfig, options.provider),
    async restartEscrow(restartOptions = {}) {
      await pair.escrow.close().catch(() => undefined);
      pair.escrow = await SettlementNode.start(escrowConfig, restartOptions);
      return pair.escrow;
    },
    async close() {
      await pair.escrow.close().catch(() => undefined);
      await pair.provider.close().catch(() => undefined);
    },
  };
  return pair;
}

/** Balances of the escrow node's accounts for one buyer and one provider (credits - debits). */
export async function escrowBalances(node: SettlementNode, buyer: string, provider: string) {
  const L = node.config.assetLedger;
  const ids = {
    buyer: accountSpec('buyer', buyer, L).id,
    revenue: accountSpec('revenue', provider, L).id,
    stake: accountSpec('stake', provider, L).id,
    fees: accountSpec('fees', 'fees', L).id,
    external: accountSpec('external', 'world', L).id,
  };
  const accounts = await node.ledger.lookupAccounts(Object.values(ids));
  const of = (id: bigint) => {
    const a = accounts.find((x) => x.id === id);
    return {
      posted: a === undefined ? 0n : a.credits_posted - a.debits_posted,
      pending: a === undefined ? 0n : a.credits_pending - a.debits_pending,
    };
  };
  return {
    buyer: of(ids.buyer),
    revenue: of(ids.revenue),
    stake: of(ids.stake),
    fees: of(ids.fees),
    external: of(ids.external),
  };
}

export const waitUntil = async (check: () => boolean, timeoutMs = 20_000): Promise<void> => {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

export const ESCROW_ADMIN_TOKEN = 'customer-admin-token-0123456789';

/**
 * The settlement configs of a paid market job: the customer's escrow (`test.m2m.alice`, admin API
 * on, files under `<dir>/escrow`) and the `settlement:` section of the provider's node.yaml
 * (`test.m2m.prov`, files under `provider/` relative to node.yaml in `dir`), peered both ways on
 * two free ports. The escrow names the provider `prov`.
 */
export async function marketSettlement(dir: string): Promise<{
  escrow: SettlementConfigInput;
  providerSection: SettlementConfigInput;
}> {
  const [escrowPort, providerPort] = [await freePort(), await freePort()];
  return {
    escrow: {
      ilpAddress: 'test.m2m.alice',
      listen: { host: '127.0.0.1', port: escrowPort },
      adminToken: ESCROW_ADMIN_TOKEN,
      peers: {
        prov: {
          url: `http://127.0.0.1:${providerPort}`,
          ilpAddress: 'test.m2m.prov',
          token: TOKEN_TO_PROVIDER,
          acceptToken: TOKEN_TO_ESCROW,
        },
      },
      ledger: { sqlite: join(dir, 'escrow', 'ledger.db') },
      journal: join(dir, 'escrow', 'settlement.db'),
      tickMs: 50,
    },
    providerSection: {
      ilpAddress: 'test.m2m.prov',
      listen: { host: '127.0.0.1', port: providerPort },
      peers: {
        alice: {
          url: `http://127.0.0.1:${escrowPort}`,
          ilpAddress: 'test.m2m.alice',
          token: TOKEN_TO_ESCROW,
          acceptToken: TOKEN_TO_PROVIDER,
        },
      },
      ledger: { sqlite: 'provider/ledger.db' },
      journal: 'provider/settlement.db',
      tickMs: 50,
    },
  };
}

/** A VES sync dir set up as `m2m sync init` + `m2m sync keys generate` would (no sequencer). */
export function testSyncDir(dir: string): ResolvedSyncConfig & { publicKey: Uint8Array } {
  const config = saveSyncConfig(dir, {
    sequencerUrl: 'http://127.0.0.1:1/api',
    tenantId: randomUUID(),
    storeId: randomUUID(),
    agentId: randomUUID(),
    keyId: 1,
    agentKeyFile: 'agent.key',
    outbox: 'outbox.db',
    batchSize: 100,
  });
  return { ...config, publicKey: createAgentKey(config.agentKeyPath).publicKey };
}
