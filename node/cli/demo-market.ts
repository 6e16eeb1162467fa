import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSecretKey } from 'nostr-tools/pure';
import { M2mError } from '../../zkvm/errors.js';
import { waitForJob } from '../customer/follow.js';
import { payForJob } from '../customer/pay.js';
import { prepareJob, publishJob } from '../customer/request.js';
import { CustomerStore } from '../customer/store.js';
import { freePort } from '../net.js';
import { RelayPool } from '../nostr/pool.js';
import { resolveProviderConfig } from '../provider/config.js';
import { startProvider } from '../provider/provider.js';
import { resolveRelayConfig } from '../relay/config.js';
import { startRelay } from '../relay/server.js';
import { startSequencer } from '../sequencer/server.js';
import { accountId } from '../settlement/accounts.js';
import { SettlementNode } from '../settlement/node.js';
import { createProofFetcher } from '../storage/fetch.js';
import { SequencerClient } from '../sync/client.js';
import { createAgentKey, loadAgentKey, saveSyncConfig } from '../sync/config.js';
import { pushOutbox } from '../sync/push.js';
import { hexToBytes } from '../ves/hash.js';
import { vesVerifyInclusion } from '../ves/merkle.js';
import { Outbox } from '../ves/outbox.js';
import { openMarketRecorder } from '../ves/recorder.js';
import { signKeyRegistration } from '../ves/sign.js';

/**
 * The main job end to end on embedded defaults, in one process: the embedded relay, a provider
 * node (embedded Blossom server and Helia node for proofs, a settlement node, a VES outbox), the
 * customer's escrow (a second settlement node), the customer, and the embedded VES sequencer.
 * A customer requests a plan proof and its escrow holds the bid; the provider proves it, uploads
 * the proof and publishes the 6900 with a `proof-ref`; the customer fetches and verifies it; the
 * escrow verifies it too and pays over ILP; both sides' market facts are pushed to the sequencer,
 * committed to a Merkle root, and one event's inclusion proof is checked.
 */
export interface MarketDemoOptions {
  plansDir: string;
  plan: string;
  dir?: string;
  bidMsats?: bigint;
  print: (line: string) => void;
}

export interface MarketDemoReport {
  requestId: string;
  valid: boolean;
  proofRef: string | undefined;
  payment: string;
  providerRevenue: string;
  vesEvents: number;
  commitmentRoot: string;
  inclusionVerified: boolean;
}

const ADMIN = randomUUID();
const TO_PROVIDER = randomUUID();
const TO_ESCROW = randomUUID();

export async function runMarketDemo(options: MarketDemoOptions): Promise<MarketDemoReport> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'm2m-demo-'));
  mkdirSync(dir, { recursive: true });
  const bid = options.bidMsats ?? 5_000n;
  const { print } = options;
  const started = Date.now();
  const step = (text: string) => print(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${text}`);
  const closers: (() => unknown)[] = [];
  try {
    const relay = await startRelay(
      resolveRelayConfig({}, { host: '127.0.0.1', port: 0, db: join(dir, 'relay.db') }),
    );
    closers.push(() => relay.close());
    const sequencer = await startSequencer({
      port: 0,
      store: { kind: 'sqlite', path: join(dir, 'sequencer.db') },
      apiKeys: ['demo-key'],
    });
    closers.push(() => sequencer.close());
    step(`relay ${relay.url}, VES sequencer ${sequencer.url}`);

    // One VES stream (tenant, store); customer and provider are two agents with their own keys.
    const tenantId = randomUUID();
    const storeId = randomUUID();
    const client = new SequencerClient({ baseUrl: sequencer.url, apiKey: 'demo-key' });
    const syncDir = async (name: string) => {
      const config = saveSyncConfig(join(dir, name), {
        sequencerUrl: sequencer.url,
        apiKey: 'demo-key',
        tenantId,
        storeId,
        agentId: randomUUID(),
        keyId: 1,
        agentKeyFile: 'agent.key',
        outbox: 'outbox.db',
        batchSize: 100,
      });
      createAgentKey(config.agentKeyPath);
      await client.registerKey(
        signKeyRegistration(
          { tenantId, agentId: config.agentId, keyId: 1 },
          loadAgentKey(config.agentKeyPath),
        ),
      );
      return config;
    };
    const customerSync = await syncDir('customer/sync');
    const providerSync = await syncDir('provider-sync');

    const [escrowPort, providerPort] = [await freePort(), await freePort()];
    const escrow = await SettlementNode.start({
      ilpAddress: 'test.m2m.customer',
      listen: { host: '127.0.0.1', port: escrowPort },
      adminToken: ADMIN,
      peers: {
        prov: {
          url: `http://127.0.0.1:${providerPort}`,
          ilpAddress: 'test.m2m.provider',
          token: TO_PROVIDER,
          acceptToken: TO_ESCROW,
        },
      },
      ledger: { sqlite: join(dir, 'escrow', 'ledger.db') },
      journal: join(dir, 'escrow', 'settlement.db'),
      tickMs: 100,
    });
    closers.push(() => escrow.close());
    await escrow.deposit({ role: 'buyer', owner: 'customer', amount: bid * 10n });
    await escrow.deposit({ role: 'stake', owner: 'prov', amount: bid * 10n });
    step(
      `escrow ${escrow.url}: customer funded with ${bid * 10n} msats, provider staked ${bid * 10n}`,
    );

    const providerConfig = resolveProviderConfig(
      {
        relays: [relay.url],
        price: 1000,
        dataDir: 'provider',
        maxProvingTime: 300,
        proofStorage: {
          inlineMaxBytes: 16 * 1024,
          blossom: { embedded: { port: 0 } },
          ipfs: 'helia',
        },
        settlement: {
          ilpAddress: 'test.m2m.provider',
          listen: { host: '127.0.0.1', port: providerPort },
          peers: {
            customer: {
              url: escrow.url,
              ilpAddress: 'test.m2m.customer',
              token: TO_ESCROW,
              acceptToken: TO_PROVIDER,
            },
          },
          ledger: { sqlite: 'provider/ledger.db' },
          journal: 'provider/settlement.db',
          tickMs: 100,
        },
        ves: { syncDir: 'provider-sync' },
      },
      dir,
    );
    const provider = await startProvider(providerConfig, {
      log: (entry) => {
        if (entry.event === 'proving') step('provider: proving on the Miden backend');
        if (entry.event === 'proof-uploaded')
          step(`provider: proof uploaded (${entry.bytes} bytes) -> ${entry.ref}`);
        if (entry.event === 'payment' && typeof entry.delivered === 'string')
          step(`provider: proof delivered to the escrow: ${entry.delivered}`);
      },
    });
    closers.push(() => provider.close());
    step(`provider ${provider.npub} (Blossom ${provider.proofs?.server?.url})`);

    const pool = new RelayPool([relay.url]);
    closers.push(() => pool.close());
    const customers = new CustomerStore(join(dir, 'customer', 'jobs.db'));
    closers.push(() => customers.close());
    const planFile = join(options.plansDir, `${options.plan}.yaml`);
    const job = prepareJob(
      {
        planText: readFileSync(planFile, 'utf8'),
        planSource: planFile,
        data: JSON.parse(
          readFileSync(join(options.plansDir, 'data', `${options.plan}.json`), 'utf8'),
        ) as unknown,
        backend: 'miden',
        maxProvingTimeSec: 300,
        bidMsats: bid,
        providers: [provider.pubkey],
        relays: [relay.url],
        encrypt: false,
      },
      generateSecretKey(),
    );
    const published = await publishJob(customers, pool, job);
    if (!published.confirmed)
      throw new M2mError('DEMO_FAILED', 'the relay did not confirm the job request');
    const held = await payForJob(job, {
      url: escrow.url,
      token: ADMIN,
      provider: 'prov',
      buyer: 'customer',
      deadlineSec: 600,
    });
    step(
      `customer: job ${job.requestId} requested; escrow holds ${held.amount} msats (${held.state})`,
    );
    const recorder = openMarketRecorder(customerSync.dir);
    closers.push(() => recorder?.close());
    await recorder?.record('job.requested', {
      jobId: job.requestId,
      customer: job.customer,
      planHash: job.planHash,
      bid: { amount: bid, asset: 'msat' },
    });

    const outcome = await waitForJob(pool, job, {
      timeoutMs: 600_000,
      fetchProof: createProofFetcher({ dataDir: join(dir, 'customer') }),
      onFeedback: (f) => step(`customer: feedback ${f.status}${f.info ? `: ${f.info}` : ''}`),
    });
    if (outcome.outcome !== 'verified')
      throw new M2mError('DEMO_FAILED', `the job was ${outcome.outcome}`);
    const { verdict } = outcome;
    step(
      `customer: ${verdict.valid ? 'VALID' : `INVALID ${verdict.code}: ${verdict.reason}`} proof (verified in ${verdict.verifyMs.toFixed(1)} ms)`,
    );
    await recorder?.record('job.verified', {
      jobId: job.requestId,
      verifier: job.customer,
      valid: verdict.valid,
    });

    for (let i = 0; i < 300; i++) {
      const state = escrow.escrow.get(job.requestId)?.state;
      if (state === 'fulfilled' || state === 'rejected' || state === 'expired') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const payment = escrow.escrow.get(job.requestId)?.state ?? 'unknown';
    const [revenue] = await escrow.ledger.lookupAccounts([
      accountId('revenue', 'prov', escrow.config.assetLedger),
    ]);
    const providerRevenue =
      revenue === undefined ? '0' : (revenue.credits_posted - revenue.debits_posted).toString();
    step(`escrow: payment ${payment}; provider revenue ${providerRevenue} msats`);
    // The provider records payment.settled as the FULFILL is acknowledged; give it a moment.
    for (let i = 0; i < 50; i++) {
      if (provider.payments?.node.provider.get(job.requestId)?.state === 'fulfilled') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await new Promise((resolve) => setTimeout(resolve, 200));

    let vesEvents = 0;
    for (const sync of [customerSync, providerSync]) {
      const outbox = Outbox.open(sync.outboxPath);
      try {
        const report = await pushOutbox(outbox, client, { agentId: sync.agentId });
        vesEvents += report.sequenced;
      } finally {
        outbox.close();
      }
    }
    const head = await client.head({ tenantId, storeId });
    const commitment = (await (
      await fetch(`${sequencer.url}/v1/ves/commitments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': 'demo-key' },
        body: JSON.stringify({
          tenant_id: tenantId,
          store_id: storeId,
          sequence_start: 1,
          sequence_end: head,
        }),
      })
    ).json()) as { events_root: string; batch_id: string };
    const proof = (await (
      await fetch(
        `${sequencer.url}/v1/ves/proofs/1?tenant_id=${tenantId}&store_id=${storeId}&batch_id=${commitment.batch_id}`,
        { headers: { 'x-api-key': 'demo-key' } },
      )
    ).json()) as { leaf_hash: string; leaf_index: number; proof_path: string[] };
    const inclusionVerified = vesVerifyInclusion({
      leafHash: hexToBytes(proof.leaf_hash.slice(2)),
      leafIndex: proof.leaf_index,
      proofPath: proof.proof_path.map((p) => hexToBytes(p.slice(2))),
      root: hexToBytes(commitment.events_root.slice(2)),
    });
    step(
      `VES: ${vesEvents} market events sequenced 1..${head}, committed to ${commitment.events_root.slice(0, 18)}…; inclusion proof of event 1 ${inclusionVerified ? 'verifies' : 'FAILS'}`,
    );
    return {
      requestId: job.requestId,
      valid: verdict.valid,
      proofRef: provider.proofs?.list()[0]?.uri,
      payment,
      providerRevenue,
      vesEvents,
      commitmentRoot: commitment.events_root,
      inclusionVerified,
    };
  } finally {
    for (const close of closers.reverse()) await close();
  }
}
