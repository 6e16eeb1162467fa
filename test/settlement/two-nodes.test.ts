import { randomBytes } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { IlpHttpClient } from '../../node/ilp/http.js';
import { deserializeReply, sha256 } from '../../node/ilp/packets.js';
import { transferId } from '../../node/settlement/accounts.js';
import type { SettlementEvent } from '../../node/settlement/events.js';
import {
  escrowBalances,
  type NodePair,
  type ProvenJob,
  proveSensorSummary,
  startNodePair,
  tamperedEnvelope,
  waitUntil,
} from '../support/settlement.js';

/**
 * Two real settlement nodes over ILP-over-HTTP on loopback (the buyer's escrow and a provider),
 * SQLite ledgers and journals in temp dirs, and a real STARK proof of plans/sensor-summary.yaml.
 */
let job: ProvenJob;
beforeAll(async () => {
  job = await proveSensorSummary();
}, 120_000);

let pair: NodePair | undefined;
afterEach(async () => {
  await pair?.close();
  pair = undefined;
});

const BUYER = 'alice';
const PROVIDER = 'prov';

async function fundedPair(settings: Parameters<typeof startNodePair>[0] = {}) {
  pair = await startNodePair(settings);
  await pair.escrow.deposit({ role: 'buyer', owner: BUYER, amount: 1_000n });
  await pair.escrow.deposit({ role: 'stake', owner: PROVIDER, amount: 1_000n });
  return pair;
}

const collect = (p: NodePair) => {
  const seen: SettlementEvent[] = [];
  p.escrow.events.on('event', (e) => seen.push(e));
  return seen;
};

async function pay(p: NodePair, deadlineMs = 30_000, id = randomBytes(8).toString('hex')) {
  const held = p.provider.events.next('payment.held', id, 10_000);
  const record = await p.escrow.escrow.pay({
    paymentId: id,
    provider: PROVIDER,
    buyer: BUYER,
    amount: 100n,
    proofDeadline: Date.now() + deadlineMs,
    expect: job.expect,
  });
  expect(record.state).toBe('prepared');
  await held;
  return id;
}

const expectTotal = async (p: NodePair, deposited: bigint) => {
  const b = await escrowBalances(p.escrow, BUYER, PROVIDER);
  // Double entry: everything held inside equals what came in from outside.
  expect(b.buyer.posted + b.revenue.posted + b.stake.posted + b.fees.posted).toBe(deposited);
  expect(-b.external.posted).toBe(deposited);
  return b;
};

describe('verification before fulfil', () => {
  it('a valid proof: FULFILL over HTTP, the pending transfer is posted, the bond released', async () => {
    const p = await fundedPair();
    const seen = collect(p);
    const id = await pay(p);
    const during = await escrowBalances(p.escrow, BUYER, PROVIDER);
    // The buyer's 100 is held; the provider's 50 bond is pending towards the buyer.
    expect(during.buyer).toEqual({ posted: 1_000n, pending: -50n });
    expect(during.stake.pending).toBe(-50n);
    expect(
      await p.provider.provider.deliverProof(id, { envelope: job.envelope, output: job.output }),
    ).toEqual({
      status: 'fulfilled',
    });
    const record = p.escrow.escrow.get(id);
    expect(record?.state).toBe('fulfilled');
    const reply = deserializeReply(record?.reply as Buffer);
    expect(reply.type).toBe('fulfill');
    expect(
      reply.type === 'fulfill' && sha256(reply.fulfillment).equals(record?.condition as Buffer),
    ).toBe(true);
    const [posted] = await p.escrow.ledger.lookupTransfers([transferId(id, 'settle')]);
    expect(posted?.amount).toBe(100n);
    const after = await expectTotal(p, 2_000n);
    expect(after.buyer).toEqual({ posted: 900n, pending: 0n });
    expect(after.revenue).toEqual({ posted: 100n, pending: 0n });
    expect(after.stake).toEqual({ posted: 1_000n, pending: 0n });
    expect(p.provider.provider.get(id)?.state).toBe('fulfilled');
    expect(seen.map((e) => e.type)).toEqual([
      'payment.prepared',
      'payment.released',
      'payment.fulfilled',
    ]);
    // The stream resumes from an offset: the journal holds the same events in order.
    const stored = p.escrow.journal.eventsSince(0).filter((e) => e.paymentId === id);
    expect(stored.map((e) => e.seq)).toEqual(seen.map((e) => e.seq));
    const overHttp = await fetch(`${p.escrow.url}/settlement/v1/events?since=${seen[0]?.seq}`, {
      headers: { authorization: 'Bearer provider-to-escrow-token-0123456789' },
    });
    const { events } = (await overHttp.json()) as { events: SettlementEvent[] };
    expect(events.map((e) => e.type)).toEqual(['payment.released', 'payment.fulfilled']);
    expect(events[1]?.data).toMatchObject({ amount: '100', provider: PROVIDER, buyer: BUYER });
    expect((await fetch(`${p.escrow.url}/settlement/v1/events`)).status).toBe(403);
  });

  it('an invalid proof (one flipped byte): REJECT F99, transfer voided, stake slashed to the buyer', async () => {
    const p = await fundedPair();
    const seen = collect(p);
    const id = await pay(p);
    const result = await p.provider.provider.deliverProof(id, {
      envelope: tamperedEnvelope(job.envelope),
    });
    expect(result).toMatchObject({ status: 'rejected', code: 'PROOF_INVALID' });
    const record = p.escrow.escrow.get(id);
    expect(record?.state).toBe('rejected');
    const reply = deserializeReply(record?.reply as Buffer);
    expect(reply).toMatchObject({ type: 'reject', code: 'F99', triggeredBy: 'test.m2m.escrow' });
    expect(await p.escrow.ledger.lookupTransfers([transferId(id, 'settle')])).toEqual([]);
    const [refund] = await p.escrow.ledger.lookupTransfers([transferId(id, 'refund')]);
    expect((refund?.flags ?? 0) & 8).toBe(8); // void_pending_transfer
    const after = await expectTotal(p, 2_000n);
    expect(after.buyer).toEqual({ posted: 1_050n, pending: 0n });
    expect(after.revenue.posted).toBe(0n);
    expect(after.stake).toEqual({ posted: 950n, pending: 0n });
    expect(seen.map((e) => e.type)).toEqual([
      'payment.prepared',
      'payment.rejected',
      'provider.slashed',
    ]);
    expect(p.provider.provider.get(id)?.state).toBe('rejected');
    // The provider never learned the fulfillment, so it cannot fulfil afterwards.
    expect(p.provider.provider.get(id)?.fulfillment).toBeNull();
  });

  it('a valid proof with a wrong delivered output: REJECT, voided, slashed', async () => {
    const p = await fundedPair({ slash: { bps: 10_000, to: 'fees' } });
    const id = await pay(p);
    const output = JSON.parse(JSON.stringify(job.output)) as Record<string, unknown>[];
    const first = output[0] as Record<string, unknown>;
    const key = Object.keys(first).find((k) => typeof first[k] === 'string') as string;
    first[key] = `${first[key]}0`;
    const result = await p.provider.provider.deliverProof(id, { envelope: job.envelope, output });
    expect(result).toMatchObject({ status: 'rejected' });
    const after = await expectTotal(p, 2_000n);
    expect(after.buyer.posted).toBe(1_000n);
    expect(after.stake.posted).toBe(900n);
    expect(after.fees.posted).toBe(100n);
  });

  it('no proof by the deadline: REJECT R00 and voided, no slash', async () => {
    const p = await fundedPair();
    const id = await pay(p, 600);
    const expired = p.escrow.events.next('payment.expired', id, 10_000);
    await expired;
    const record = p.escrow.escrow.get(id);
    expect(deserializeReply(record?.reply as Buffer)).toMatchObject({
      type: 'reject',
      code: 'R00',
    });
    const after = await expectTotal(p, 2_000n);
    expect(after.buyer).toEqual({ posted: 1_000n, pending: 0n });
    expect(after.stake).toEqual({ posted: 1_000n, pending: 0n });
    // A late proof is answered "expired", never paid.
    expect(await p.provider.provider.deliverProof(id, { envelope: job.envelope })).toMatchObject({
      status: 'expired',
    });
  });

  it('replays are idempotent: the same pay(), the same PREPARE and the same FULFILL move money once', async () => {
    const p = await fundedPair();
    const id = await pay(p);
    const again = await p.escrow.escrow.pay({
      paymentId: id,
      provider: PROVIDER,
      buyer: BUYER,
      amount: 100n,
      proofDeadline: Date.now() + 30_000,
      expect: job.expect,
    });
    expect(again.state).toBe('prepared');
    await expect(
      p.escrow.escrow.pay({
        paymentId: id,
        provider: PROVIDER,
        buyer: BUYER,
        amount: 101n,
        proofDeadline: Date.now() + 30_000,
        expect: job.expect,
      }),
    ).rejects.toMatchObject({ code: 'PAYMENT_CONFLICT' });
    // Replay the raw PREPARE with the same Idempotency-Key: accepted again, held once.
    const record = p.escrow.escrow.get(id);
    const client = new IlpHttpClient({
      url: `${p.provider.url}/ilp`,
      token: 'escrow-to-provider-token-0123456789',
    });
    const { encodeTerms } = await import('../../node/settlement/terms.js');
    const terms = JSON.parse(p.provider.provider.get(id)?.expect.terms as string);
    const prepare = {
      amount: 100n,
      expiresAt: new Date(record?.expiresAt as number),
      executionCondition: record?.condition as Buffer,
      destination: 'test.m2m.prov',
      data: encodeTerms(terms),
    };
    expect(await client.sendPrepare(prepare, { idempotencyKey: id, async: true })).toBe('accepted');
    expect(p.provider.journal.list('provider').filter((r) => r.id === id)).toHaveLength(1);
    // A PREPARE whose Idempotency-Key is not its payment id is refused with F00, nothing held.
    const other = await client.sendPrepare(
      { ...prepare, executionCondition: randomBytes(32) },
      { idempotencyKey: `${id}-other`, async: true },
    );
    expect(other).toMatchObject({ type: 'reject', code: 'F00', triggeredBy: 'test.m2m.prov' });
    expect(p.provider.journal.list('provider')).toHaveLength(1);
    await p.provider.provider.deliverProof(id, { envelope: job.envelope });
    const fulfillment = p.provider.provider.get(id)?.fulfillment as Buffer;
    const toEscrow = new IlpHttpClient({
      url: `${p.escrow.url}/ilp`,
      token: 'provider-to-escrow-token-0123456789',
    });
    await toEscrow.sendReply({ type: 'fulfill', fulfillment, data: Buffer.alloc(0) }, id);
    await toEscrow.sendReply({ type: 'fulfill', fulfillment, data: Buffer.alloc(0) }, id);
    // A wrong fulfillment is refused and changes nothing.
    await expect(
      toEscrow.sendReply(
        { type: 'fulfill', fulfillment: randomBytes(32), data: Buffer.alloc(0) },
        id,
      ),
    ).rejects.toMatchObject({ code: 'ILP_HTTP_STATUS' });
    const after = await expectTotal(p, 2_000n);
    expect(after.buyer.posted).toBe(900n);
    expect(after.revenue.posted).toBe(100n);
    client.close();
    toEscrow.close();
  });

  it('a PREPARE the provider refuses (F02, wrong destination) is refunded without a slash', async () => {
    pair = await startNodePair({}, { providerAddress: 'test.m2m.elsewhere' });
    await pair.escrow.deposit({ role: 'buyer', owner: BUYER, amount: 1_000n });
    await pair.escrow.deposit({ role: 'stake', owner: PROVIDER, amount: 1_000n });
    const record = await pair.escrow.escrow.pay({
      provider: PROVIDER,
      buyer: BUYER,
      amount: 100n,
      proofDeadline: Date.now() + 10_000,
      expect: job.expect,
    });
    expect(record.state).toBe('rejected');
    expect(deserializeReply(record.reply as Buffer)).toMatchObject({
      type: 'reject',
      code: 'F02',
      triggeredBy: 'test.m2m.prov',
    });
    const events = pair.escrow.journal.eventsSince(0).filter((e) => e.paymentId === record.id);
    expect(events.map((e) => [e.type, e.data.code ?? null])).toEqual([
      ['payment.prepared', null],
      ['payment.rejected', 'F02'],
    ]);
    const after = await expectTotal(pair, 2_000n);
    expect(after.buyer).toEqual({ posted: 1_000n, pending: 0n });
    expect(after.stake).toEqual({ posted: 1_000n, pending: 0n });
  });

  it('refuses a payment the buyer cannot cover or the provider has no bond for', async () => {
    const p = await fundedPair();
    await expect(
      p.escrow.escrow.pay({
        provider: PROVIDER,
        buyer: 'nobody',
        amount: 5n,
        proofDeadline: Date.now() + 5_000,
        expect: job.expect,
      }),
    ).rejects.toMatchObject({ code: 'BUYER_FUNDS_INSUFFICIENT' });
    await p.escrow.withdraw({ role: 'stake', owner: PROVIDER, amount: 1_000n });
    await expect(
      p.escrow.escrow.pay({
        provider: PROVIDER,
        buyer: BUYER,
        amount: 5n,
        proofDeadline: Date.now() + 5_000,
        expect: job.expect,
      }),
    ).rejects.toMatchObject({ code: 'STAKE_INSUFFICIENT' });
    await expect(
      p.escrow.escrow.pay({
        provider: PROVIDER,
        buyer: BUYER,
        amount: 1n << 64n,
        proofDeadline: Date.now() + 5_000,
        expect: job.expect,
      }),
    ).rejects.toMatchObject({ code: 'AMOUNT_INVALID' });
    await expectTotal(p, 1_000n);
  });
});

describe('optimistic with challenge', () => {
  const optimistic = { mode: 'optimistic' as const, challengeWindowMs: 1_500 };

  it('unchallenged: fulfilled after the window', async () => {
    const p = await fundedPair(optimistic);
    const id = await pay(p);
    const result = await p.provider.provider.deliverProof(id, { envelope: job.envelope });
    expect(result).toMatchObject({ status: 'claimed' });
    expect(p.escrow.escrow.get(id)?.state).toBe('claimed');
    await p.escrow.events.next('payment.fulfilled', id, 15_000);
    const after = await expectTotal(p, 2_000n);
    expect(after.revenue.posted).toBe(100n);
    expect(after.stake).toEqual({ posted: 1_000n, pending: 0n });
    await waitUntil(() => p.provider.provider.get(id)?.state === 'fulfilled');
  });

  it('challenged with an invalid proof: reversed and slashed', async () => {
    const p = await fundedPair(optimistic);
    const id = await pay(p);
    await p.provider.provider.deliverProof(id, { envelope: tamperedEnvelope(job.envelope) });
    const res = await fetch(`${p.escrow.url}/settlement/v1/challenges`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ paymentId: id, challenger: 'watchtower' }),
    });
    expect(await res.json()).toMatchObject({ status: 'upheld', code: 'PROOF_INVALID' });
    const record = p.escrow.escrow.get(id);
    expect(record?.state).toBe('rejected');
    expect(deserializeReply(record?.reply as Buffer)).toMatchObject({
      type: 'reject',
      code: 'F99',
    });
    const after = await expectTotal(p, 2_000n);
    expect(after.buyer.posted).toBe(1_050n);
    expect(after.stake.posted).toBe(950n);
    expect(after.revenue.posted).toBe(0n);
    await waitUntil(() => p.provider.provider.get(id)?.state === 'rejected', 10_000);
  });

  it('a frivolous challenge against a valid proof is dismissed; the provider is paid', async () => {
    const p = await fundedPair(optimistic);
    const id = await pay(p);
    await p.provider.provider.deliverProof(id, { envelope: job.envelope });
    expect(await p.escrow.escrow.challenge(id, 'troll')).toEqual({ status: 'dismissed' });
    expect(await p.escrow.escrow.challenge(id, 'troll')).toEqual({ status: 'dismissed' });
    await p.escrow.events.next('payment.fulfilled', id, 15_000);
    const after = await expectTotal(p, 2_000n);
    expect(after.revenue.posted).toBe(100n);
    expect(after.stake.posted).toBe(1_000n);
    expect(await p.escrow.escrow.challenge(id, 'late')).toEqual({
      status: 'closed',
      state: 'fulfilled',
    });
  });
});
