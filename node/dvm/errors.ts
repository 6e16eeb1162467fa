import { M2mError } from '../../zkvm/errors.js';

/**
 * Stable codes of the DVM event layer. Like every M2mError code they are part of the public
 * contract: never rename one, only add. `details.tag` names the offending tag where there is one.
 */
export const DVM_ERRORS = {
  /** Not a well-formed NIP-01 event, or its id or signature does not check out. */
  badEvent: 'DVM_BAD_EVENT',
  /** A valid event of another kind than the parser expects. */
  wrongKind: 'DVM_WRONG_KIND',
  /** A tag the kind requires is absent (`details.tag`). */
  missingTag: 'DVM_MISSING_TAG',
  /** A tag is present but malformed, repeated, or contradicts another (`details.tag`). */
  badTag: 'DVM_BAD_TAG',
  /** `content` is not what the kind carries (JSON output, handler metadata, NIP-44 payload). */
  badContent: 'DVM_BAD_CONTENT',
  /** The event, an inline proof, or a plaintext to encrypt is over its size limit. */
  contentTooLarge: 'DVM_CONTENT_TOO_LARGE',
  /** NIP-44 decryption failed: another recipient's key, or a damaged payload. */
  decryptFailed: 'DVM_DECRYPT_FAILED',
} as const;

export type DvmErrorCode = (typeof DVM_ERRORS)[keyof typeof DVM_ERRORS];

export function dvmError(
  code: DvmErrorCode,
  message: string,
  details?: Record<string, unknown>,
  cause?: unknown,
): M2mError {
  return new M2mError(code, message, { details, cause });
}
