import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSecretKey } from 'nostr-tools/pure';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForJob } from '../../node/customer/follow.js';
import { payForJob } from '../../node/customer/pay.js';
import { prepareJob, publishJob } from '../../node/customer/request.js';
import { type CustomerJob, CustomerStore } from '../../node/customer/store.js';
import { RelayPool } from '../../node/nostr/pool.js';
import { resolveProviderConfig } from '../../node/provider/config.js';
import { type Provider, startProvider } from '../../node/provider/provider.js';
import { paymentStatus } from '../../node/settlement/admin-client.js';
import { SettlementNode } from '../../node/settlement/node.js';
import { Outbox } from '../../node/ves/outbox.js';
import { startTestRelay } from '../support/relay.js';
import {
  ESCROW_ADMIN_TOKEN,
  escrowBalances,
  marketSettlement,
  requireNativeProver,
  testSyncDir,
  waitUntil,
} from '../support/settlement.js';

/**
 * The market with money: a real relay, the provider node with a settlement node inside, the
 * customer's escrow (a second settlement node), the customer library. The escrow holds the bid
 * from the request until the provider's proof verifies; the provider is paid over ILP-over-HTTP
 * and records job.proved and payment.settled in its VES outbox.
 */
const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const ADMIN = ESCROW_ADMIN_TOKEN;
const BID = 5_000n;

const dir = mkdtempSync(join(tmpdir(), 'm2m-paid-market-'));
const cleanup: (() => unknown)[] = [];
let relayUrl: string;
let provider: Provider;
let escrow: SettlementNode;
let pool: RelayPool;
let customers: CustomerStore;
let providerOutbox: string;
const customerKey = generateSecretKey();

beforeAll(async () => {
  requireNativeProver();
  const relay = await startTestRelay();
  cleanup.push(() => relay.close());
  relayUrl = relay.url;
  const settlement = await marketSettlement(dir);
  escrow = await SettlementNode.start(settlement.escrow);
  cleanup.push(() => escrow.close());
  await escrow.deposit({ role: 'buyer', owner: 'alice', amount: 100_000n });
  await escrow.deposit({ role: 'stake', owner: 'prov', amount: 100_000n });

  providerOutbox = testSyncDir(join(dir, 'provider-sync')).outboxPath;
  const config = resolveProviderConfig(
    {
      relays: [relayUrl],
      price: 1000,
      dataDir: 'provider',
      maxProvingTime: 120,
      ves: { syncDir: 'provider-sync' },
      settlement: settlement.providerSection,
    },
    dir,
  );
  provider = await startProvider(config);
  cleanup.push(() => provider.close());
  pool = new RelayPool([relayUrl]);
  cleanup.push(() => pool.close());
  customers = new CustomerStore(join(dir, 'customer', 'jobs.db'));
  cleanup.push(() => customers.close());
}, 60_000);

afterAll(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
  rmSync(dir, { recursive: true, force: true });
});

async function requestJob(): Promise<CustomerJob> {
  const job = prepareJob(
    {
      planText: read('plans/sensor-summary.yaml'),
      planSource: 'plans/sensor-summary.yaml',
      data: JSON.parse(read('plans/data/sensor-summary.json')) as unknown,
      backend: 'miden',
      maxProvingTimeSec: 120,
      bidMsats: BID,
      providers: [provider.pubkey],
      relays: [relayUrl],
      encrypt: false,
    },
    customerKey,
  );
  expect((await publishJob(customers, pool, job)).confirmed).toBe(true);
  return job;
}

const admin = () => ({ url: escrow.url, token: ADMIN });
const pay = (job: CustomerJob) =>
  payForJob(job, { ...admin(), provider: 'prov', buyer: 'alice', deadlineSec: 180 });

const outboxTypes = () => {
  const outbox = Outbox.open(providerOutbox);
  try {
    return outbox.entries().map((e) => [e.envelope.event_type, e.envelope.entity_id]);
  } finally {
    outbox.close();
  }
};

describe('a paid job', () => {
  it('PREPARE with the request, proof, verification, FULFILL: the provider is paid', async () => {
    const before = await escrowBalances(escrow, 'alice', 'prov');
    const job = await requestJob();
    const held = await pay(job);
    expect(held).toMatchObject({ paymentId: job.requestId, state: 'prepared', amount: '5000' });
    // The customer checks the proof itself too.
    const outcome = await waitForJob(pool, job, { timeoutMs: 150_000 });
    expect(outcome.outcome).toBe('verified');
    if (outcome.outcome !== 'verified') return;
    expect(outcome.verdict.valid).toBe(true);
    await waitUntil(() => escrow.escrow.get(job.requestId)?.state === 'fulfilled', 30_000);
    expect(await paymentStatus(admin(), job.requestId)).toMatchObject({
      state: 'fulfilled',
      verdict: { valid: true },
    });
    const after = await escrowBalances(escrow, 'alice', 'prov');
    expect(after.revenue.posted - before.revenue.posted).toBe(BID);
    expect(before.buyer.posted - after.buyer.posted).toBe(BID);
    expect(after.stake).toEqual(before.stake);
    await waitUntil(
      () => provider.payments?.node.provider.get(job.requestId)?.state === 'fulfilled',
    );
    await waitUntil(
      () => outboxTypes().some(([type, id]) => type === 'payment.settled' && id === job.requestId),
      60_000,
    );
    expect(outboxTypes()).toEqual(
      expect.arrayContaining([
        ['job.proved', job.requestId],
        ['payment.settled', job.requestId],
      ]),
    );
    // Asking again changes nothing (the payment id is the job request id).
    expect(await pay(job)).toMatchObject({ state: 'fulfilled' });
  }, 200_000);

  it('a PREPARE that arrives after the result is paid from the stored 6900', async () => {
    const job = await requestJob();
    const outcome = await waitForJob(pool, job, { timeoutMs: 150_000 });
    expect(outcome.outcome).toBe('verified');
    await pay(job);
    await waitUntil(() => escrow.escrow.get(job.requestId)?.state === 'fulfilled', 30_000);
  }, 200_000);

  it('the admin API refuses a wrong token and an unknown provider with typed errors', async () => {
    const job = await requestJob();
    await expect(
      payForJob(job, {
        url: escrow.url,
        token: 'wrong-token-0123456789',
        provider: 'prov',
        buyer: 'alice',
        deadlineSec: 60,
      }),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(
      payForJob(job, { ...admin(), provider: 'nobody', buyer: 'alice', deadlineSec: 60 }),
    ).rejects.toMatchObject({ code: 'PEER_UNKNOWN' });
    expect(escrow.escrow.get(job.requestId)).toBeUndefined();
  }, 60_000);
});
