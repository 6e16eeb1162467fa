import { createHash, randomBytes } from 'node:crypto';
import { M2mError } from '../../zkvm/errors.js';
import {
  type Account,
  AccountFlags,
  account,
  CreateAccountStatus,
  CreateTransferStatus,
  type Ledger,
  type Transfer,
  transfer,
  U128_MAX,
} from '../ledger/types.js';

/**
 * The escrow node's account map. Every account lives on the node that holds the buyer's money
 * (the escrow), so the party that decides a payment also controls the provider's bond.
 *   external          the outside world: deposits are debited here, withdrawals credited
 *   buyer:<id>        a buyer's escrow; PREPAREs hold funds from it
 *   revenue:<id>      a provider's earnings, credited when a payment is fulfilled
 *   stake:<id>        a provider's bond, slashed when a proof fails verification
 *   fees              the node's fee account (slashes go here with `slash.to: fees`)
 */
export const AccountCode = {
  external: 1,
  buyer: 10,
  revenue: 20,
  stake: 30,
  fees: 40,
} as const;
export type AccountRole = keyof typeof AccountCode;

export const TransferCode = {
  deposit: 1,
  withdrawal: 2,
  payment: 10,
  bond: 11,
} as const;

const u128Of = (text: string): bigint => {
  const digest = createHash('sha256').update(text).digest();
  const id = BigInt(`0x${digest.subarray(0, 16).toString('hex')}`);
  return id === 0n || id === U128_MAX ? 1n : id;
};

export function accountId(role: AccountRole, owner: string, assetLedger: number): bigint {
  return u128Of(`m2m/account/v1|${assetLedger}|${role}|${owner}`);
}

/** Deterministic transfer ids: a retried step always reuses its id (idempotent). */
export const transferId = (paymentId: string, step: string): bigint =>
  u128Of(`m2m/transfer/v1|${paymentId}|${step}`);

export const randomTransferId = (): bigint => {
  const id = BigInt(`0x${randomBytes(16).toString('hex')}`);
  return id === 0n || id === U128_MAX ? 1n : id;
};

const OWNERLESS: ReadonlySet<AccountRole> = new Set(['external', 'fees']);

export function accountSpec(role: AccountRole, owner: string, assetLedger: number): Account {
  const ownerKey = OWNERLESS.has(role) ? role : owner;
  return account({
    id: accountId(role, ownerKey, assetLedger),
    ledger: assetLedger,
    code: AccountCode[role],
    // Only the outside world may go negative; every other account holds real money.
    flags: role === 'external' ? 0 : AccountFlags.debits_must_not_exceed_credits,
  });
}

/** Creates accounts if missing; `exists` is success (ids are deterministic). */
export async function ensureAccounts(ledger: Ledger, specs: Account[]): Promise<void> {
  const results = await ledger.createAccounts(specs);
  results.forEach((r, i) => {
    if (r.status !== CreateAccountStatus.created && r.status !== CreateAccountStatus.exists)
      throw new M2mError(
        'LEDGER_ACCOUNT_FAILED',
        `cannot create account ${specs[i]?.id}: ${CreateAccountStatus[r.status]}`,
      );
  });
}

export type ChainOutcome =
  | { ok: true; alreadyApplied: boolean }
  | { ok: false; index: number; status: CreateTransferStatus };

/**
 * Submits transfers as one linked chain. A chain whose first event already `exists` was applied
 * before (chains are all-or-nothing and ids deterministic): that is success, which makes every
 * settlement step safe to repeat after a crash.
 */
export async function applyChain(ledger: Ledger, transfers: Transfer[]): Promise<ChainOutcome> {
  const linked = transfers.map((t, i) => ({
    ...t,
    flags: i < transfers.length - 1 ? t.flags | 1 : t.flags & ~1,
  }));
  const results = await ledger.createTransfers(linked);
  if (results.every((r) => r.status === CreateTransferStatus.created))
    return { ok: true, alreadyApplied: false };
  if (results[0]?.status === CreateTransferStatus.exists) return { ok: true, alreadyApplied: true };
  const index = results.findIndex(
    (r) =>
      r.status !== CreateTransferStatus.created &&
      r.status !== CreateTransferStatus.linked_event_failed,
  );
  return {
    ok: false,
    index,
    status: results[index]?.status ?? CreateTransferStatus.linked_event_failed,
  };
}

export interface MoveOptions {
  role: 'buyer' | 'stake' | 'revenue' | 'fees';
  owner: string;
  amount: bigint;
  assetLedger: number;
  /** Idempotency key of the deposit or withdrawal; random when absent. */
  id?: bigint;
}

/** Money entering the system: the only way the total held by the node's accounts grows. */
export async function deposit(ledger: Ledger, o: MoveOptions): Promise<bigint> {
  return move(ledger, o, 'deposit');
}

/** Money leaving the system (limited by the account's available balance). */
export async function withdraw(ledger: Ledger, o: MoveOptions): Promise<bigint> {
  return move(ledger, o, 'withdrawal');
}

async function move(
  ledger: Ledger,
  o: MoveOptions,
  kind: 'deposit' | 'withdrawal',
): Promise<bigint> {
  if (o.amount <= 0n)
    throw new M2mError('AMOUNT_INVALID', `a ${kind} amount must be positive, got ${o.amount}`);
  const world = accountSpec('external', 'world', o.assetLedger);
  const target = accountSpec(o.role, o.owner, o.assetLedger);
  await ensureAccounts(ledger, [world, target]);
  const id = o.id ?? randomTransferId();
  const [r] = await ledger.createTransfers([
    transfer({
      id,
      debit_account_id: kind === 'deposit' ? world.id : target.id,
      credit_account_id: kind === 'deposit' ? target.id : world.id,
      amount: o.amount,
      ledger: o.assetLedger,
      code: TransferCode[kind],
    }),
  ]);
  const status = r?.status ?? CreateTransferStatus.linked_event_failed;
  if (status === CreateTransferStatus.created || status === CreateTransferStatus.exists) return id;
  if (status === CreateTransferStatus.exceeds_credits)
    throw new M2mError(
      'BALANCE_INSUFFICIENT',
      `${o.role}:${o.owner} does not hold ${o.amount} available (pending holds count against it)`,
    );
  throw new M2mError('LEDGER_TRANSFER_FAILED', `${kind} failed: ${CreateTransferStatus[status]}`, {
    details: { status },
  });
}
