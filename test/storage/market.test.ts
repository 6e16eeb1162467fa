import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { generateSecretKey } from 'nostr-tools/pure';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlossomServer } from '../../node/blossom/server.js';
import { waitForJob } from '../../node/customer/follow.js';
import { payForJob } from '../../node/customer/pay.js';
import { prepareJob, publishJob } from '../../node/customer/request.js';
import { CustomerStore } from '../../node/customer/store.js';
import { verifyJobResult } from '../../node/customer/verify.js';
import { parseJobResult } from '../../node/dvm/result.js';
import { RelayPool } from '../../node/nostr/pool.js';
import { resolveProviderConfig } from '../../node/provider/config.js';
import {
  type Provider,
  type ProviderLogEntry,
  startProvider,
} from '../../node/provider/provider.js';
import type { RelayServer } from '../../node/relay/server.js';
import { SettlementNode } from '../../node/settlement/node.js';
import { m2m } from '../dvm-market/processes.js';
import { type KuboDaemon, startKubo } from '../support/kubo.js';
import { connectClient, query, startTestRelay } from '../support/relay.js';
import { ESCROW_ADMIN_TOKEN, marketSettlement, waitUntil } from '../support/settlement.js';
import { startTestBlossom, tempDir } from '../support/storage.js';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const sensor = {
  planText: read('plans/sensor-summary.yaml'),
  data: JSON.parse(read('plans/data/sensor-summary.json')) as Record<string, unknown[]>,
  golden: JSON.parse(read('plans/golden/sensor-summary.json')) as { output: unknown[] },
};

/**
 * The market with proofs by reference: a provider whose proofs (~100 KB) are above its inline
 * threshold uploads them and publishes `proof-ref`; the customer fetches and verifies. With the
 * Blossom server stopped, the provider falls back to IPFS (Kubo) and the job still ends VALID and
 * settles: the customer's escrow pays the provider over ILP once the proof verifies, and the
 * provider pins the settled job's proof.
 */
const ADMIN = ESCROW_ADMIN_TOKEN;
describe('market jobs with proof-ref (Blossom first, IPFS fallback)', () => {
  const dir = tempDir('storage-market');
  const customerKey = generateSecretKey();
  let relay: RelayServer;
  let kubo: KuboDaemon;
  let blossom: BlossomServer;
  let provider: Provider;
  let pool: RelayPool;
  let customers: CustomerStore;
  let escrow: SettlementNode;
  const log: ProviderLogEntry[] = [];
  let first: Awaited<ReturnType<typeof runJob>> | undefined;

  beforeAll(async () => {
    [relay, kubo, blossom] = await Promise.all([startTestRelay(), startKubo(), startTestBlossom()]);
    const settlement = await marketSettlement(dir);
    escrow = await SettlementNode.start(settlement.escrow);
    await escrow.deposit({ role: 'buyer', owner: 'alice', amount: 100_000n });
    await escrow.deposit({ role: 'stake', owner: 'prov', amount: 100_000n });
    const config = resolveProviderConfig(
      {
        settlement: settlement.providerSection,
        relays: [relay.url],
        price: 1000,
        dataDir: 'provider',
        maxProvingTime: 120,
        proofStorage: {
          inlineMaxBytes: 1024,
          blossom: { servers: [blossom.url] },
          ipfs: { kubo: kubo.api },
          gateways: [kubo.gateway],
        },
      },
      dir,
    );
    provider = await startProvider(config, { log: (e) => log.push(e) });
    pool = new RelayPool([relay.url]);
    customers = new CustomerStore(join(dir, 'customer', 'jobs.db'));
  }, 90_000);
  afterAll(async () => {
    await provider?.close();
    await escrow?.close();
    pool?.close();
    customers?.close();
    await blossom?.close();
    await relay?.close();
    await kubo?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function runJob(paid = false) {
    const job = prepareJob(
      {
        planText: sensor.planText,
        planSource: 'sensor-summary',
        data: sensor.data,
        backend: 'miden',
        maxProvingTimeSec: 120,
        bidMsats: 5000n,
        providers: [provider.pubkey],
        relays: [relay.url],
        encrypt: false,
      },
      customerKey,
    );
    expect((await publishJob(customers, pool, job)).confirmed).toBe(true);
    if (paid)
      await payForJob(job, {
        url: escrow.url,
        token: ADMIN,
        provider: 'prov',
        buyer: 'alice',
        deadlineSec: 180,
      });
    const outcome = await waitForJob(pool, job, { timeoutMs: 120_000 });
    const client = await connectClient(relay.url);
    const [event] = await query(client, [{ kinds: [6900], '#e': [job.requestId] }]);
    client.close();
    return { job, outcome, result: parseJobResult(event) };
  }

  it('a proof above the threshold travels as a Blossom proof-ref and verifies VALID', async () => {
    first = await runJob();
    const { outcome, result } = first;
    expect(outcome).toMatchObject({ outcome: 'verified', verdict: { valid: true } });
    if (outcome.outcome !== 'verified') return;
    expect(outcome.verdict.output).toEqual(sensor.golden.output);
    expect(result.proof).toMatchObject({
      type: 'ref',
      uri: expect.stringMatching(
        new RegExp(
          `^blossom:[0-9a-f]{64}\\?server=${encodeURIComponent(blossom.url).replace(/[.]/g, '\\.')}$`,
        ),
      ),
      sha256: expect.stringMatching(/^sha256:/),
    });
    expect(log.find((e) => e.event === 'proof-uploaded')).toMatchObject({ store: 'blossom' });
    expect(provider.proofs?.list()).toHaveLength(1);
    expect(provider.proofs?.list()[0]?.jobs).toEqual([{ jobId: result.requestId, settled: false }]);
  }, 180_000);

  it('with the Blossom server stopped the provider falls back to IPFS and the job still ends VALID and settles', async () => {
    await blossom.close();
    const { job, outcome, result } = await runJob(true);
    expect(outcome).toMatchObject({ outcome: 'verified', verdict: { valid: true } });
    expect(result.proof).toMatchObject({
      type: 'ref',
      uri: expect.stringMatching(/^ipfs:bafk[a-z2-7]+\?gateway=/),
    });
    expect(log.filter((e) => e.event === 'proof-store-fallback')).toEqual([
      expect.objectContaining({ store: 'blossom', code: 'STORAGE_UNAVAILABLE' }),
    ]);
    expect(log.filter((e) => e.event === 'proof-uploaded').at(-1)).toMatchObject({
      store: 'ipfs:kubo',
    });
    // Settled: the escrow verified the proof and paid; the provider pinned the job's proof.
    await waitUntil(() => escrow.escrow.get(job.requestId)?.state === 'fulfilled', 30_000);
    await waitUntil(
      () => provider.payments?.node.provider.get(job.requestId)?.state === 'fulfilled',
    );
    const stored = provider.proofs
      ?.list()
      .find((p) => p.jobs.some((j) => j.jobId === job.requestId));
    expect(stored).toMatchObject({ pinned: true, jobs: [{ jobId: job.requestId, settled: true }] });
    // The first job's proof lived on the stopped server only: a verdict, not a crash.
    if (first === undefined) throw new Error('needs the first job');
    expect(await verifyJobResult(first.job, first.result.event, undefined)).toMatchObject({
      valid: false,
      code: 'PROOF_UNAVAILABLE',
      reason: expect.stringMatching(/STORAGE_UNAVAILABLE/),
    });
    // Bytes that are not what the proof-ref pins (a store or fetcher that lies).
    const swapped = await verifyJobResult(job, result.event, undefined, {
      fetchProof: async () => new Uint8Array(120_000),
    });
    expect(swapped).toMatchObject({ valid: false, code: 'PROOF_REF_MISMATCH' });
    expect(log.filter((e) => e.event === 'error')).toEqual([]);
  }, 180_000);

  it('`m2m job wait` fetches the referenced proof and prints VALID (exit 0)', async () => {
    const customerDir = join(dir, 'cli-customer');
    const request = await m2m(
      'job',
      'request',
      '--plan',
      new URL('plans/sensor-summary.yaml', root).pathname,
      '--data',
      new URL('plans/data/sensor-summary.json', root).pathname,
      '--bid',
      '5000',
      '--zkvm',
      'miden',
      '--max-proving-time',
      '120',
      '--provider',
      provider.pubkey,
      '--relay',
      relay.url,
      '--data-dir',
      customerDir,
    );
    expect(request.code, request.stderr).toBe(0);
    const requestId = request.stdout.trim();
    const wait = await m2m(
      'job',
      'wait',
      requestId,
      '--data-dir',
      customerDir,
      '--json',
      '--timeout',
      '120',
    );
    expect(wait.code, wait.stderr).toBe(0);
    expect(JSON.parse(wait.stdout)).toMatchObject({
      ok: true,
      valid: true,
      provider: provider.pubkey,
    });
    expect(log.filter((e) => e.event === 'proof-uploaded').at(-1)).toMatchObject({
      requestId,
      store: 'ipfs:kubo',
    });
  }, 180_000);
});
