import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bridgeSettlementToVes } from '../../node/settlement/ves-bridge.js';
import { Outbox } from '../../node/ves/outbox.js';
import { type MarketRecorder, openMarketRecorder } from '../../node/ves/recorder.js';
import { verifyVesEvent } from '../../node/ves/sign.js';
import {
  type NodePair,
  type ProvenJob,
  proveSensorSummary,
  startNodePair,
  tamperedEnvelope,
  testSyncDir,
} from '../support/settlement.js';

/**
 * Settlement facts become signed VES market events in the sync outbox: a real escrow and provider
 * over ILP-over-HTTP, a real proof, a real sync dir (config, agent key, SQLite outbox).
 */
let job: ProvenJob;
let pair: NodePair;
let dir: string;
let publicKey: Uint8Array;
let recorder: MarketRecorder;

beforeAll(async () => {
  job = await proveSensorSummary();
  dir = mkdtempSync(join(tmpdir(), 'm2m-ves-bridge-'));
  publicKey = testSyncDir(dir).publicKey;
  const opened = openMarketRecorder(dir);
  if (opened === undefined) throw new Error('the sync dir was not recognised');
  recorder = opened;
  pair = await startNodePair();
  await pair.escrow.deposit({ role: 'buyer', owner: 'alice', amount: 1_000n });
  await pair.escrow.deposit({ role: 'stake', owner: 'prov', amount: 1_000n });
}, 120_000);

afterAll(async () => {
  recorder?.close();
  await pair?.close();
});

async function pay(id: string) {
  const held = pair.provider.events.next('payment.held', id, 10_000);
  await pair.escrow.escrow.pay({
    paymentId: id,
    provider: 'prov',
    buyer: 'alice',
    amount: 100n,
    proofDeadline: Date.now() + 30_000,
    expect: job.expect,
  });
  await held;
}

const outboxEvents = () => {
  const outbox = Outbox.open(recorder.outboxPath);
  try {
    return outbox.entries().map((e) => e.envelope);
  } finally {
    outbox.close();
  }
};

describe('settlement events to VES', () => {
  it('records payment.settled and provider.slashed, signed, once each, also after a replay', async () => {
    const errors: string[] = [];
    const stop = await bridgeSettlementToVes(pair.escrow, recorder, {
      onError: (_e, code, message) => errors.push(`${code}: ${message}`),
    });
    const good = `good-${randomUUID()}`;
    const bad = `bad-${randomUUID()}`;
    await pay(good);
    await pair.provider.provider.deliverProof(good, { envelope: job.envelope, output: job.output });
    await pay(bad);
    await pair.provider.provider.deliverProof(bad, { envelope: tamperedEnvelope(job.envelope) });
    // The bridge records asynchronously; wait until both facts are in the outbox.
    for (let i = 0; i < 600 && outboxEvents().length < 2; i++)
      await new Promise((r) => setTimeout(r, 50));
    stop();
    const events = outboxEvents();
    expect({ errors, recorded: events.length }).toEqual({ errors: [], recorded: 2 });
    expect(events.map((e) => [e.event_type, e.entity_id])).toEqual([
      ['payment.settled', good],
      ['provider.slashed', 'prov'],
    ]);
    for (const envelope of events) expect(verifyVesEvent(envelope, publicKey).ok).toBe(true);
    expect(events[0]?.payload).toMatchObject({ amount: '100', jobId: good, asset: 'msat' });
    expect(events[1]?.payload).toMatchObject({ amount: '50', jobId: bad });

    // A restart replays the whole journal: the recorder is idempotent, nothing is appended twice.
    const stopAgain = await bridgeSettlementToVes(pair.escrow, recorder);
    stopAgain();
    expect(outboxEvents()).toHaveLength(2);
  }, 60_000);

  it('records nothing when no sync dir is set up', () => {
    expect(openMarketRecorder(mkdtempSync(join(tmpdir(), 'm2m-no-sync-')))).toBeUndefined();
  });
});
