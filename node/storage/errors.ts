import { M2mError } from '../../zkvm/errors.js';

/**
 * Stable codes of proof storage (node/storage, node/blossom). Part of the public contract: never
 * rename one, only add. `details.store` names the store (`blossom:<server>`, `ipfs:helia`, ...).
 */
export const STORAGE_ERRORS = {
  /** A proof reference URI that does not parse (`blossom:`, `ipfs:`). */
  badRef: 'STORAGE_BAD_REF',
  /** Fetched bytes do not hash to the reference's address (sha256 or CID). */
  hashMismatch: 'STORAGE_HASH_MISMATCH',
  /** No store holds the blob (every one answered 404 / not found). */
  notFound: 'STORAGE_NOT_FOUND',
  /** A store could not be reached or failed; with several, all of them did (`details.failures`). */
  unavailable: 'STORAGE_UNAVAILABLE',
  /** A store refused an upload or a delete (auth, quota, size); `details.status` and reason. */
  rejected: 'STORAGE_REJECTED',
  /** The blob is over the size limit. */
  tooLarge: 'STORAGE_TOO_LARGE',
  /** The operation does not apply to this kind of reference (e.g. pinning a Blossom ref on IPFS). */
  unsupported: 'STORAGE_UNSUPPORTED',
} as const;

export type StorageErrorCode = (typeof STORAGE_ERRORS)[keyof typeof STORAGE_ERRORS];

export function storageError(
  code: StorageErrorCode,
  message: string,
  details?: Record<string, unknown>,
  cause?: unknown,
): M2mError {
  return new M2mError(code, message, { details, cause });
}

/** A short text for an error from fetch() or a store, for `details.failures`. */
export function describeFailure(error: unknown): string {
  if (error instanceof M2mError) return `${error.code}: ${error.message}`;
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    const why = cause instanceof Error ? `: ${cause.message}` : '';
    return `${error.message}${why}`;
  }
  return String(error);
}
