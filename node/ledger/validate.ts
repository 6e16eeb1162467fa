import { M2mError } from '../../zkvm/errors.js';
import { type Account, type Transfer, U64_MAX, U128_MAX } from './types.js';

const U32_MAX = 0xffff_ffff;
const U16_MAX = 0xffff;

function bigField(name: string, value: unknown, max: bigint, index: number): void {
  if (typeof value !== 'bigint' || value < 0n || value > max)
    throw new M2mError(
      'LEDGER_FIELD_RANGE',
      `event ${index}: ${name} must be a bigint from 0 to ${max === U128_MAX ? '2^128-1' : '2^64-1'}, got ${String(value)}`,
      { details: { index, field: name } },
    );
}

function smallField(name: string, value: unknown, max: number, index: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max)
    throw new M2mError(
      'LEDGER_FIELD_RANGE',
      `event ${index}: ${name} must be an integer from 0 to ${max}, got ${String(value)}`,
      { details: { index, field: name } },
    );
}

/**
 * Refuses a batch whose fields do not fit TigerBeetle's wire types (u128 ids and amounts, u64,
 * u32, u16), before anything is applied: TigerBeetle's client cannot encode such a batch either.
 */
export function assertAccountFields(batch: readonly Account[]): void {
  batch.forEach((a, i) => {
    for (const f of [
      'id',
      'debits_pending',
      'debits_posted',
      'credits_pending',
      'credits_posted',
      'user_data_128',
    ] as const)
      bigField(f, a[f], U128_MAX, i);
    bigField('user_data_64', a.user_data_64, U64_MAX, i);
    bigField('timestamp', a.timestamp, U64_MAX, i);
    smallField('user_data_32', a.user_data_32, U32_MAX, i);
    smallField('reserved', a.reserved, U32_MAX, i);
    smallField('ledger', a.ledger, U32_MAX, i);
    smallField('code', a.code, U16_MAX, i);
    smallField('flags', a.flags, U16_MAX, i);
  });
}

export function assertTransferFields(batch: readonly Transfer[]): void {
  batch.forEach((t, i) => {
    for (const f of [
      'id',
      'debit_account_id',
      'credit_account_id',
      'amount',
      'pending_id',
      'user_data_128',
    ] as const)
      bigField(f, t[f], U128_MAX, i);
    bigField('user_data_64', t.user_data_64, U64_MAX, i);
    bigField('timestamp', t.timestamp, U64_MAX, i);
    smallField('user_data_32', t.user_data_32, U32_MAX, i);
    smallField('timeout', t.timeout, U32_MAX, i);
    smallField('ledger', t.ledger, U32_MAX, i);
    smallField('code', t.code, U16_MAX, i);
    smallField('flags', t.flags, U16_MAX, i);
  });
}

/** TigerBeetle's maximum batch size (events per request) with the default message size. */
export const MAX_BATCH = 8189;

export function assertBatchSize(length: number): void {
  if (length > MAX_BATCH)
    throw new M2mError(
      'LEDGER_BATCH_TOO_LARGE',
      `a batch holds at most ${MAX_BATCH} events, got ${length}; split it`,
    );
}
