import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SqliteLedger } from '../../node/ledger/sqlite-ledger.js';
import {
  AccountFlags,
  AMOUNT_MAX,
  account,
  TransferFlags as F,
  type Transfer,
  transfer,
} from '../../node/ledger/types.js';

const WORLD = 1n;
const USERS = [10n, 11n, 12n, 13n];

type Op =
  | { kind: 'deposit'; to: number; amount: bigint }
  | { kind: 'move'; from: number; to: number; amount: bigint; pending: boolean; timeout: number }
  | { kind: 'post'; which: number; partial: boolean }
  | { kind: 'void'; which: number }
  | { kind: 'replay'; which: number }
  | { kind: 'elapse'; seconds: number }
  | { kind: 'crash' };

const user = fc.integer({ min: 0, max: USERS.length - 1 });
const amount = fc.bigInt({ min: 0n, max: 1_000n });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('deposit' as const), to: user, amount }),
  fc.record({
    kind: fc.constant('move' as const),
    from: user,
    to: user,
    amount,
    pending: fc.boolean(),
    timeout: fc.integer({ min: 0, max: 3 }),
  }),
  fc.record({ kind: fc.constant('post' as const), which: fc.nat(), partial: fc.boolean() }),
  fc.record({ kind: fc.constant('void' as const), which: fc.nat() }),
  fc.record({ kind: fc.constant('replay' as const), which: fc.nat() }),
  fc.record({ kind: fc.constant('elapse' as const), seconds: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant('crash' as const) }),
);

/**
 * The balance-sum invariant over random interleavings of deposits, transfers, pending transfers,
 * posts, voids, expiries, replays of earlier batches and crash-reopens of the SQLite file:
 * the sum of all balances is zero (double entry), the money held by users changes only through
 * deposits, and no debits_must_not_exceed_credits account is ever overdrawn.
 */
describe('ledger balance invariant (property)', () => {
  it('holds over random interleavings, replays and crash-reopens', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), async (ops) => {
        const path = join(mkdtempSync(join(tmpdir(), 'm2m-ledger-prop-')), 'ledger.db');
        let clock = 1_700_000_000_000_000_000n;
        const open = () => new SqliteLedger(path, { now: () => clock });
        let ledger = open();
        await ledger.createAccounts([
          account({ id: WORLD, ledger: 1, code: 1 }),
          ...USERS.map((id) =>
            account({
              id,
              ledger: 1,
              code: 10,
              flags: AccountFlags.debits_must_not_exceed_credits,
            }),
          ),
        ]);
        let nextId = 1000n;
        let deposited = 0n;
        const pendings: bigint[] = [];
        const sent: Transfer[][] = [];
        for (const o of ops) {
          let batch: Transfer[] = [];
          switch (o.kind) {
            case 'deposit':
              batch = [
                transfer({
                  id: ++nextId,
                  debit_account_id: WORLD,
                  credit_account_id: USERS[o.to] as bigint,
                  amount: o.amount,
                  ledger: 1,
                  code: 1,
                }),
              ];
              break;
            case 'move':
              batch = [
                transfer({
                  id: ++nextId,
                  debit_account_id: USERS[o.from] as bigint,
                  credit_account_id: USERS[o.to] as bigint,
                  amount: o.amount,
                  ledger: 1,
                  code: 2,
                  flags: o.pending ? F.pending : 0,
                  timeout: o.pending ? o.timeout : 0,
                }),
              ];
              if (o.pending) pendings.push(nextId);
              break;
            case 'post':
            case 'void': {
              const pending = pendings[o.which % Math.max(pendings.length, 1)];
              if (pending === undefined) continue;
              batch = [
                transfer({
                  id: ++nextId,
                  pending_id: pending,
                  amount: o.kind === 'post' ? (o.partial ? 1n : AMOUNT_MAX) : 0n,
                  flags: o.kind === 'post' ? F.post_pending_transfer : F.void_pending_transfer,
                }),
              ];
              break;
            }
            case 'replay': {
              const earlier = sent[o.which % Math.max(sent.length, 1)];
              if (earlier === undefined) continue;
              batch = earlier;
              break;
            }
            case 'elapse':
              clock += BigInt(o.seconds) * 1_000_000_000n;
              continue;
            case 'crash':
              await ledger.close();
              ledger = open();
              continue;
          }
          const results = await ledger.createTransfers(batch);
          if (o.kind === 'deposit' && results[0]?.status === 0xffffffff) deposited += o.amount;
          if (o.kind === 'replay') for (const r of results) expect(r.status).not.toBe(0xffffffff);
          sent.push(batch);
        }
        ledger.expirePending();
        const accounts = await ledger.lookupAccounts([WORLD, ...USERS]);
        const sum = (f: (a: (typeof accounts)[number]) => bigint) =>
          accounts.reduce((s, a) => s + f(a), 0n);
        expect(sum((a) => a.credits_posted - a.debits_posted)).toBe(0n);
        expect(sum((a) => a.credits_pending - a.debits_pending)).toBe(0n);
        const users = accounts.filter((a) => a.id !== WORLD);
        expect(users.reduce((s, a) => s + a.credits_posted - a.debits_posted, 0n)).toBe(deposited);
        for (const a of users)
          expect(a.debits_posted + a.debits_pending).toBeLessThanOrEqual(a.credits_posted);
        await ledger.close();
      }),
      { numRuns: 60 },
    );
  });
});
