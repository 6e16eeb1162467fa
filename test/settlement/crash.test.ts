import { randomBytes } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SettlementNode } from '../../node/settlement/node.js';
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
 * A crash between any two settlement steps: the escrow's step hook throws at a named step (the
 * process "dies" there), the node is closed and reopened on the same SQLite ledger and journal,
 * and its tick must finish exactly the step under way: nothing paid twice, nothing lost.
 */
class Crash extends Error {}

let job: ProvenJob;
beforeAll(async () => {
  job = await proveSensorSummary();
}, 120_000);

let pair: NodePair | undefined;
afterEach(async () => {
  await pair?.close();
  pair = undefined;
});

// The doomed escrow has no periodic tick: after its "crash" nothing may run until the restart.
const crashAt = (step: string) => ({
  escrow: {
    manualTick: true,
    onStep: (name: string) => {
      if (name === step) throw new Crash(`crash at ${step}`);
    },
  },
});

async function setup(step: string, settings = {}) {
  pair = await startNodePair(settings, crashAt(step));
  await pair.escrow.deposit({ role: 'buyer', owner: 'alice', amount: 1_000n });
  await pair.escrow.deposit({ role: 'stake', owner: 'prov', amount: 1_000n });
  return pair;
}

const payRequest = (id: string, deadlineMs = 30_000) => ({
  paymentId: id,
  provider: 'prov',
  buyer: 'alice',
  amount: 100n,
  proofDeadline: Date.now() + deadlineMs,
  expect: job.expect,
});

const count = (node: SettlementNode, id: string, type: string) =>
  node.journal.eventsSince(0).filter((e) => e.paymentId === id && e.type === type).length;

/** Pays, waits until the provider holds the PREPARE, and delivers a proof the escrow crashes on. */
async function payAndCrashOnDelivery(
  p: NodePair,
  envelope: Buffer,
  deadlineMs?: number,
): Promise<string> {
  const id = randomBytes(8).toString('hex');
  await p.escrow.escrow.pay(payRequest(id, deadlineMs));
  await waitUntil(() => p.provider.provider.get(id)?.state === 'held');
  await expect(p.provider.provider.deliverProof(id, { envelope })).rejects.toThrow();
  return id;
}

async function totals(p: NodePair) {
  const b = await escrowBalances(p.escrow, 'alice', 'prov');
  expect(b.buyer.posted + b.revenue.posted + b.stake.posted + b.fees.posted).toBe(2_000n);
  expect(b.buyer.pending + b.revenue.pending + b.stake.pending + b.fees.pending).toBe(0n);
  return b;
}

describe('crash between steps, then restart on the same files', () => {
  it.each(['prepare:journaled', 'prepare:held', 'prepare:recorded'])(
    'crash at %s: the restarted escrow finishes the PREPARE and the payment settles once',
    async (step) => {
      const p = await setup(step);
      const id = randomBytes(8).toString('hex');
      await expect(p.escrow.escrow.pay(payRequest(id))).rejects.toBeInstanceOf(Crash);
      const escrow = await p.restartEscrow();
      await waitUntil(() => p.provider.provider.get(id)?.state === 'held');
      expect(escrow.escrow.get(id)?.state).toBe('prepared');
      expect(await p.provider.provider.deliverProof(id, { envelope: job.envelope })).toEqual({
        status: 'fulfilled',
      });
      const b = await totals(p);
      expect(b.buyer.posted).toBe(900n);
      expect(b.revenue.posted).toBe(100n);
      expect(count(escrow, id, 'payment.prepared')).toBe(1);
      expect(count(escrow, id, 'payment.fulfilled')).toBe(1);
    },
  );

  it('crash after the release is journaled: the provider retries and is paid once', async () => {
    const p = await setup('release:recorded');
    const id = await payAndCrashOnDelivery(p, job.envelope);
    await p.restartEscrow();
    expect(await p.provider.provider.deliverProof(id, { envelope: job.envelope })).toEqual({
      status: 'fulfilled',
    });
    const b = await totals(p);
    expect(b.revenue.posted).toBe(100n);
  });

  it('crash after the FULFILL is journaled, before the ledger post: posted on restart, once', async () => {
    const p = await setup('fulfil:recorded');
    const id = await payAndCrashOnDelivery(p, job.envelope);
    expect(p.escrow.escrow.get(id)?.state).toBe('fulfilling');
    expect((await escrowBalances(p.escrow, 'alice', 'prov')).revenue.posted).toBe(0n);
    const escrow = await p.restartEscrow();
    await waitUntil(() => escrow.escrow.get(id)?.state === 'fulfilled');
    // The provider re-sends its FULFILL on its own tick; the escrow acknowledges it idempotently.
    await waitUntil(() => p.provider.provider.get(id)?.state === 'fulfilled');
    const b = await totals(p);
    expect(b.revenue.posted).toBe(100n);
    expect(b.buyer.posted).toBe(900n);
    expect(count(escrow, id, 'payment.fulfilled')).toBe(1);
  });

  it('crash after a failed proof is journaled: voided and slashed on restart, once', async () => {
    const p = await setup('reject:recorded');
    const id = await payAndCrashOnDelivery(p, tamperedEnvelope(job.envelope));
    expect(p.escrow.escrow.get(id)?.state).toBe('rejecting');
    const escrow = await p.restartEscrow();
    await waitUntil(() => escrow.escrow.get(id)?.state === 'rejected');
    const b = await totals(p);
    expect(b.buyer.posted).toBe(1_050n);
    expect(b.stake.posted).toBe(950n);
    expect(count(escrow, id, 'provider.slashed')).toBe(1);
    // A valid proof sent afterwards cannot turn the rejection into a payment.
    expect(await p.provider.provider.deliverProof(id, { envelope: job.envelope })).toMatchObject({
      status: 'rejected',
    });
    expect((await totals(p)).revenue.posted).toBe(0n);
  });

  it('crash after the expiry void reached the ledger: the journal catches up, refunded once', async () => {
    const p = await setup('refund:voided');
    const id = randomBytes(8).toString('hex');
    await p.escrow.escrow.pay(payRequest(id, 300));
    await new Promise((r) => setTimeout(r, 400));
    await expect(p.escrow.tick()).rejects.toBeInstanceOf(Crash);
    expect(p.escrow.escrow.get(id)?.state).toBe('expiring');
    const escrow = await p.restartEscrow();
    await waitUntil(() => escrow.escrow.get(id)?.state === 'expired');
    const b = await totals(p);
    expect(b.buyer.posted).toBe(1_000n);
    expect(b.stake.posted).toBe(1_000n);
    expect(count(escrow, id, 'payment.expired')).toBe(1);
  });

  it('an escrow down past the ledger timeout: the ledger expired the hold, the journal says so', async () => {
    let clock = Date.now();
    const now = () => clock;
    pair = await startNodePair(
      { ledgerGraceSeconds: 30 },
      {
        escrow: { ...crashAt('fulfil:recorded').escrow, now },
        provider: { now, manualTick: true },
      },
    );
    const p = pair;
    await p.escrow.deposit({ role: 'buyer', owner: 'alice', amount: 1_000n });
    await p.escrow.deposit({ role: 'stake', owner: 'prov', amount: 1_000n });
    const id = await payAndCrashOnDelivery(p, job.envelope, 10_000);
    expect(p.escrow.escrow.get(id)?.state).toBe('fulfilling');
    // Ten minutes pass: the PREPARE (10 s + margin) and the ledger timeout (+30 s) are long gone.
    clock += 600_000;
    const escrow = await p.restartEscrow({ now, manualTick: true });
    await escrow.tick();
    const record = escrow.escrow.get(id);
    expect(record?.state).toBe('expired');
    expect(record?.reason).toMatch(/ledger expired the hold/);
    const b = await totals(p);
    expect(b.buyer.posted).toBe(1_000n);
    expect(b.revenue.posted).toBe(0n);
    expect(b.stake.posted).toBe(1_000n);
    expect(count(escrow, id, 'payment.expired')).toBe(1);
    expect(count(escrow, id, 'provider.slashed')).toBe(0);
  });
});
