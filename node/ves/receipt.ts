/**
 * Sequencer receipts (VES spec §6.4): receipt_hash = SHA256("VES_RECEIPT_V1" || UUID(tenant) ||
 * UUID(store) || UUID(event) || U64_BE(sequence_number) || event_signing_hash), signed by the
 * sequencer's Ed25519 key so "the sequencer accepted this event at N" is provable later.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { M2mError } from '../../zkvm/errors.js';
import { hexToFixedBytes, u64be, uuidToBytes } from './merkle.js';

export const DOMAIN_RECEIPT = utf8ToBytes('VES_RECEIPT_V1');
export const RECEIPT_SIGNATURE_ALG = 'ed25519';

export interface ReceiptInput {
  tenantId: string;
  storeId: string;
  eventId: string;
  sequenceNumber: bigint | number;
  eventSigningHash: Uint8Array;
}

/** Wire shape of `VesReceipt` (OpenAPI, camelCase, hex without 0x as the reference server). */
export interface VesReceipt {
  sequencerId: string;
  eventId: string;
  sequenceNumber: number;
  sequencedAt: string;
  receiptHash: string;
  signatureAlg: string;
  sequencerSignature: string;
}

export function receiptPreimage(input: ReceiptInput): Uint8Array {
  if (input.eventSigningHash.length !== 32)
    throw new M2mError('VES_BAD_HASH', 'event signing hash must be 32 bytes');
  return concatBytes(
    DOMAIN_RECEIPT,
    uuidToBytes(input.tenantId),
    uuidToBytes(input.storeId),
    uuidToBytes(input.eventId),
    u64be(input.sequenceNumber),
    input.eventSigningHash,
  );
}

export function receiptHash(input: ReceiptInput): Uint8Array {
  return sha256(receiptPreimage(input));
}

export function sequencerPublicKey(secretKey: Uint8Array): Uint8Array {
  return ed25519.getPublicKey(secretKey);
}

/** Signs a 32-byte receipt hash; @noble/curves by default, any RFC 8032 signer fits. */
export type ReceiptSigner = (receiptHash: Uint8Array) => Uint8Array;

export const nobleReceiptSigner =
  (secretKey: Uint8Array): ReceiptSigner =>
  (hash) =>
    ed25519.sign(hash, secretKey);

/** Builds and signs the receipt for one sequenced event. */
export function signReceipt(
  input: ReceiptInput & { sequencedAt: string },
  sequencerId: string,
  signer: ReceiptSigner,
): VesReceipt {
  const hash = receiptHash(input);
  return {
    sequencerId,
    eventId: input.eventId,
    sequenceNumber: Number(input.sequenceNumber),
    sequencedAt: input.sequencedAt,
    receiptHash: bytesToHex(hash),
    signatureAlg: RECEIPT_SIGNATURE_ALG,
    sequencerSignature: bytesToHex(signer(hash)),
  };
}

/**
 * Checks a receipt against the event it claims (recomputes the hash, never trusts receiptHash)
 * and the sequencer's public key. Malformed input is invalid, never an exception.
 */
export function verifyReceipt(
  receipt: VesReceipt,
  event: Omit<ReceiptInput, 'sequenceNumber'>,
  sequencerPublicKeyBytes: Uint8Array,
): boolean {
  try {
    if (receipt.signatureAlg.toLowerCase() !== RECEIPT_SIGNATURE_ALG) return false;
    if (receipt.eventId.toLowerCase() !== event.eventId.toLowerCase()) return false;
    const hash = receiptHash({ ...event, sequenceNumber: receipt.sequenceNumber });
    if (bytesToHex(hash) !== bytesToHex(hexToFixedBytes(receipt.receiptHash, 32, 'receiptHash')))
      return false;
    const signature = hexToFixedBytes(receipt.sequencerSignature, 64, 'sequencerSignature');
    return ed25519.verify(signature, hash, sequencerPublicKeyBytes);
  } catch {
    return false;
  }
}
