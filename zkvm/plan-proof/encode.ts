import { M2mError } from '../errors.js';
import type { Rec, Value } from '../exec/values.js';
import type { ValueType } from '../plan/typecheck.js';
import { sortNames } from './layout.js';

/**
 * The felt encoding of record lists: what a data-input blob holds, and what the output hash
 * covers. A blob is a list of field elements, each a u64 below the Goldilocks prime:
 *
 *   [count, 0, 0, 0]                           header word
 *   per record, per field in name order:
 *     number  [lo, hi, 0, 0]                   u32 limbs of the two's-complement i64 mantissa
 *     boolean [0 or 1, 0, 0, 0]
 *     string  [n, 0, 0, 0] + n UTF-8 bytes, one per felt, zero-padded to a multiple of 4
 *   zero felts up to a multiple of 8
 *
 * Every item is word aligned, so a string in a blob is already an m2m::plan::str string in
 * place. The digest of a blob is the Poseidon2 sponge the VM computes while piping it in
 * (m2m::plan::data); `poseidon2:<hex>` names it.
 */
export type Felt = bigint;

const MASK32 = 0xffff_ffffn;

export function encodeValue(value: Value, type: ValueType, out: Felt[]): void {
  switch (type) {
    case 'num': {
      const u = BigInt.asUintN(64, value as bigint);
      out.push(u & MASK32, u >> 32n, 0n, 0n);
      return;
    }
    case 'bool':
      out.push(value === true ? 1n : 0n, 0n, 0n, 0n);
      return;
    case 'string': {
      const bytes = Buffer.from(value as string, 'utf8');
      out.push(BigInt(bytes.length), 0n, 0n, 0n);
      for (const byte of bytes) out.push(BigInt(byte));
      while (out.length % 4 !== 0) out.push(0n);
      return;
    }
  }
}

/** Encodes records of the given field types (every record must have every field). */
export function encodeRecords(records: readonly Rec[], types: Map<string, ValueType>): Felt[] {
  const names = sortNames(types.keys());
  const out: Felt[] = [BigInt(records.length), 0n, 0n, 0n];
  for (const record of records) {
    for (const name of names) {
      const value = record[name];
      if (value === undefined)
        throw new M2mError('PLAN_PROOF_ENCODING', `record has no field "${name}"`);
      encodeValue(value, types.get(name) as ValueType, out);
    }
  }
  while (out.length % 8 !== 0) out.push(0n);
  return out;
}

/** A sha256 digest ("sha256:<hex>") as 8 felts: its big-endian u32 words in order. */
export function sha256Felts(digest: string): Felt[] {
  const hex = digest.replace(/^sha256:/, '');
  if (!/^[0-9a-f]{64}$/.test(hex))
    throw new M2mError('PLAN_PROOF_ENCODING', `not a sha256 digest: ${digest}`);
  const felts: Felt[] = [];
  for (let i = 0; i < 8; i++) felts.push(BigInt(`0x${hex.slice(i * 8, i * 8 + 8)}`));
  return felts;
}

export const POSEIDON2_PREFIX = 'poseidon2:';

/** A Poseidon2 digest (4 felts) as hex: each felt as 8 little-endian bytes, in order. */
export function digestToHex(felts: readonly Felt[]): string {
  if (felts.length !== 4) throw new M2mError('PLAN_PROOF_ENCODING', 'a digest is 4 felts');
  const bytes = Buffer.alloc(32);
  felts.forEach((felt, i) => {
    bytes.writeBigUInt64LE(felt, i * 8);
  });
  return bytes.toString('hex');
}

export function hexToDigest(hex: string): Felt[] {
  const clean = hex.replace(/^poseidon2:/, '');
  if (!/^[0-9a-f]{64}$/.test(clean))
    throw new M2mError('PLAN_PROOF_ENCODING', `not a Poseidon2 digest: ${hex}`);
  const bytes = Buffer.from(clean, 'hex');
  return [0, 1, 2, 3].map((i) => bytes.readBigUInt64LE(i * 8));
}
