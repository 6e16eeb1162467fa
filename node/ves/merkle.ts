/**
 * VES v1 Merkle commitments (VES spec §10–§12): leaf and node hashes with domain separators,
 * power-of-two padding with PAD_LEAF, events root over a contiguous sequence range, inclusion
 * proofs whose sibling side follows from the leaf index bits, and the stream identifier.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { M2mError } from '../../zkvm/errors.js';

export const DOMAIN_LEAF = utf8ToBytes('VES_LEAF_V1');
export const DOMAIN_NODE = utf8ToBytes('VES_NODE_V1');
export const DOMAIN_PAD_LEAF = utf8ToBytes('VES_PAD_LEAF_V1');
export const DOMAIN_STREAM = utf8ToBytes('VES_STREAM_V1');

/** SHA256("VES_PAD_LEAF_V1"): fills a level up to the next power of two. */
export const PAD_LEAF: Uint8Array = sha256(DOMAIN_PAD_LEAF);

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The 16 bytes of a canonical UUID string (RFC 4122 network order). */
export function uuidToBytes(uuid: string): Uint8Array {
  if (!UUID_RE.test(uuid)) throw new M2mError('VES_BAD_UUID', `not a UUID: ${uuid}`);
  return hexToBytes(uuid.replaceAll('-', '').toLowerCase());
}

/** U64_BE: 8-byte big-endian unsigned integer. */
export function u64be(value: bigint | number): Uint8Array {
  const n = BigInt(value);
  if (n < 0n || n > 0xffff_ffff_ffff_ffffn)
    throw new M2mError('VES_BAD_U64', `not a u64: ${value.toString()}`);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, n, false);
  return out;
}

/** Hex (with or without 0x) to exactly `length` bytes, or a VES_BAD_HEX error. */
export function hexToFixedBytes(hex: string, length: number, what: string): Uint8Array {
  const body = hex.startsWith('0x') || hex.startsWith('0X') ? hex.slice(2) : hex;
  if (body.length !== length * 2 || !/^[0-9a-fA-F]*$/.test(body))
    throw new M2mError('VES_BAD_HEX', `${what} must be ${length} bytes of hex`, {
      details: { what, length },
    });
  return hexToBytes(body.toLowerCase());
}

export interface VesLeafInput {
  tenantId: string;
  storeId: string;
  sequenceNumber: bigint | number;
  /** 32-byte event signing hash (VES-SIG-1). */
  eventSigningHash: Uint8Array;
  /** 64-byte agent Ed25519 signature. */
  agentSignature: Uint8Array;
}

/** The 147-byte leaf preimage: DOMAIN_LEAF || tenant || store || U64_BE(seq) || esh || sig. */
export function vesLeafPreimage(leaf: VesLeafInput): Uint8Array {
  if (leaf.eventSigningHash.length !== 32)
    throw new M2mError('VES_BAD_HASH', 'event signing hash must be 32 bytes');
  if (leaf.agentSignature.length !== 64)
    throw new M2mError('VES_BAD_SIGNATURE', 'agent signature must be 64 bytes');
  return concatBytes(
    DOMAIN_LEAF,
    uuidToBytes(leaf.tenantId),
    uuidToBytes(leaf.storeId),
    u64be(leaf.sequenceNumber),
    leaf.eventSigningHash,
    leaf.agentSignature,
  );
}

export function vesLeafHash(leaf: VesLeafInput): Uint8Array {
  return sha256(vesLeafPreimage(leaf));
}

/** SHA256("VES_NODE_V1" || left || right). */
export function vesNodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  if (left.length !== 32 || right.length !== 32)
    throw new M2mError('VES_BAD_HASH', 'Merkle children must be 32 bytes each');
  return sha256(concatBytes(DOMAIN_NODE, left, right));
}

/** SHA256("VES_STREAM_V1" || UUID(tenant) || UUID(store)). */
export function vesStreamId(tenantId: string, storeId: string): Uint8Array {
  return sha256(concatBytes(DOMAIN_STREAM, uuidToBytes(tenantId), uuidToBytes(storeId)));
}

function nextPowerOfTwo(n: number): number {
  let m = 1;
  while (m < n) m *= 2;
  return m;
}

/** Every level of the padded tree, leaves first, root level last. */
function buildLevels(leaves: readonly Uint8Array[]): Uint8Array[][] {
  if (leaves.length === 0)
    throw new M2mError('VES_EMPTY_BATCH', 'a Merkle tree needs at least one leaf');
  const width = nextPowerOfTwo(leaves.length);
  let level: Uint8Array[] = [...leaves];
  while (level.length < width) level.push(PAD_LEAF);
  const levels = [level];
  while (level.length > 1) {
    const up: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2)
      up.push(vesNodeHash(level[i] as Uint8Array, level[i + 1] as Uint8Array));
    levels.push(up);
    level = up;
  }
  return levels;
}

/** Events root over leaves in sequence order, padded to the next power of two with PAD_LEAF. */
export function vesMerkleRoot(leaves: readonly Uint8Array[]): Uint8Array {
  const levels = buildLevels(leaves);
  return (levels[levels.length - 1] as Uint8Array[])[0] as Uint8Array;
}

export interface VesInclusionProof {
  leafHash: Uint8Array;
  leafIndex: number;
  /** Sibling hashes bottom-up; the side follows from bit d of leafIndex. */
  proofPath: Uint8Array[];
  root: Uint8Array;
}

/** Inclusion proof for the leaf at `index` (index = sequence_number - sequence_start). */
export function vesInclusionProof(leaves: readonly Uint8Array[], index: number): VesInclusionProof {
  if (!Number.isInteger(index) || index < 0 || index >= leaves.length)
    throw new M2mError(
      'VES_BAD_LEAF_INDEX',
      `leaf index ${index} is outside 0..${leaves.length - 1}`,
    );
  const levels = buildLevels(leaves);
  const proofPath: Uint8Array[] = [];
  let i = index;
  for (let d = 0; d < levels.length - 1; d++) {
    proofPath.push((levels[d] as Uint8Array[])[i ^ 1] as Uint8Array);
    i >>= 1;
  }
  return {
    leafHash: leaves[index] as Uint8Array,
    leafIndex: index,
    proofPath,
    root: (levels[levels.length - 1] as Uint8Array[])[0] as Uint8Array,
  };
}

/** Root recomputed from a leaf and its path (spec §11.2). */
export function vesRootFromProof(
  leafHash: Uint8Array,
  leafIndex: number,
  proofPath: readonly Uint8Array[],
): Uint8Array {
  if (!Number.isInteger(leafIndex) || leafIndex < 0)
    throw new M2mError('VES_BAD_LEAF_INDEX', 'leaf index must be a non-negative integer');
  if (proofPath.length < 31 && leafIndex >= 2 ** proofPath.length)
    throw new M2mError('VES_BAD_LEAF_INDEX', 'leaf index does not fit the proof path length');
  let current = leafHash;
  for (let d = 0; d < proofPath.length; d++) {
    const sibling = proofPath[d] as Uint8Array;
    current =
      Math.floor(leafIndex / 2 ** d) % 2 === 0
        ? vesNodeHash(current, sibling)
        : vesNodeHash(sibling, current);
  }
  return current;
}

/** True when the path leads from the leaf to `root`; malformed input is simply invalid. */
export function vesVerifyInclusion(proof: VesInclusionProof): boolean {
  try {
    const computed = vesRootFromProof(proof.leafHash, proof.leafIndex, proof.proofPath);
    return bytesToHex(computed) === bytesToHex(proof.root);
  } catch {
    return false;
  }
}
