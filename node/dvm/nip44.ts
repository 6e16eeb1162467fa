import { v2 } from 'nostr-tools/nip44';
import { DVM_ERRORS, dvmError } from './errors.js';

/** NIP-44 v2 encrypts 1 to 65535 bytes of UTF-8 plaintext. */
export const MAX_NIP44_PLAINTEXT_BYTES = 65535;

/** NIP-44 v2 payload from `secretKey` to `recipientPubkey` (the conversation key is symmetric). */
export function encryptTo(
  plaintext: string,
  secretKey: Uint8Array,
  recipientPubkey: string,
  what: string,
): string {
  const bytes = Buffer.byteLength(plaintext, 'utf8');
  if (bytes < 1 || bytes > MAX_NIP44_PLAINTEXT_BYTES) {
    throw dvmError(
      DVM_ERRORS.contentTooLarge,
      `${what} is ${bytes} bytes; NIP-44 v2 encrypts 1 to ${MAX_NIP44_PLAINTEXT_BYTES}. Put large plans or data behind a url input and keep only the reference private`,
      { bytes, limit: MAX_NIP44_PLAINTEXT_BYTES },
    );
  }
  return v2.encrypt(plaintext, v2.utils.getConversationKey(secretKey, recipientPubkey));
}

export function decryptFrom(
  payload: string,
  secretKey: Uint8Array,
  senderPubkey: string,
  what: string,
): string {
  try {
    return v2.decrypt(payload, v2.utils.getConversationKey(secretKey, senderPubkey));
  } catch (cause) {
    throw dvmError(
      DVM_ERRORS.decryptFailed,
      `${what}: NIP-44 decryption failed (${cause instanceof Error ? cause.message : String(cause)}); it is encrypted for another key or was damaged in transit`,
      undefined,
      cause,
    );
  }
}
