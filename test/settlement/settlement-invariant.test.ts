import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  escrowBalances,
  type ProvenJob,
  proveSensorSummary,
  startNodePair,
  tamperedEnvelope,
} from '../support/settlement.js';

/**
 * The settlement-level invariant over random interleavings, on two real nodes over HTTP with a
 * shared test clock: payments, valid and invalid proofs, challenges, deposits, withdrawals, time
 * passing, and crashes at random settlement steps followed by a restart on the same files.
 * After everything settles: money inside = deposits - withdrawals, nothing is left pending, and
 * no payment whose proof failed was ever posted.
 */
class Crash extends Error {}

let job: ProvenJob;
let invalid: Buffer;
beforeAll(async () => {
  job = await proveSensorSummary();
  invalid = tamperedEnvelope(job.envelope);
}, 120_000);

const STEPS = [
  'prepare:journaled',
  'prepare:held',
  'release:recorded',
  'fulfil:recorded',
  'fulfil:posted',
  'reject:recorded',
  'expire:recorded',
  'refund:voided',
];

type Op =
  | { kind: 'pay'; amount: number; deadline: number }
  | { kind: 'deliver'; which: number; valid: boolean }
  | { kind: 'challenge'; which: number }
  | { kind: 'deposit'; amount: number }
  | { kind: 'withdraw'; amount: number }
  | { kind: 'elapse'; ms: number }
  | { kind: 'crash'; step: string }
  | { kind: 'restart' };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('pay' as const),
      amount: fc.integer({ min: 1, max: 400 }),
      deadline: fc.integer({ min: 1, max: 20 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('deliver' as const),
      which: fc.nat(),
      valid: fc.boolean(),
    }),
  },
  fc.record({ kind: fc.constant('challenge' as const), which: fc.nat() }),
  fc.record({ kind: fc.constant('deposit' as const), amount: fc.integer({ min: 1, max: 500 }) }),
  fc.record({ kind: fc.constant('withdraw' as const), amount: fc.integer({ min: 1, max: 500 }) }),
  fc.record({ kind: fc.constant('elapse' as const), ms: fc.integer({ min: 500, max: 15_000 }) }),
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('crash' as const), step: fc.constantFrom(...STEPS) }),
  },
  fc.record({ kind: fc.constant('restart' as const) }),
);

describe('settlement invariant (property, two nodes)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups) await c();
  });

  it('money is conserved and failed proofs are never paid, across crashes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('verify' as const, 'optimistic' as const),
        fc.array(op, { minLength: 3, maxLength: 12 }),
        async (mode, ops) => {
          let clock = Date.now();
          let crashStep: string | undefined;
          let crashed = false;
          const hooks = {
            now: () => clock,
            manualTick: true,
            onStep: (name: string) => {
              if (name === crashStep) {
                crashStep = undefined;
                crashed = true;
                throw new Crash(name);
              }
            },
          };
          const pair = await startNodePair(
            { mode, challengeWindowMs: 3_000, fulfilMarginMs: 2_000 },
            { escrow: hooks, provider: { now: () => clock, manualTick: true } },
          );
          cleanups.push(() => pair.close());
          let inside = 0n;
          await pair.escrow.deposit({ role: 'buyer', owner: 'alice', amount: 1_000n });
          await pair.escrow.deposit({ role: 'stake', owner: 'prov', amount: 1_000n });
          inside += 2_000n;
          const ids: string[] = [];
          const invalidIds = new Set<string>();
          const tick = async () => {
            for (const node of [pair.escrow, pair.provider])
              await node.tick().catch((e: unknown) => {
                if (!(e instanceof Crash)) throw e;
              });
          };
          let n = 0;
          for (const o of ops) {
            try {
              switch (o.kind) {
                case 'pay': {
                  const id = `p${n++}`;
                  ids.push(id);
                  await pair.escrow.escrow
                    .pay({
                      paymentId: id,
                      provider: 'prov',
                      buyer: 'alice',
                      amount: BigInt(o.amount),
                      proofDeadline: clock + o.deadline * 1000,
                      expect: job.expect,
                    })
                    .catch((e: { code?: string }) => {
                      if (
                        e instanceof Crash ||
                        e.code === 'BUYER_FUNDS_INSUFFICIENT' ||
                        e.code === 'STAKE_INSUFFICIENT'
                      )
                        return;
                      throw e;
                    });
                  break;
                }
                case 'deliver': {
                  const id = ids[o.which % Math.max(ids.length, 1)];
                  if (id === undefined || pair.provider.provider.get(id) === undefined) break;
                  if (!o.valid) invalidIds.add(id);
                  await pair.provider.provider
                    .deliverProof(id, { envelope: o.valid ? job.envelope : invalid })
                    .catch(() => undefined);
                  break;
                }
                case 'challenge': {
                  const id = ids[o.which % Math.max(ids.length, 1)];
                  if (id !== undefined && pair.escrow.escrow.get(id) !== undefined)
                    await pair.escrow.escrow.challenge(id, 'watcher').catch((e: unknown) => {
                      if (!(e instanceof Crash)) throw e;
                    });
                  break;
                }
                case 'deposit':
                  await pair.escrow.deposit({
                    role: 'buyer',
                    owner: 'alice',
                    amount: BigInt(o.amount),
                  });
                  inside += BigInt(o.amount);
                  break;
                case 'withdraw':
                  await pair.escrow
                    .withdraw({ role: 'buyer', owner: 'alice', amount: BigInt(o.amount) })
                    .then(() => {
                      inside -= BigInt(o.amount);
                    })
                    .catch((e: { code?: string }) => {
                      if (e.code !== 'BALANCE_INSUFFICIENT') throw e;
                    });
                  break;
                case 'elapse':
                  clock += o.ms;
                  await tick();
                  break;
                case 'crash':
                  crashStep = o.step;
                  break;
                case 'restart':
                  await pair.restartEscrow(hooks);
                  break;
              }
            } catch (error) {
              if (!(error instanceof Crash)) throw error;
            }
            if (crashed) {
              // The escrow "died" at a step: reopen it on the same SQLite files.
              crashed = false;
              await pair.restartEscrow(hooks);
            }
          }
          // Let everything finish: deadlines pass, ticks resolve every open payment.
          crashStep = undefined;
          if (crashed) await pair.restartEscrow(hooks);
          for (let i = 0; i < 4; i++) {
            clock += 60_000;
            await tick();
          }
          const b = await escrowBalances(pair.escrow, 'alice', 'prov');
          expect(b.buyer.posted + b.revenue.posted + b.stake.posted + b.fees.posted).toBe(inside);
          expect(-b.external.posted).toBe(inside);
          expect(b.buyer.pending + b.revenue.pending + b.stake.pending + b.fees.pending).toBe(0n);
          for (const id of ids) {
            const record = pair.escrow.escrow.get(id);
            if (record === undefined) continue;
            expect(['fulfilled', 'rejected', 'expired', 'failed']).toContain(record.state);
            if (record.state === 'fulfilled' && record.verdict !== null)
              expect(record.verdict.valid).toBe(true);
            if (record.state === 'fulfilled' && invalidIds.has(id))
              // Only possible when a valid proof was delivered first for the same payment.
              expect(record.verdict?.valid ?? true).toBe(true);
          }
          await pair.close();
        },
      ),
      {
        numRuns: 25,
        examples: [
          // Found by CI: the escrow crashes after journaling a PREPARE the buyer can no longer
          // cover (withdrawals came first); the resumed PREPARE must end `failed`, not throw
          // out of tick.
          [
            'verify',
            [
              { kind: 'crash', step: 'prepare:journaled' },
              { kind: 'withdraw', amount: 393 },
              { kind: 'challenge', which: 0 },
              { kind: 'withdraw', amount: 264 },
              { kind: 'pay', amount: 344, deadline: 1 },
            ],
          ],
        ],
      },
    );
  }, 240_000);
});
