/**
 * The two hashes fixed when an event gets its sequence number, built for the ingest hot path:
 * both preimages are written into one reused scratch buffer (no per-field arrays) and hashed
 * with node:crypto SHA-256. Byte formats are exactly `vesLeafPreimage` (node/ves/merkle.ts,
 * VES spec §10) and `receiptPreimage` (node/ves/receipt.ts, §6.4); the sequencer conformance
 * suite checks stored leaves and receipts against those reference functions.
 */
import { sha256Native, writeUuidBytes } from '../ves/hash.js';

const LEAF = Buffer.from('VES_LEAF_V1', 'utf8');
const RECEIPT = Buffer.from('VES_RECEIPT_V1', 'utf8');
/** DOMAIN_LEAF + 2 UUIDs + U64 + 32 + 64 = 147 bytes; the receipt preimage is shorter. */
const scratch = Buffer.alloc(LEAF.length + 16 + 16 + 8 + 32 + 64);

export interface SealHashes {
  /** Hex, 32 bytes. */
  leafHash: string;
  /** Hex, 32 bytes. */
  receiptHash: string;
}

/**
 * `uuids` are lowercase canonical UUIDs and the hashes lowercase hex, as ingest stores them
 * (validated before they get here); anything else is a programming error and throws.
 */
export function sealHashes(
  tenantId: string,
  storeId: string,
  eventId: string,
  sequenceNumber: number,
  eventSigningHashHex: string,
  agentSignatureHex: string,
): SealHashes {
  if (!Number.isSafeInteger(sequenceNumber) || sequenceNumber < 0)
    throw new Error(`not a sequence number: ${sequenceNumber}`);
  let at = LEAF.copy(scratch, 0);
  at = writeUuid(at, tenantId);
  at = writeUuid(at, storeId);
  scratch.writeBigUInt64BE(BigInt(sequenceNumber), at);
  at = writeHex(at + 8, eventSigningHashHex, 32);
  at = writeHex(at, agentSignatureHex, 64);
  const leafHash = sha256Native(scratch.subarray(0, at)).toString('hex');

  at = RECEIPT.copy(scratch, 0);
  at = writeUuid(at, tenantId);
  at = writeUuid(at, storeId);
  at = writeUuid(at, eventId);
  scratch.writeBigUInt64BE(BigInt(sequenceNumber), at);
  at = writeHex(at + 8, eventSigningHashHex, 32);
  const receiptHash = sha256Native(scratch.subarray(0, at)).toString('hex');
  return { leafHash, receiptHash };
}

function writeUuid(at: number, uuid: string): number {
  writeUuidBytes(scratch, at, uuid);
  return at + 16;
}

function writeHex(at: number, hex: string, bytes: number): number {
  if (hex.length !== bytes * 2 || scratch.write(hex, at, bytes, 'hex') !== bytes)
    throw new Error(`expected ${bytes} bytes of hex`);
  return at + bytes;
}
