import { type Sha256Digest, sha256, toDigest } from './digest.js';

/**
 * Binary Merkle tree in the shape of RFC 6962 (Certificate Transparency), section 2.1:
 *   empty tree   MTH({})    = SHA-256("")
 *   leaf         leaf(d)    = SHA-256(0x00 || d)
 *   node         node(l, r) = SHA-256(0x01 || l || r)
 *   n > 1        MTH(D[n])  = node(MTH(D[0:k]), MTH(D[k:n])), k = largest power of two < n
 * The 0x00/0x01 prefixes separate leaves from nodes, so no leaf can pose as a node
 * (second-preimage safe); an odd last node is never duplicated (no CVE-2012-2459 ambiguity).
 */
const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);

export const hashLeaf = (data: Uint8Array): Buffer => sha256(LEAF_PREFIX, data);
export const hashNode = (left: Uint8Array, right: Uint8Array): Buffer =>
  sha256(NODE_PREFIX, left, right);

/** Root over already-hashed leaves. Iterative, so 10^6 leaves need no deep recursion. */
export function merkleRootOfLeafHashes(leafHashes: readonly Uint8Array[]): Buffer {
  if (leafHashes.length === 0) return sha256();
  // Bottom-up pairing with the lone last node promoted unchanged is exactly RFC 6962's
  // largest-power-of-two split.
  let level: Uint8Array[] = [...leafHashes];
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) {
      next.push(hashNode(level[i] as Uint8Array, level[i + 1] as Uint8Array));
    }
    if (level.length % 2 === 1) next.push(level[level.length - 1] as Uint8Array);
    level = next;
  }
  return Buffer.from(level[0] as Uint8Array);
}

export function merkleRoot(leaves: readonly Uint8Array[]): Sha256Digest {
  return toDigest(merkleRootOfLeafHashes(leaves.map(hashLeaf)));
}
