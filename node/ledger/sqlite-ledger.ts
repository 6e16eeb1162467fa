import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { M2mError } from '../../zkvm/errors.js';
import {
  type Account,
  type AccountFilter,
  AccountFilterFlags,
  AccountFlags,
  AMOUNT_MAX,
  type CreateAccountResult,
  CreateAccountStatus,
  type CreateTransferResult,
  CreateTransferStatus,
  type Ledger,
  type QueryFilter,
  TRANSIENT_TRANSFER_STATUSES,
  type Transfer,
  TransferFlags,
  U64_MAX,
  U128_MAX,
} from './types.js';
import {
  assertAccountFields,
  assertBatchSize,
  assertTransferFields,
  MAX_BATCH,
} from './validate.js';

/** State of a pending transfer; expired pendings keep their row so post/void can say so. */
enum PendingState {
  pending = 1,
  posted = 2,
  voided = 3,
  expired = 4,
}

const ACCOUNT_KNOWN_FLAGS =
  AccountFlags.linked |
  AccountFlags.debits_must_not_exceed_credits |
  AccountFlags.credits_must_not_exceed_debits |
  AccountFlags.history;
const TRANSFER_KNOWN_FLAGS = 0x1ff;
const NS_PER_S = 1_000_000_000n;

const hex = (x: bigint): string => x.toString(16);
const big = (s: string): bigint => BigInt(`0x${s}`);

interface AccountRow {
  id: string;
  debits_pending: string;
  debits_posted: string;
  credits_pending: string;
  credits_posted: string;
  user_data_128: string;
  user_data_64: string;
  user_data_32: bigint;
  ledger: bigint;
  code: bigint;
  flags: bigint;
  timestamp: bigint;
}

interface TransferRow {
  id: string;
  debit_account_id: string;
  credit_account_id: string;
  amount: string;
  pending_id: string;
  user_data_128: string;
  user_data_64: string;
  user_data_32: bigint;
  timeout: bigint;
  ledger: bigint;
  code: bigint;
  flags: bigint;
  timestamp: bigint;
}

const accountOf = (r: AccountRow): Account => ({
  id: big(r.id),
  debits_pending: big(r.debits_pending),
  debits_posted: big(r.debits_posted),
  credits_pending: big(r.credits_pending),
  credits_posted: big(r.credits_posted),
  user_data_128: big(r.user_data_128),
  user_data_64: big(r.user_data_64),
  user_data_32: Number(r.user_data_32),
  reserved: 0,
  ledger: Number(r.ledger),
  code: Number(r.code),
  flags: Number(r.flags),
  timestamp: r.timestamp,
});

const transferOf = (r: TransferRow): Transfer => ({
  id: big(r.id),
  debit_account_id: big(r.debit_account_id),
  credit_account_id: big(r.credit_account_id),
  amount: big(r.amount),
  pending_id: big(r.pending_id),
  user_data_128: big(r.user_data_128),
  user_data_64: big(r.user_data_64),
  user_data_32: Number(r.user_data_32),
  timeout: Number(r.timeout),
  ledger: Number(r.ledger),
  code: Number(r.code),
  flags: Number(r.flags),
  timestamp: r.timestamp,
});

export interface SqliteLedgerOptions {
  /** Cluster time in nanoseconds since the epoch; tests move it to expire pending transfers. */
  now?: () => bigint;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS accounts (
  id TEXT PRIMARY KEY, debits_pending TEXT NOT NULL, debits_posted TEXT NOT NULL,
  credits_pending TEXT NOT NULL, credits_posted TEXT NOT NULL, user_data_128 TEXT NOT NULL,
  user_data_64 TEXT NOT NULL, user_data_32 INTEGER NOT NULL, ledger INTEGER NOT NULL,
  code INTEGER NOT NULL, flags INTEGER NOT NULL, timestamp INTEGER NOT NULL UNIQUE
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS transfers (
  id TEXT PRIMARY KEY, debit_account_id TEXT NOT NULL, credit_account_id TEXT NOT NULL,
  amount TEXT NOT NULL, pending_id TEXT NOT NULL, user_data_128 TEXT NOT NULL,
  user_data_64 TEXT NOT NULL, user_data_32 INTEGER NOT NULL, timeout INTEGER NOT NULL,
  ledger INTEGER NOT NULL, code INTEGER NOT NULL, flags INTEGER NOT NULL,
  timestamp INTEGER NOT NULL UNIQUE
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS transfers_debit ON transfers (debit_account_id, timestamp);
CREATE INDEX IF NOT EXISTS transfers_credit ON transfers (credit_account_id, timestamp);
CREATE TABLE IF NOT EXISTS pending (
  id TEXT PRIMARY KEY, state INTEGER NOT NULL, expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pending_expiry ON pending (expires_at) WHERE state = 1;
CREATE TABLE IF NOT EXISTS failed_transfers (id TEXT PRIMARY KEY, status INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
`;

/**
 * The embedded ledger: TigerBeetle's account/transfer semantics and result codes on SQLite (WAL).
 * Each batch runs in one SQLite transaction; a linked chain runs under a savepoint and is undone
 * whole when one of its events fails. Pending transfers expire lazily: every call first releases
 * the pending balances whose timeout has passed, and `expirePending()` does it on demand.
 */
export class SqliteLedger implements Ledger {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly now: () => bigint;
  private readonly stmt;
  private lastTimestamp: bigint;
  private closed = false;

  constructor(
    readonly path: string,
    options: SqliteLedgerOptions = {},
  ) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    try {
      this.db = new Database(path);
    } catch (error) {
      throw new M2mError('IO_LEDGER_OPEN', `cannot open the ledger ${path}: ${String(error)}`, {
        cause: error,
      });
    }
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.now = options.now ?? (() => BigInt(Date.now()) * 1_000_000n);
    const db = this.db;
    this.stmt = {
      getAccount: db.prepare('SELECT * FROM accounts WHERE id = ?').safeIntegers(true),
      insertAccount: db.prepare(
        `INSERT INTO accounts VALUES (@id, '0', '0', '0', '0', @user_data_128, @user_data_64,
         @user_data_32, @ledger, @code, @flags, @timestamp)`,
      ),
      updateAccount: db.prepare(
        `UPDATE accounts SET debits_pending = ?, debits_posted = ?, credits_pending = ?,
         credits_posted = ?, flags = ? WHERE id = ?`,
      ),
      getTransfer: db.prepare('SELECT * FROM transfers WHERE id = ?').safeIntegers(true),
      insertTransfer: db.prepare(
        `INSERT INTO transfers VALUES (@id, @debit_account_id, @credit_account_id, @amount,
         @pending_id, @user_data_128, @user_data_64, @user_data_32, @timeout, @ledger, @code,
         @flags, @timestamp)`,
      ),
      getPending: db
        .prepare('SELECT state, expires_at FROM pending WHERE id = ?')
        .safeIntegers(true),
      insertPending: db.prepare('INSERT INTO pending VALUES (?, 1, ?)'),
      setPending: db.prepare('UPDATE pending SET state = ? WHERE id = ?'),
      expired: db
        .prepare(
          `SELECT t.* FROM pending p JOIN transfers t ON t.id = p.id
           WHERE p.state = 1 AND p.expires_at <= ? ORDER BY p.expires_at, t.timestamp`,
        )
        .safeIntegers(true),
      getFailed: db.prepare('SELECT status FROM failed_transfers WHERE id = ?'),
      insertFailed: db.prepare('INSERT OR IGNORE INTO failed_transfers VALUES (?, ?)'),
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?').safeIntegers(true),
      setMeta: db.prepare('INSERT OR REPLACE INTO meta VALUES (?, ?)'),
    };
    const row = this.stmt.getMeta.get('last_timestamp') as { value: bigint } | undefined;
    this.lastTimestamp = row?.value ?? 0n;
  }

  private assertOpen(): void {
    if (this.closed) throw new M2mError('LEDGER_CLOSED', `the ledger ${this.path} is closed`);
  }

  /** Timestamps are unique and strictly increasing, like TigerBeetle's cluster time. */
  private reserveTimestamps(count: number): bigint {
    // Re-read under the write lock: another process (the CLI) may share this file.
    const row = this.stmt.getMeta.get('last_timestamp') as { value: bigint } | undefined;
    if (row !== undefined && row.value > this.lastTimestamp) this.lastTimestamp = row.value;
    const now = this.now();
    const base = now > this.lastTimestamp ? now : this.lastTimestamp + 1n;
    this.lastTimestamp = base + BigInt(Math.max(count, 1)) - 1n;
    this.stmt.setMeta.run('last_timestamp', this.lastTimestamp);
    return base;
  }

  async createAccounts(batch: readonly Account[]): Promise<CreateAccountResult[]> {
    this.assertOpen();
    assertBatchSize(batch.length);
    assertAccountFields(batch);
    return this.db.transaction(() => this.applyAccounts(batch)).immediate();
  }

  async createTransfers(batch: readonly Transfer[]): Promise<CreateTransferResult[]> {
    this.assertOpen();
    assertBatchSize(batch.length);
    assertTransferFields(batch);
    return this.db.transaction(() => this.applyTransfers(batch)).immediate();
  }

  async lookupAccounts(ids: readonly bigint[]): Promise<Account[]> {
    this.assertOpen();
    assertBatchSize(ids.length);
    this.expirePending();
    const out: Account[] = [];
    for (const id of ids) {
      const row = this.stmt.getAccount.get(hex(id)) as AccountRow | undefined;
      if (row !== undefined) out.push(accountOf(row));
    }
    return out;
  }

  async lookupTransfers(ids: readonly bigint[]): Promise<Transfer[]> {
    this.assertOpen();
    assertBatchSize(ids.length);
    const out: Transfer[] = [];
    for (const id of ids) {
      const row = this.stmt.getTransfer.get(hex(id)) as TransferRow | undefined;
      if (row !== undefined) out.push(transferOf(row));
    }
    return out;
  }

  async getAccountTransfers(filter: AccountFilter): Promise<Transfer[]> {
    this.assertOpen();
    const id = hex(filter.account_id);
    const wantDebits = (filter.flags & AccountFilterFlags.debits) !== 0;
    const wantCredits = (filter.flags & AccountFilterFlags.credits) !== 0;
    if (!wantDebits && !wantCredits) return [];
    const limit = Math.min(Math.max(filter.limit, 0), MAX_BATCH);
    const min = filter.timestamp_min;
    const max = filter.timestamp_max === 0n ? U64_MAX >> 1n : filter.timestamp_max;
    const sides = [
      ...(wantDebits ? ['debit_account_id = @id'] : []),
      ...(wantCredits ? ['credit_account_id = @id'] : []),
    ].join(' OR ');
    const extra = [
      filter.code === 0 ? '' : ' AND code = @code',
      filter.user_data_32 === 0 ? '' : ' AND user_data_32 = @ud32',
      filter.user_data_64 === 0n ? '' : ' AND user_data_64 = @ud64',
      filter.user_data_128 === 0n ? '' : ' AND user_data_128 = @ud128',
    ].join('');
    const order = (filter.flags & AccountFilterFlags.reversed) !== 0 ? 'DESC' : 'ASC';
    const rows = this.db
      .prepare(
        `SELECT * FROM transfers WHERE (${sides}) AND timestamp >= @min AND timestamp <= @max${extra}
         ORDER BY timestamp ${order} LIMIT @limit`,
      )
      .safeIntegers(true)
      .all({
        id,
        min,
        max,
        limit,
        code: filter.code,
        ud32: filter.user_data_32,
        ud64: hex(filter.user_data_64),
        ud128: hex(filter.user_data_128),
      }) as TransferRow[];
    return rows.map(transferOf);
  }

  async queryAccounts(filter: QueryFilter): Promise<Account[]> {
    this.assertOpen();
    this.expirePending();
    const where = [
      filter.ledger === 0 ? '' : ' AND ledger = @ledger',
      filter.code === 0 ? '' : ' AND code = @code',
      filter.user_data_32 === 0 ? '' : ' AND user_data_32 = @ud32',
      filter.user_data_64 === 0n ? '' : ' AND user_data_64 = @ud64',
      filter.user_data_128 === 0n ? '' : ' AND user_data_128 = @ud128',
    ].join('');
    const order = (filter.flags & 1) !== 0 ? 'DESC' : 'ASC';
    const rows = this.db
      .prepare(
        `SELECT * FROM accounts WHERE timestamp >= @min AND timestamp <= @max${where}
         ORDER BY timestamp ${order} LIMIT @limit`,
      )
      .safeIntegers(true)
      .all({
        min: filter.timestamp_min,
        max: filter.timestamp_max === 0n ? U64_MAX >> 1n : filter.timestamp_max,
        limit: Math.min(Math.max(filter.limit, 0), MAX_BATCH),
        ledger: filter.ledger,
        code: filter.code,
        ud32: filter.user_data_32,
        ud64: hex(filter.user_data_64),
        ud128: hex(filter.user_data_128),
      }) as AccountRow[];
    return rows.map(accountOf);
  }

  /**
   * Releases the pending balances of every pending transfer whose timeout has passed (a later
   * post or void gets pending_transfer_expired). Returns the expired transfers.
   */
  expirePending(): Transfer[] {
    this.assertOpen();
    return this.db.transaction(() => this.sweep(this.now())).immediate();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private sweep(now: bigint): Transfer[] {
    const rows = this.stmt.expired.all(now) as TransferRow[];
    if (rows.length === 0) return [];
    const cache = new AccountCache(this.stmt);
    const out: Transfer[] = [];
    for (const row of rows) {
      const t = transferOf(row);
      const dr = cache.get(t.debit_account_id);
      const cr = cache.get(t.credit_account_id);
      if (dr === undefined || cr === undefined) continue;
      cache.touch(dr);
      cache.touch(cr);
      dr.debits_pending -= t.amount;
      cr.credits_pending -= t.amount;
      if ((t.flags & TransferFlags.closing_debit) !== 0) dr.flags &= ~AccountFlags.closed;
      if ((t.flags & TransferFlags.closing_credit) !== 0) cr.flags &= ~AccountFlags.closed;
      this.stmt.setPending.run(PendingState.expired, row.id);
      out.push(t);
    }
    cache.flush();
    return out;
  }

  private applyAccounts(batch: readonly Account[]): CreateAccountResult[] {
    const base = this.reserveTimestamps(batch.length);
    const results: CreateAccountResult[] = new Array(batch.length);
    let chainStart = -1;
    let chainFailed: { index: number; status: CreateAccountStatus } | undefined;
    batch.forEach((a, i) => {
      const linked = (a.flags & AccountFlags.linked) !== 0;
      if (chainStart < 0 && linked) {
        chainStart = i;
        chainFailed = undefined;
        this.db.exec('SAVEPOINT chain');
      }
      const timestamp = base + BigInt(i);
      let status: CreateAccountStatus;
      if (chainStart >= 0 && chainFailed !== undefined)
        status = CreateAccountStatus.linked_event_failed;
      else if (linked && i === batch.length - 1)
        status = CreateAccountStatus.linked_event_chain_open;
      else status = this.createAccount(a, timestamp);
      results[i] = { status, timestamp };
      if (chainStart >= 0 && status !== CreateAccountStatus.created && chainFailed === undefined)
        chainFailed = { index: i, status };
      if (chainStart >= 0 && (!linked || i === batch.length - 1)) {
        if (chainFailed === undefined) this.db.exec('RELEASE chain');
        else {
          this.db.exec('ROLLBACK TO chain; RELEASE chain');
          for (let j = chainStart; j <= i; j++)
            (results[j] as CreateAccountResult).status =
              j === chainFailed.index
                ? chainFailed.status
                : CreateAccountStatus.linked_event_failed;
        }
        chainStart = -1;
      }
    });
    return results;
  }

  private createAccount(a: Account, timestamp: bigint): CreateAccountStatus {
    const S = CreateAccountStatus;
    if ((a.flags & AccountFlags.imported) !== 0) return S.imported_event_not_expected;
    if (a.timestamp !== 0n) return S.timestamp_must_be_zero;
    if (a.reserved !== 0) return S.reserved_field;
    if ((a.flags & ~ACCOUNT_KNOWN_FLAGS) !== 0) return S.reserved_flag;
    if (a.id === 0n) return S.id_must_not_be_zero;
    if (a.id === U128_MAX) return S.id_must_not_be_int_max;
    const row = this.stmt.getAccount.get(hex(a.id)) as AccountRow | undefined;
    if (row !== undefined) {
      const e = accountOf(row);
      if (e.flags !== a.flags) return S.exists_with_different_flags;
      if (e.user_data_128 !== a.user_data_128) return S.exists_with_different_user_data_128;
      if (e.user_data_64 !== a.user_data_64) return S.exists_with_different_user_data_64;
      if (e.user_data_32 !== a.user_data_32) return S.exists_with_different_user_data_32;
      if (e.ledger !== a.ledger) return S.exists_with_different_ledger;
      if (e.code !== a.code) return S.exists_with_different_code;
      return S.exists;
    }
    if (
      (a.flags & AccountFlags.debits_must_not_exceed_credits) !== 0 &&
      (a.flags & AccountFlags.credits_must_not_exceed_debits) !== 0
    )
      return S.flags_are_mutually_exclusive;
    if (a.debits_pending !== 0n) return S.debits_pending_must_be_zero;
    if (a.debits_posted !== 0n) return S.debits_posted_must_be_zero;
    if (a.credits_pending !== 0n) return S.credits_pending_must_be_zero;
    if (a.credits_posted !== 0n) return S.credits_posted_must_be_zero;
    if (a.ledger === 0) return S.ledger_must_not_be_zero;
    if (a.code === 0) return S.code_must_not_be_zero;
    this.stmt.insertAccount.run({
      id: hex(a.id),
      user_data_128: hex(a.user_data_128),
      user_data_64: hex(a.user_data_64),
      user_data_32: a.user_data_32,
      ledger: a.ledger,
      code: a.code,
      flags: a.flags,
      timestamp,
    });
    return S.created;
  }

  private applyTransfers(batch: readonly Transfer[]): CreateTransferResult[] {
    const base = this.reserveTimestamps(batch.length);
    this.sweep(base);
    const cache = new AccountCache(this.stmt);
    const results: CreateTransferResult[] = new Array(batch.length);
    let chainStart = -1;
    let chainFailed: { index: number; status: CreateTransferStatus } | undefined;
    for (let i = 0; i < batch.length; i++) {
      const t = batch[i] as Transfer;
      const linked = (t.flags & TransferFlags.linked) !== 0;
      if (chainStart < 0 && linked) {
        chainStart = i;
        chainFailed = undefined;
        this.db.exec('SAVEPOINT chain');
        cache.beginChain();
      }
      const timestamp = base + BigInt(i);
      let status: CreateTransferStatus;
      if (chainStart >= 0 && chainFailed !== undefined)
        status = CreateTransferStatus.linked_event_failed;
      else if (linked && i === batch.length - 1)
        status = CreateTransferStatus.linked_event_chain_open;
      else status = this.createTransfer(t, timestamp, cache);
      results[i] = { status, timestamp };
      if (chainStart >= 0 && status !== CreateTransferStatus.created && chainFailed === undefined)
        chainFailed = { index: i, status };
      if (chainStart < 0 && TRANSIENT_TRANSFER_STATUSES.has(status))
        this.stmt.insertFailed.run(hex(t.id), status);
      if (chainStart >= 0 && (!linked || i === batch.length - 1)) {
        if (chainFailed === undefined) {
          this.db.exec('RELEASE chain');
          cache.commitChain();
        } else {
          this.db.exec('ROLLBACK TO chain; RELEASE chain');
          cache.rollbackChain();
          for (let j = chainStart; j <= i; j++)
            (results[j] as CreateTransferResult).status =
              j === chainFailed.index
                ? chainFailed.status
                : CreateTransferStatus.linked_event_failed;
          if (TRANSIENT_TRANSFER_STATUSES.has(chainFailed.status))
            this.stmt.insertFailed.run(
              hex((batch[chainFailed.index] as Transfer).id),
              chainFailed.status,
            );
        }
        chainStart = -1;
      }
    }
    cache.flush();
    return results;
  }

  private createTransfer(
    t: Transfer,
    timestamp: bigint,
    cache: AccountCache,
  ): CreateTransferStatus {
    const S = CreateTransferStatus;
    const F = TransferFlags;
    if ((t.flags & F.imported) !== 0) return S.imported_event_not_expected;
    if (t.timestamp !== 0n) return S.timestamp_must_be_zero;
    if ((t.flags & ~TRANSFER_KNOWN_FLAGS) !== 0) return S.reserved_flag;
    if (t.id === 0n) return S.id_must_not_be_zero;
    if (t.id === U128_MAX) return S.id_must_not_be_int_max;
    const existing = this.stmt.getTransfer.get(hex(t.id)) as TransferRow | undefined;
    if (existing !== undefined) return existsStatus(t, transferOf(existing));
    const failed = this.stmt.getFailed.get(hex(t.id)) as { status: number } | undefined;
    if (failed !== undefined) return S.id_already_failed;

    const pending = (t.flags & F.pending) !== 0;
    const post = (t.flags & F.post_pending_transfer) !== 0;
    const voiding = (t.flags & F.void_pending_transfer) !== 0;
    const balancing = (t.flags & (F.balancing_debit | F.balancing_credit)) !== 0;
    const closing = (t.flags & (F.closing_debit | F.closing_credit)) !== 0;
    if (
      (pending && (post || voiding)) ||
      (post && voiding) ||
      ((post || voiding) && (balancing || closing))
    )
      return S.flags_are_mutually_exclusive;
    if (post || voiding) return this.postOrVoid(t, timestamp, cache, post);

    if (t.debit_account_id === 0n) return S.debit_account_id_must_not_be_zero;
    if (t.debit_account_id === U128_MAX) return S.debit_account_id_must_not_be_int_max;
    if (t.credit_account_id === 0n) return S.credit_account_id_must_not_be_zero;
    if (t.credit_account_id === U128_MAX) return S.credit_account_id_must_not_be_int_max;
    if (t.debit_account_id === t.credit_account_id) return S.accounts_must_be_different;
    if (t.pending_id !== 0n) return S.pending_id_must_be_zero;
    if (!pending && t.timeout !== 0) return S.timeout_reserved_for_pending_transfer;
    if (closing && !pending) return S.closing_transfer_must_be_pending;
    if (t.ledger === 0) return S.ledger_must_not_be_zero;
    if (t.code === 0) return S.code_must_not_be_zero;
    const dr = cache.get(t.debit_account_id);
    if (dr === undefined) return S.debit_account_not_found;
    const cr = cache.get(t.credit_account_id);
    if (cr === undefined) return S.credit_account_not_found;
    if (dr.ledger !== cr.ledger) return S.accounts_must_have_the_same_ledger;
    if (t.ledger !== dr.ledger) return S.transfer_must_have_the_same_ledger_as_accounts;
    if ((dr.flags & AccountFlags.closed) !== 0) return S.debit_account_already_closed;
    if ((cr.flags & AccountFlags.closed) !== 0) return S.credit_account_already_closed;

    let amount = t.amount;
    if ((t.flags & F.balancing_debit) !== 0) {
      const room = dr.credits_posted - dr.debits_posted - dr.debits_pending;
      amount = minBig(amount, room > 0n ? room : 0n);
    }
    if ((t.flags & F.balancing_credit) !== 0) {
      const room = cr.debits_posted - cr.credits_posted - cr.credits_pending;
      amount = minBig(amount, room > 0n ? room : 0n);
    }
    if (pending) {
      if (dr.debits_pending + amount > U128_MAX) return S.overflows_debits_pending;
      if (cr.credits_pending + amount > U128_MAX) return S.overflows_credits_pending;
    } else {
      if (dr.debits_posted + amount > U128_MAX) return S.overflows_debits_posted;
      if (cr.credits_posted + amount > U128_MAX) return S.overflows_credits_posted;
    }
    if (dr.debits_pending + dr.debits_posted + amount > U128_MAX) return S.overflows_debits;
    if (cr.credits_pending + cr.credits_posted + amount > U128_MAX) return S.overflows_credits;
    const expiresAt = timestamp + BigInt(t.timeout) * NS_PER_S;
    if (pending && expiresAt > U64_MAX) return S.overflows_timeout;
    if (
      (dr.flags & AccountFlags.debits_must_not_exceed_credits) !== 0 &&
      dr.debits_pending + dr.debits_posted + amount > dr.credits_posted
    )
      return S.exceeds_credits;
    if (
      (cr.flags & AccountFlags.credits_must_not_exceed_debits) !== 0 &&
      cr.credits_pending + cr.credits_posted + amount > cr.debits_posted
    )
      return S.exceeds_debits;

    cache.touch(dr);
    cache.touch(cr);
    if (pending) {
      dr.debits_pending += amount;
      cr.credits_pending += amount;
      if ((t.flags & F.closing_debit) !== 0) dr.flags |= AccountFlags.closed;
      if ((t.flags & F.closing_credit) !== 0) cr.flags |= AccountFlags.closed;
      // Timeout 0 never expires: the row is kept with the largest expiry.
      this.stmt.insertPending.run(hex(t.id), t.timeout === 0 ? U64_MAX >> 1n : expiresAt);
    } else {
      dr.debits_posted += amount;
      cr.credits_posted += amount;
    }
    this.insertTransfer({ ...t, amount, timestamp });
    return S.created;
  }

  private postOrVoid(
    t: Transfer,
    timestamp: bigint,
    cache: AccountCache,
    post: boolean,
  ): CreateTransferStatus {
    const S = CreateTransferStatus;
    if (t.debit_account_id === U128_MAX) return S.debit_account_id_must_not_be_int_max;
    if (t.credit_account_id === U128_MAX) return S.credit_account_id_must_not_be_int_max;
    if (
      t.debit_account_id !== 0n &&
      t.credit_account_id !== 0n &&
      t.debit_account_id === t.credit_account_id
    )
      return S.accounts_must_be_different;
    if (t.pending_id === 0n) return S.pending_id_must_not_be_zero;
    if (t.pending_id === U128_MAX) return S.pending_id_must_not_be_int_max;
    if (t.pending_id === t.id) return S.pending_id_must_be_different;
    if (t.timeout !== 0) return S.timeout_reserved_for_pending_transfer;
    const row = this.stmt.getTransfer.get(hex(t.pending_id)) as TransferRow | undefined;
    if (row === undefined) return S.pending_transfer_not_found;
    const p = transferOf(row);
    if ((p.flags & TransferFlags.pending) === 0) return S.pending_transfer_not_pending;
    if (t.debit_account_id !== 0n && t.debit_account_id !== p.debit_account_id)
      return S.pending_transfer_has_different_debit_account_id;
    if (t.credit_account_id !== 0n && t.credit_account_id !== p.credit_account_id)
      return S.pending_transfer_has_different_credit_account_id;
    if (t.ledger !== 0 && t.ledger !== p.ledger) return S.pending_transfer_has_different_ledger;
    if (t.code !== 0 && t.code !== p.code) return S.pending_transfer_has_different_code;
    const amount = post ? (t.amount === AMOUNT_MAX ? p.amount : t.amount) : p.amount;
    if (post && amount > p.amount) return S.exceeds_pending_transfer_amount;
    if (!post && t.amount !== 0n && t.amount !== p.amount)
      return S.pending_transfer_has_different_amount;
    const state = this.stmt.getPending.get(hex(p.id)) as
      | { state: bigint; expires_at: bigint }
      | undefined;
    const s = Number(state?.state ?? PendingState.pending);
    if (s === PendingState.posted) return S.pending_transfer_already_posted;
    if (s === PendingState.voided) return S.pending_transfer_already_voided;
    if (s === PendingState.expired || (state !== undefined && state.expires_at <= timestamp))
      return S.pending_transfer_expired;
    const dr = cache.get(p.debit_account_id);
    const cr = cache.get(p.credit_account_id);
    if (dr === undefined) return S.debit_account_not_found;
    if (cr === undefined) return S.credit_account_not_found;
    const reopensDebit = (p.flags & TransferFlags.closing_debit) !== 0;
    const reopensCredit = (p.flags & TransferFlags.closing_credit) !== 0;
    if (post) {
      if (dr.debits_posted + amount > U128_MAX) return S.overflows_debits_posted;
      if (cr.credits_posted + amount > U128_MAX) return S.overflows_credits_posted;
    }
    cache.touch(dr);
    cache.touch(cr);
    dr.debits_pending -= p.amount;
    cr.credits_pending -= p.amount;
    if (post) {
      dr.debits_posted += amount;
      cr.credits_posted += amount;
    } else {
      if (reopensDebit) dr.flags &= ~AccountFlags.closed;
      if (reopensCredit) cr.flags &= ~AccountFlags.closed;
    }
    this.stmt.setPending.run(post ? PendingState.posted : PendingState.voided, hex(p.id));
    this.insertTransfer({
      ...t,
      debit_account_id: p.debit_account_id,
      credit_account_id: p.credit_account_id,
      amount,
      user_data_128: t.user_data_128 === 0n ? p.user_data_128 : t.user_data_128,
      user_data_64: t.user_data_64 === 0n ? p.user_data_64 : t.user_data_64,
      user_data_32: t.user_data_32 === 0 ? p.user_data_32 : t.user_data_32,
      ledger: p.ledger,
      code: p.code,
      timestamp,
    });
    return S.created;
  }

  private insertTransfer(t: Transfer): void {
    this.stmt.insertTransfer.run({
      id: hex(t.id),
      debit_account_id: hex(t.debit_account_id),
      credit_account_id: hex(t.credit_account_id),
      amount: hex(t.amount),
      pending_id: hex(t.pending_id),
      user_data_128: hex(t.user_data_128),
      user_data_64: hex(t.user_data_64),
      user_data_32: t.user_data_32,
      timeout: t.timeout,
      ledger: t.ledger,
      code: t.code,
      flags: t.flags,
      timestamp: t.timestamp,
    });
  }
}

const minBig = (a: bigint, b: bigint): bigint => (a < b ? a : b);

/** TigerBeetle's comparison of a retried transfer with the stored one (flags first). */
function existsStatus(t: Transfer, e: Transfer): CreateTransferStatus {
  const S = CreateTransferStatus;
  const F = TransferFlags;
  if (t.flags !== e.flags) return S.exists_with_different_flags;
  const postOrVoid = (t.flags & (F.post_pending_transfer | F.void_pending_transfer)) !== 0;
  if (t.pending_id !== e.pending_id) return S.exists_with_different_pending_id;
  if (t.timeout !== e.timeout) return S.exists_with_different_timeout;
  if (!postOrVoid || t.debit_account_id !== 0n)
    if (t.debit_account_id !== e.debit_account_id) return S.exists_with_different_debit_account_id;
  if (!postOrVoid || t.credit_account_id !== 0n)
    if (t.credit_account_id !== e.credit_account_id)
      return S.exists_with_different_credit_account_id;
  const sameAmount =
    (t.flags & (F.balancing_debit | F.balancing_credit)) !== 0
      ? t.amount >= e.amount
      : (t.flags & F.post_pending_transfer) !== 0
        ? t.amount === AMOUNT_MAX || t.amount === e.amount
        : (t.flags & F.void_pending_transfer) !== 0
          ? t.amount === 0n || t.amount === e.amount
          : t.amount === e.amount;
  if (!sameAmount) return S.exists_with_different_amount;
  if ((!postOrVoid || t.user_data_128 !== 0n) && t.user_data_128 !== e.user_data_128)
    return S.exists_with_different_user_data_128;
  if ((!postOrVoid || t.user_data_64 !== 0n) && t.user_data_64 !== e.user_data_64)
    return S.exists_with_different_user_data_64;
  if ((!postOrVoid || t.user_data_32 !== 0) && t.user_data_32 !== e.user_data_32)
    return S.exists_with_different_user_data_32;
  if ((!postOrVoid || t.ledger !== 0) && t.ledger !== e.ledger)
    return S.exists_with_different_ledger;
  if ((!postOrVoid || t.code !== 0) && t.code !== e.code) return S.exists_with_different_code;
  return S.exists;
}

interface Statements {
  getAccount: Database.Statement;
  updateAccount: Database.Statement;
}

/**
 * Accounts read once per batch and written back once at its end. A linked chain snapshots the
 * accounts it changes so that a failed chain leaves no trace.
 */
class AccountCache {
  private readonly accounts = new Map<bigint, Account>();
  private readonly dirty = new Set<bigint>();
  private chainUndo: Map<bigint, Account> | undefined;

  constructor(private readonly stmt: Statements) {}

  get(id: bigint): Account | undefined {
    let a = this.accounts.get(id);
    if (a === undefined) {
      const row = this.stmt.getAccount.get(hex(id)) as AccountRow | undefined;
      if (row === undefined) return undefined;
      a = accountOf(row);
      this.accounts.set(id, a);
    }
    return a;
  }

  touch(a: Account): void {
    if (this.chainUndo !== undefined && !this.chainUndo.has(a.id))
      this.chainUndo.set(a.id, { ...a });
    this.dirty.add(a.id);
  }

  beginChain(): void {
    this.chainUndo = new Map();
  }

  commitChain(): void {
    this.chainUndo = undefined;
  }

  rollbackChain(): void {
    for (const [id, before] of this.chainUndo ?? [])
      Object.assign(this.accounts.get(id) as Account, before);
    this.chainUndo = undefined;
  }

  flush(): void {
    for (const id of this.dirty) {
      const a = this.accounts.get(id) as Account;
      this.stmt.updateAccount.run(
        hex(a.debits_pending),
        hex(a.debits_posted),
        hex(a.credits_pending),
        hex(a.credits_posted),
        a.flags,
        hex(a.id),
      );
    }
    this.dirty.clear();
  }
}
