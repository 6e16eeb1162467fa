import { createHash } from 'node:crypto';
import { STORAGE_ERRORS, storageError } from './errors.js';

export const sha256Hex = (bytes: Uint8Array): string =>
  createHash('sha256').update(bytes).digest('hex');

/** Throws STORAGE_HASH_MISMATCH unless `bytes` hash to `expected` (64 hex). */
export function checkSha256(bytes: Uint8Array, expected: string, where: string): void {
  const actual = sha256Hex(bytes);
  if (actual !== expected)
    throw storageError(
      STORAGE_ERRORS.hashMismatch,
      `${where} returned ${bytes.length} bytes hashing to sha256 ${actual}, not ${expected}: the content does not match its address; the store is faulty or the blob was tampered with`,
      { expected, actual, where },
    );
}
