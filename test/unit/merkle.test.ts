import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, toDigest } from '../../zkvm/commitment/digest.js';
import {
  hashLeaf,
  hashNode,
  merkleRoot,
  merkleRootOfLeafHashes,
} from '../../zkvm/commitment/merkle.js';

const sha = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

/** RFC 6962 section 2.1, written recursively as in the RFC: the oracle for the iterative code. */
function rfc6962(leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return sha();
  if (leaves.length === 1) return sha(Buffer.of(0), leaves[0] as Buffer);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha(Buffer.of(1), rfc6962(leaves.slice(0, k)), rfc6962(leaves.slice(k)));
}

describe('Merkle tree (RFC 6962 shape)', () => {
  it('empty tree is SHA-256 of the empty string', () => {
    expect(merkleRoot([])).toBe(
      'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });

  it('matches the recursive RFC definition for every size from 1 to 70', () => {
    for (let n = 1; n <= 70; n++) {
      const leaves = Array.from({ length: n }, (_, i) => Buffer.from(`leaf-${i}`));
      expect(merkleRoot(leaves), `n=${n}`).toBe(toDigest(rfc6962(leaves)));
    }
  });

  it('separates leaves from nodes with 0x00 / 0x01 prefixes', () => {
    const a = Buffer.from('a');
    const b = Buffer.from('b');
    expect(hashLeaf(a)).toEqual(sha(Buffer.of(0), a));
    expect(hashNode(a, b)).toEqual(sha(Buffer.of(1), a, b));
    // A two-leaf root cannot be reproduced as a single leaf over the concatenated child hashes.
    const two = merkleRoot([a, b]);
    const forged = merkleRoot([Buffer.concat([hashLeaf(a), hashLeaf(b)])]);
    expect(forged).not.toBe(two);
  });

  it('does not duplicate an odd last node (3 leaves differ from 4 with a repeated last)', () => {
    const [a, b, c] = ['a', 'b', 'c'].map((s) => Buffer.from(s)) as [Buffer, Buffer, Buffer];
    expect(merkleRoot([a, b, c])).not.toBe(merkleRoot([a, b, c, c]));
  });

  it('order of leaves matters', () => {
    const leaves = ['x', 'y', 'z'].map((s) => Buffer.from(s));
    expect(merkleRoot(leaves)).not.toBe(merkleRoot([...leaves].reverse()));
  });

  it('pins a fixed vector for record leaves (canonical JSON)', () => {
    const records = [
      { b: '1.5', a: 'x' },
      { a: 'y', b: '-2' },
    ];
    const leafHashes = records.map((r) => hashLeaf(Buffer.from(canonicalJson(r))));
    expect(canonicalJson(records[0])).toBe('{"a":"x","b":"1.5"}');
    expect(toDigest(merkleRootOfLeafHashes(leafHashes))).toBe(
      toDigest(
        sha(
          Buffer.of(1),
          sha(Buffer.of(0), Buffer.from('{"a":"x","b":"1.5"}')),
          sha(Buffer.of(0), Buffer.from('{"a":"y","b":"-2"}')),
        ),
      ),
    );
  });
});
