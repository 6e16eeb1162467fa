import { createHash } from 'node:crypto';
import canonicalizeModule from 'canonicalize';
import { M2mError } from '../errors.js';

// The package is CommonJS whose typings declare `export default`; at run time the default import
// is the function itself.
const canonicalize = canonicalizeModule as unknown as (value: unknown) => string | undefined;

/** Digests travel as `<scheme>:<lowercase hex>`; sha256 is the scheme for everything here. */
export type Sha256Digest = `sha256:${string}`;

export const SHA256_DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

export function sha256(...parts: Uint8Array[]): Buffer {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

export function toDigest(bytes: Uint8Array): Sha256Digest {
  return `sha256:${Buffer.from(bytes).toString('hex')}`;
}

export function fromDigest(digest: string): Buffer {
  if (!SHA256_DIGEST_RE.test(digest)) {
    throw new M2mError('INVALID_DIGEST', `expected "sha256:<64 lowercase hex>", got "${digest}"`);
  }
  return Buffer.from(digest.slice('sha256:'.length), 'hex');
}

/** RFC 8785 (JCS) canonical JSON text. Rejects values JSON cannot carry (NaN, Infinity, bigint). */
export function canonicalJson(value: unknown): string {
  let text: string | undefined;
  try {
    text = canonicalize(value);
  } catch (cause) {
    throw new M2mError('CANONICAL_JSON', `value cannot be canonicalised: ${String(cause)}`, {
      cause,
    });
  }
  if (text === undefined) {
    throw new M2mError('CANONICAL_JSON', 'value cannot be canonicalised (undefined)');
  }
  return text;
}

export function canonicalJsonBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}
