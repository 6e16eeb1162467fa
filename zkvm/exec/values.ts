import { compareNum, formatDecimal, type Num } from '../numeric/decimal.js';

/** A run-time value: a number of the numeric model (bigint mantissa), a string or a boolean. */
export type Value = Num | string | boolean;
export type Rec = Record<string, Value>;
/** The JSON form of a record: numbers become canonical decimal strings. */
export type CanonicalRecord = Record<string, string | boolean>;

export function toCanonical(record: Rec): CanonicalRecord {
  const out: CanonicalRecord = {};
  for (const key of Object.keys(record)) {
    const value = record[key] as Value;
    out[key] = typeof value === 'bigint' ? formatDecimal(value) : value;
  }
  return out;
}

export function formatValue(value: Value): string {
  return typeof value === 'bigint' ? formatDecimal(value) : String(value);
}

/**
 * Orders strings by Unicode code point, which is UTF-8 byte order (what a Rust guest's `str`
 * comparison gives). JavaScript's `<` compares UTF-16 units and differs for astral characters.
 */
export function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x += x <= 0xdfff ? 0x2000 : -0x800;
    if (y >= 0xd800) y += y <= 0xdfff ? 0x2000 : -0x800;
    return x < y ? -1 : 1;
  }
  return a.length - b.length < 0 ? -1 : a.length === b.length ? 0 : 1;
}

/** Total order within one type: numbers by value, strings by code point, false < true. */
export function compareValues(a: Value, b: Value): number {
  if (typeof a === 'bigint' && typeof b === 'bigint') return compareNum(a, b);
  if (typeof a === 'string' && typeof b === 'string') return compareStrings(a, b);
  return a === b ? 0 : a === false ? -1 : 1;
}

/** Approximate bytes a value occupies; the basis of the memory limit (documented in COSTS.md). */
export function sizeOfValue(value: Value): number {
  return typeof value === 'string' ? 24 + Buffer.byteLength(value, 'utf8') : 16;
}

export function sizeOfRecord(record: Rec): number {
  let size = 32;
  for (const key in record) size += 16 + sizeOfValue(record[key] as Value);
  return size;
}

export function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}
