import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateAccountStatus as A,
  type Account,
  AccountFlags,
  AMOUNT_MAX,
  account,
  accountFilter,
  TransferFlags as F,
  type Ledger,
  queryFilter,
  CreateTransferStatus as T,
  transfer,
  U128_MAX,
} from '../../node/ledger/types.js';

export interface LedgerUnderTest {
  ledger: Ledger;
  /** Lets `seconds` of cluster time pass (moves a test clock, or really waits). */
  elapse(seconds: number): Promise<void>;
}

/**
 * One conformance suite for every Ledger implementation: the SQLite ledger always, TigerBeetle
 * when TB_ADDRESS is set. Ids are random per run so a long-lived TigerBeetle cluster can be reused.
 */
export function ledgerConformance(name: string, open: () => Promise<LedgerUnderTest>): void {
  describe(`ledger conformance: ${name}`, () => {
    let ut: LedgerUnderTest;
    let ledger: Ledger;
    let next = BigInt(`0x${randomBytes(12).toString('hex')}`) << 32n;
    const id = () => ++next;

    beforeAll(async () => {
      ut = await open();
      ledger = ut.ledger;
    });
    afterAll(async () => {
      await ledger.close();
    });

    const pair = async (flags = AccountFlags.debits_must_not_exceed_credits) => {
      const world = account({ id: id(), ledger: 7, code: 1 });
      const a = account({ id: id(), ledger: 7, code: 10, flags });
      const b = account({ id: id(), ledger: 7, code: 20, flags });
      const r = await ledger.createAccounts([world, a, b]);
      expect(r.map((x) => x.status)).toEqual([A.created, A.created, A.created]);
      return { world: world.id, a: a.id, b: b.id };
    };
    const fund = async (from: bigint, to: bigint, amount: bigint) => {
      const r = await ledger.createTransfers([
        transfer({
          id: id(),
          debit_account_id: from,
          credit_account_id: to,
          amount,
          ledger: 7,
          code: 1,
        }),
      ]);
      expect(r[0]?.status).toBe(T.created);
    };
    const balances = async (...ids: bigint[]) => {
      const found = await ledger.lookupAccounts(ids);
      return ids.map((x) => {
        const acc = found.find((f) => f.id === x) as Account;
        return {
          dp: acc.debits_pending,
          dP: acc.debits_posted,
          cp: acc.credits_pending,
          cP: acc.credits_posted,
        };
      });
    };

    it('creates accounts with per-item codes and distinguishes exists from exists_with_different_*', async () => {
      const x = account({ id: id(), ledger: 7, code: 10, user_data_64: 5n });
      const r1 = await ledger.createAccounts([x]);
      expect(r1[0]?.status).toBe(A.created);
      expect(r1[0]?.timestamp).toBeGreaterThan(0n);
      const r2 = await ledger.createAccounts([
        x,
        { ...x, code: 11 },
        { ...x, ledger: 8 },
        { ...x, user_data_64: 6n },
        { ...x, flags: AccountFlags.history },
        account({ id: 0n, ledger: 7, code: 1 }),
        account({ id: U128_MAX, ledger: 7, code: 1 }),
        account({ id: id(), ledger: 0, code: 1 }),
        account({ id: id(), ledger: 7, code: 0 }),
        account({ id: id(), ledger: 7, code: 1, timestamp: 1n }),
        account({
          id: id(),
          ledger: 7,
          code: 1,
          flags:
            AccountFlags.debits_must_not_exceed_credits |
            AccountFlags.credits_must_not_exceed_debits,
        }),
        account({ id: id(), ledger: 7, code: 1, credits_posted: 1n }),
      ]);
      expect(r2.map((r) => r.status)).toEqual([
        A.exists,
        A.exists_with_different_code,
        A.exists_with_different_ledger,
        A.exists_with_different_user_data_64,
        A.exists_with_different_flags,
        A.id_must_not_be_zero,
        A.id_must_not_be_int_max,
        A.ledger_must_not_be_zero,
        A.code_must_not_be_zero,
        A.timestamp_must_be_zero,
        A.flags_are_mutually_exclusive,
        A.credits_posted_must_be_zero,
      ]);
      const [found] = await ledger.lookupAccounts([x.id, id()]);
      expect(found).toMatchObject({ id: x.id, ledger: 7, code: 10, user_data_64: 5n });
      const queried = await ledger.queryAccounts(
        queryFilter({ ledger: 7, code: 10, user_data_64: 5n, limit: 10 }),
      );
      expect(queried.map((a) => a.id)).toContain(x.id);
      expect(queried.every((a) => a.code === 10 && a.user_data_64 === 5n)).toBe(true);
    });

    it('linked account chains are all-or-nothing; an open chain at the end fails', async () => {
      const a = account({ id: id(), ledger: 7, code: 1, flags: AccountFlags.linked });
      const b = account({ id: id(), ledger: 0, code: 1 });
      const c = account({ id: id(), ledger: 7, code: 1, flags: AccountFlags.linked });
      const r = await ledger.createAccounts([a, b, c]);
      expect(r.map((x) => x.status)).toEqual([
        A.linked_event_failed,
        A.ledger_must_not_be_zero,
        A.linked_event_chain_open,
      ]);
      expect(await ledger.lookupAccounts([a.id, c.id])).toEqual([]);
    });

    it('single-phase transfers move posted balances and respect debits_must_not_exceed_credits', async () => {
      const { world, a, b } = await pair();
      await fund(world, a, 100n);
      const ok = transfer({
        id: id(),
        debit_account_id: a,
        credit_account_id: b,
        amount: 60n,
        ledger: 7,
        code: 1,
      });
      const over = transfer({
        id: id(),
        debit_account_id: a,
        credit_account_id: b,
        amount: 41n,
        ledger: 7,
        code: 1,
      });
      const r = await ledger.createTransfers([ok, over]);
      expect(r.map((x) => x.status)).toEqual([T.created, T.exceeds_credits]);
      expect(await balances(a, b)).toEqual([
        { dp: 0n, dP: 60n, cp: 0n, cP: 100n },
        { dp: 0n, dP: 0n, cp: 0n, cP: 60n },
      ]);
      // A transient failure is remembered: the same id is not retried into success.
      await fund(world, a, 100n);
      expect((await ledger.createTransfers([over]))[0]?.status).toBe(T.id_already_failed);
      const [stored] = await ledger.lookupTransfers([ok.id]);
      expect(stored).toMatchObject({
        id: ok.id,
        amount: 60n,
        debit_account_id: a,
        credit_account_id: b,
      });
      expect(stored?.timestamp).toBeGreaterThan(0n);
    });

    it('retries are idempotent: exists for the same transfer, exists_with_different_* otherwise', async () => {
      const { world, a, b } = await pair();
      await fund(world, a, 100n);
      const t = transfer({
        id: id(),
        debit_account_id: a,
        credit_account_id: b,
        amount: 10n,
        ledger: 7,
        code: 1,
        user_data_32: 3,
      });
      expect((await ledger.createTransfers([t]))[0]?.status).toBe(T.created);
      const r = await ledger.createTransfers([
        t,
        t,
        { ...t, amount: 11n },
        { ...t, credit_account_id: world },
        { ...t, debit_account_id: world },
        { ...t, user_data_32: 4 },
        { ...t, code: 2 },
        { ...t, flags: F.pending },
      ]);
      expect(r.map((x) => x.status)).toEqual([
        T.exists,
        T.exists,
        T.exists_with_different_amount,
        T.exists_with_different_credit_account_id,
        T.exists_with_different_debit_account_id,
        T.exists_with_different_user_data_32,
        T.exists_with_different_code,
        T.exists_with_different_flags,
      ]);
      expect(await balances(a)).toEqual([{ dp: 0n, dP: 10n, cp: 0n, cP: 100n }]);
    });

    it('validates transfers in TigerBeetle precedence order', async () => {
      const { world, a, b } = await pair();
      const base = { debit_account_id: a, credit_account_id: b, amount: 1n, ledger: 7, code: 1 };
      const r = await ledger.createTransfers([
        transfer({ ...base, id: 0n }),
        transfer({ ...base, id: U128_MAX }),
        transfer({ ...base, id: id(), timestamp: 5n }),
        transfer({ ...base, id: id(), flags: F.pending | F.post_pending_transfer }),
        transfer({ ...base, id: id(), debit_account_id: 0n }),
        transfer({ ...base, id: id(), credit_account_id: 0n }),
        transfer({ ...base, id: id(), credit_account_id: a }),
        transfer({ ...base, id: id(), pending_id: 9n }),
        transfer({ ...base, id: id(), timeout: 5 }),
        transfer({ ...base, id: id(), ledger: 0 }),
        transfer({ ...base, id: id(), code: 0 }),
        transfer({ ...base, id: id(), debit_account_id: id() }),
        transfer({ ...base, id: id(), credit_account_id: id() }),
        transfer({ ...base, id: id(), ledger: 8 }),
        transfer({ ...base, id: id(), flags: F.post_pending_transfer, pending_id: 0n }),
        transfer({ ...base, id: id(), flags: F.void_pending_transfer, pending_id: id() }),
        transfer({ ...base, id: id(), flags: F.closing_debit }),
        transfer({ ...base, id: id(), debit_account_id: world, amount: U128_MAX }),
      ]);
      expect(r.map((x) => T[x.status])).toEqual(
        [
          T.id_must_not_be_zero,
          T.id_must_not_be_int_max,
          T.timestamp_must_be_zero,
          T.flags_are_mutually_exclusive,
          T.debit_account_id_must_not_be_zero,
          T.credit_account_id_must_not_be_zero,
          T.accounts_must_be_different,
          T.pending_id_must_be_zero,
          T.timeout_reserved_for_pending_transfer,
          T.ledger_must_not_be_zero,
          T.code_must_not_be_zero,
          T.debit_account_not_found,
          T.credit_account_not_found,
          T.transfer_must_have_the_same_ledger_as_accounts,
          T.pending_id_must_not_be_zero,
          T.pending_transfer_not_found,
          T.closing_transfer_must_be_pending,
          T.created,
        ].map((s) => T[s]),
      );
      // world has been debited 2^128-1: one more unit overflows its posted debits first.
      const over = await ledger.createTransfers([
        transfer({ ...base, id: id(), debit_account_id: world, amount: 1n }),
      ]);
      expect(over[0]?.status).toBe(T.overflows_debits_posted);
    });

    it('refuses a batch whose amount does not fit u128, before applying anything', async () => {
      const { world, a } = await pair();
      await expect(
        ledger.createTransfers([
          transfer({
            id: id(),
            debit_account_id: world,
            credit_account_id: a,
            amount: 1n,
            ledger: 7,
            code: 1,
          }),
          transfer({
            id: id(),
            debit_account_id: world,
            credit_account_id: a,
            amount: 1n << 128n,
            ledger: 7,
            code: 1,
          }),
        ]),
      ).rejects.toMatchObject({ code: 'LEDGER_FIELD_RANGE' });
      expect(await balances(a)).toEqual([{ dp: 0n, dP: 0n, cp: 0n, cP: 0n }]);
    });

    it('pending transfers reserve funds; post (full or partial) and void resolve them once', async () => {
      const { world, a, b } = await pair();
      await fund(world, a, 100n);
      const p1 = transfer({
        id: id(),
        debit_account_id: a,
        credit_account_id: b,
        amount: 40n,
        ledger: 7,
        code: 1,
        flags: F.pending,
        timeout: 3600,
      });
      const p2 = transfer({ ...p1, id: id(), amount: 30n });
      const p3 = transfer({ ...p1, id: id(), amount: 31n });
      const r = await ledger.createTransfers([p1, p2, p3]);
      expect(r.map((x) => x.status)).toEqual([T.created, T.created, T.exceeds_credits]);
      expect(await balances(a, b)).toEqual([
        { dp: 70n, dP: 0n, cp: 0n, cP: 100n },
        { dp: 0n, dP: 0n, cp: 70n, cP: 0n },
      ]);
      const post1 = transfer({
        id: id(),
        pending_id: p1.id,
        amount: AMOUNT_MAX,
        flags: F.post_pending_transfer,
      });
      const post2 = transfer({
        id: id(),
        pending_id: p2.id,
        amount: 10n,
        flags: F.post_pending_transfer,
      });
      const r2 = await ledger.createTransfers([post1, post2]);
      expect(r2.map((x) => x.status)).toEqual([T.created, T.created]);
      expect(await balances(a, b)).toEqual([
        { dp: 0n, dP: 50n, cp: 0n, cP: 100n },
        { dp: 0n, dP: 0n, cp: 0n, cP: 50n },
      ]);
      const [posted] = await ledger.lookupTransfers([post1.id]);
      expect(posted).toMatchObject({
        amount: 40n,
        debit_account_id: a,
        credit_account_id: b,
        ledger: 7,
        code: 1,
      });
      const r3 = await ledger.createTransfers([
        post1,
        transfer({
          id: id(),
          pending_id: p1.id,
          amount: AMOUNT_MAX,
          flags: F.post_pending_transfer,
        }),
        transfer({ id: id(), pending_id: p2.id, flags: F.void_pending_transfer }),
        transfer({ id: id(), pending_id: post1.id, flags: F.void_pending_transfer }),
      ]);
      expect(r3.map((x) => x.status)).toEqual([
        T.exists,
        T.pending_transfer_already_posted,
        T.pending_transfer_already_posted,
        T.pending_transfer_not_pending,
      ]);
      const p4 = transfer({ ...p1, id: id(), amount: 20n });
      expect((await ledger.createTransfers([p4]))[0]?.status).toBe(T.created);
      const r4 = await ledger.createTransfers([
        transfer({ id: id(), pending_id: p4.id, amount: 21n, flags: F.post_pending_transfer }),
        transfer({ id: id(), pending_id: p4.id, amount: 5n, flags: F.void_pending_transfer }),
        transfer({
          id: id(),
          pending_id: p4.id,
          credit_account_id: world,
          flags: F.void_pending_transfer,
        }),
        transfer({ id: id(), pending_id: p4.id, code: 9, flags: F.void_pending_transfer }),
        transfer({ id: id(), pending_id: p4.id, flags: F.void_pending_transfer }),
        transfer({
          id: id(),
          pending_id: p4.id,
          amount: AMOUNT_MAX,
          flags: F.post_pending_transfer,
        }),
      ]);
      expect(r4.map((x) => x.status)).toEqual([
        T.exceeds_pending_transfer_amount,
        T.pending_transfer_has_different_amount,
        T.pending_transfer_has_different_credit_account_id,
        T.pending_transfer_has_different_code,
        T.created,
        T.pending_transfer_already_voided,
      ]);
      expect(await balances(a)).toEqual([{ dp: 0n, dP: 50n, cp: 0n, cP: 100n }]);
    });

    it('a pending transfer expires after its timeout: balance released, post refused', async () => {
      const { world, a, b } = await pair();
      await fund(world, a, 10n);
      const p = transfer({
        id: id(),
        debit_account_id: a,
        credit_account_id: b,
        amount: 10n,
        ledger: 7,
        code: 1,
        flags: F.pending,
        timeout: 1,
      });
      expect((await ledger.createTransfers([p]))[0]?.status).toBe(T.created);
      await ut.elapse(2);
      // Best effort, as in TigerBeetle: a request after the expiry sees the balance released.
      const r = await ledger.createTransfers([
        transfer({
          id: id(),
          pending_id: p.id,
          amount: AMOUNT_MAX,
          flags: F.post_pending_transfer,
        }),
      ]);
      expect(r[0]?.status).toBe(T.pending_transfer_expired);
      expect(await balances(a, b)).toEqual([
        { dp: 0n, dP: 0n, cp: 0n, cP: 10n },
        { dp: 0n, dP: 0n, cp: 0n, cP: 0n },
      ]);
    });

    it('linked transfer chains are all-or-nothing, including balances', async () => {
      const { world, a, b } = await pair();
      await fund(world, a, 50n);
      const t1 = transfer({
        id: id(),
        debit_account_id: a,
        credit_account_id: b,
        amount: 30n,
        ledger: 7,
        code: 1,
        flags: F.linked,
      });
      const t2 = transfer({
        id: id(),
        debit_account_id: a,
        credit_account_id: b,
        amount: 30n,
        ledger: 7,
        code: 1,
      });
      const t3 = transfer({
        id: id(),
        debit_account_id: a,
        credit_account_id: b,
        amount: 5n,
        ledger: 7,
        code: 1,
      });
      const r = await ledger.createTransfers([t1, t2, t3]);
      expect(r.map((x) => x.status)).toEqual([T.linked_event_failed, T.exceeds_credits, T.created]);
      expect(await balances(a)).toEqual([{ dp: 0n, dP: 5n, cp: 0n, cP: 50n }]);
      expect(await ledger.lookupTransfers([t1.id])).toEqual([]);
      const open = transfer({ ...t3, id: id(), flags: F.linked });
      expect((await ledger.createTransfers([open]))[0]?.status).toBe(T.linked_event_chain_open);
      // A chain whose first event already exists fails whole: the rest is linked_event_failed.
      const c1 = transfer({ ...t3, id: id(), flags: F.linked });
      const c2 = transfer({ ...t3, id: id() });
      expect((await ledger.createTransfers([c1, c2])).map((x) => x.status)).toEqual([
        T.created,
        T.created,
      ]);
      expect((await ledger.createTransfers([c1, c2])).map((x) => x.status)).toEqual([
        T.exists,
        T.linked_event_failed,
      ]);
    });

    it('balancing_debit transfers at most what the debit account holds', async () => {
      const { world, a, b } = await pair();
      await fund(world, a, 25n);
      const t = transfer({
        id: id(),
        debit_account_id: a,
        credit_account_id: b,
        amount: 100n,
        ledger: 7,
        code: 1,
        flags: F.balancing_debit,
      });
      expect((await ledger.createTransfers([t]))[0]?.status).toBe(T.created);
      const [stored] = await ledger.lookupTransfers([t.id]);
      expect(stored?.amount).toBe(25n);
      expect((await ledger.createTransfers([t]))[0]?.status).toBe(T.exists);
    });

    it('lists an account transfers by timestamp, filtered by side and reversed', async () => {
      const { world, a, b } = await pair();
      await fund(world, a, 10n);
      await fund(a, b, 3n);
      await fund(b, a, 1n);
      const all = await ledger.getAccountTransfers(accountFilter({ account_id: a }));
      expect(all.map((t) => t.amount)).toEqual([10n, 3n, 1n]);
      const debits = await ledger.getAccountTransfers(accountFilter({ account_id: a, flags: 1 }));
      expect(debits.map((t) => t.amount)).toEqual([3n]);
      const reversed = await ledger.getAccountTransfers(
        accountFilter({ account_id: a, flags: 1 | 2 | 4, limit: 2 }),
      );
      expect(reversed.map((t) => t.amount)).toEqual([1n, 3n]);
    });
  });
}
