/**
 * The ledger model of TigerBeetle (accounts, transfers, flags, per-item result codes), with the
 * same field names and numeric codes as `tigerbeetle-node` 0.17 so that both implementations are
 * interchangeable. Amounts and ids are u128 (bigint below 2^128).
 */

export const U128_MAX = (1n << 128n) - 1n;
export const U64_MAX = (1n << 64n) - 1n;
/** A post_pending_transfer with this amount posts the full pending amount (TigerBeetle 0.16+). */
export const AMOUNT_MAX = U128_MAX;

export enum AccountFlags {
  none = 0,
  linked = 1,
  debits_must_not_exceed_credits = 2,
  credits_must_not_exceed_debits = 4,
  history = 8,
  imported = 16,
  closed = 32,
}

export enum TransferFlags {
  none = 0,
  linked = 1,
  pending = 2,
  post_pending_transfer = 4,
  void_pending_transfer = 8,
  balancing_debit = 16,
  balancing_credit = 32,
  closing_debit = 64,
  closing_credit = 128,
  imported = 256,
}

export enum AccountFilterFlags {
  none = 0,
  debits = 1,
  credits = 2,
  reversed = 4,
}

export interface Account {
  id: bigint;
  debits_pending: bigint;
  debits_posted: bigint;
  credits_pending: bigint;
  credits_posted: bigint;
  user_data_128: bigint;
  user_data_64: bigint;
  user_data_32: number;
  reserved: number;
  ledger: number;
  code: number;
  flags: number;
  timestamp: bigint;
}

export interface Transfer {
  id: bigint;
  debit_account_id: bigint;
  credit_account_id: bigint;
  amount: bigint;
  pending_id: bigint;
  user_data_128: bigint;
  user_data_64: bigint;
  user_data_32: number;
  /** Seconds after the transfer's timestamp at which a pending transfer expires; 0 = never. */
  timeout: number;
  ledger: number;
  code: number;
  flags: number;
  timestamp: bigint;
}

/**
 * Result codes of create_accounts, numbered as TigerBeetle numbers them. The declaration order is
 * TigerBeetle's precedence order: when several apply, the first listed is returned.
 */
export enum CreateAccountStatus {
  created = 4294967295,
  linked_event_failed = 1,
  linked_event_chain_open = 2,
  imported_event_expected = 22,
  imported_event_not_expected = 23,
  timestamp_must_be_zero = 3,
  imported_event_timestamp_out_of_range = 24,
  imported_event_timestamp_must_not_advance = 25,
  reserved_field = 4,
  reserved_flag = 5,
  id_must_not_be_zero = 6,
  id_must_not_be_int_max = 7,
  exists_with_different_flags = 15,
  exists_with_different_user_data_128 = 16,
  exists_with_different_user_data_64 = 17,
  exists_with_different_user_data_32 = 18,
  exists_with_different_ledger = 19,
  exists_with_different_code = 20,
  exists = 21,
  flags_are_mutually_exclusive = 8,
  debits_pending_must_be_zero = 9,
  debits_posted_must_be_zero = 10,
  credits_pending_must_be_zero = 11,
  credits_posted_must_be_zero = 12,
  ledger_must_not_be_zero = 13,
  code_must_not_be_zero = 14,
  imported_event_timestamp_must_not_regress = 26,
}

/** Result codes of create_transfers (TigerBeetle numbering and precedence order). */
export enum CreateTransferStatus {
  created = 4294967295,
  linked_event_failed = 1,
  linked_event_chain_open = 2,
  imported_event_expected = 56,
  imported_event_not_expected = 57,
  timestamp_must_be_zero = 3,
  imported_event_timestamp_out_of_range = 58,
  imported_event_timestamp_must_not_advance = 59,
  reserved_flag = 4,
  id_must_not_be_zero = 5,
  id_must_not_be_int_max = 6,
  exists_with_different_flags = 36,
  exists_with_different_pending_id = 40,
  exists_with_different_timeout = 44,
  exists_with_different_debit_account_id = 37,
  exists_with_different_credit_account_id = 38,
  exists_with_different_amount = 39,
  exists_with_different_user_data_128 = 41,
  exists_with_different_user_data_64 = 42,
  exists_with_different_user_data_32 = 43,
  exists_with_different_ledger = 67,
  exists_with_different_code = 45,
  exists = 46,
  id_already_failed = 68,
  flags_are_mutually_exclusive = 7,
  debit_account_id_must_not_be_zero = 8,
  debit_account_id_must_not_be_int_max = 9,
  credit_account_id_must_not_be_zero = 10,
  credit_account_id_must_not_be_int_max = 11,
  accounts_must_be_different = 12,
  pending_id_must_be_zero = 13,
  pending_id_must_not_be_zero = 14,
  pending_id_must_not_be_int_max = 15,
  pending_id_must_be_different = 16,
  timeout_reserved_for_pending_transfer = 17,
  closing_transfer_must_be_pending = 64,
  ledger_must_not_be_zero = 19,
  code_must_not_be_zero = 20,
  debit_account_not_found = 21,
  credit_account_not_found = 22,
  accounts_must_have_the_same_ledger = 23,
  transfer_must_have_the_same_ledger_as_accounts = 24,
  pending_transfer_not_found = 25,
  pending_transfer_not_pending = 26,
  pending_transfer_has_different_debit_account_id = 27,
  pending_transfer_has_different_credit_account_id = 28,
  pending_transfer_has_different_ledger = 29,
  pending_transfer_has_different_code = 30,
  exceeds_pending_transfer_amount = 31,
  pending_transfer_has_different_amount = 32,
  pending_transfer_already_posted = 33,
  pending_transfer_already_voided = 34,
  pending_transfer_expired = 35,
  imported_event_timestamp_must_not_regress = 60,
  imported_event_timestamp_must_postdate_debit_account = 61,
  imported_event_timestamp_must_postdate_credit_account = 62,
  imported_event_timeout_must_be_zero = 63,
  debit_account_already_closed = 65,
  credit_account_already_closed = 66,
  overflows_debits_pending = 47,
  overflows_credits_pending = 48,
  overflows_debits_posted = 49,
  overflows_credits_posted = 50,
  overflows_debits = 51,
  overflows_credits = 52,
  overflows_timeout = 53,
  exceeds_credits = 54,
  exceeds_debits = 55,
}

/** One result per event of the batch, in batch order (TigerBeetle 0.17's response shape). */
export interface CreateAccountResult {
  timestamp: bigint;
  status: CreateAccountStatus;
}

export interface CreateTransferResult {
  timestamp: bigint;
  status: CreateTransferStatus;
}

/** Failures that depend on ledger state: the id is remembered and a retry gets id_already_failed. */
export const TRANSIENT_TRANSFER_STATUSES: ReadonlySet<CreateTransferStatus> = new Set([
  CreateTransferStatus.debit_account_not_found,
  CreateTransferStatus.credit_account_not_found,
  CreateTransferStatus.pending_transfer_not_found,
  CreateTransferStatus.exceeds_credits,
  CreateTransferStatus.exceeds_debits,
  CreateTransferStatus.debit_account_already_closed,
  CreateTransferStatus.credit_account_already_closed,
]);

export interface AccountFilter {
  account_id: bigint;
  user_data_128: bigint;
  user_data_64: bigint;
  user_data_32: number;
  code: number;
  timestamp_min: bigint;
  timestamp_max: bigint;
  limit: number;
  flags: number;
}

export interface AccountBalance {
  debits_pending: bigint;
  debits_posted: bigint;
  credits_pending: bigint;
  credits_posted: bigint;
  timestamp: bigint;
}

export interface QueryFilter {
  user_data_128: bigint;
  user_data_64: bigint;
  user_data_32: number;
  ledger: number;
  code: number;
  timestamp_min: bigint;
  timestamp_max: bigint;
  limit: number;
  flags: number;
}

export function queryFilter(fields: Partial<QueryFilter> = {}): QueryFilter {
  return {
    user_data_128: 0n,
    user_data_64: 0n,
    user_data_32: 0,
    ledger: 0,
    code: 0,
    timestamp_min: 0n,
    timestamp_max: 0n,
    limit: 8189,
    flags: 0,
    ...fields,
  };
}

/** The operations both implementations provide (the subset of TigerBeetle's client the node uses). */
export interface Ledger {
  readonly kind: 'sqlite' | 'tigerbeetle';
  createAccounts(batch: readonly Account[]): Promise<CreateAccountResult[]>;
  createTransfers(batch: readonly Transfer[]): Promise<CreateTransferResult[]>;
  /** Accounts that exist, in request order; unknown ids are left out (as TigerBeetle does). */
  lookupAccounts(ids: readonly bigint[]): Promise<Account[]>;
  lookupTransfers(ids: readonly bigint[]): Promise<Transfer[]>;
  /** Transfers touching one account, by timestamp (reversed with AccountFilterFlags.reversed). */
  getAccountTransfers(filter: AccountFilter): Promise<Transfer[]>;
  /** Accounts matching the filter's non-zero fields, by creation timestamp. */
  queryAccounts(filter: QueryFilter): Promise<Account[]>;
  close(): Promise<void>;
}

/** An account with every field TigerBeetle requires, zeros where not given. */
export function account(
  fields: Pick<Account, 'id' | 'ledger' | 'code'> & Partial<Account>,
): Account {
  return {
    debits_pending: 0n,
    debits_posted: 0n,
    credits_pending: 0n,
    credits_posted: 0n,
    user_data_128: 0n,
    user_data_64: 0n,
    user_data_32: 0,
    reserved: 0,
    flags: 0,
    timestamp: 0n,
    ...fields,
  };
}

/** A transfer with every field TigerBeetle requires, zeros where not given. */
export function transfer(fields: Pick<Transfer, 'id'> & Partial<Transfer>): Transfer {
  return {
    debit_account_id: 0n,
    credit_account_id: 0n,
    amount: 0n,
    pending_id: 0n,
    user_data_128: 0n,
    user_data_64: 0n,
    user_data_32: 0,
    timeout: 0,
    ledger: 0,
    code: 0,
    flags: 0,
    timestamp: 0n,
    ...fields,
  };
}

export function accountFilter(
  fields: Pick<AccountFilter, 'account_id'> & Partial<AccountFilter>,
): AccountFilter {
  return {
    user_data_128: 0n,
    user_data_64: 0n,
    user_data_32: 0,
    code: 0,
    timestamp_min: 0n,
    timestamp_max: 0n,
    limit: 8189,
    flags: AccountFilterFlags.debits | AccountFilterFlags.credits,
    ...fields,
  };
}

/** Signed balance seen from the credit side: credits_posted - debits_posted. */
export const postedBalance = (a: Account): bigint => a.credits_posted - a.debits_posted;
/** What can still be debited from a debits_must_not_exceed_credits account. */
export const availableBalance = (a: Account): bigint =>
  a.credits_posted - a.debits_posted - a.debits_pending;
