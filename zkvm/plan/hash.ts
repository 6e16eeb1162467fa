import { canonicalJsonBytes, type Sha256Digest, sha256, toDigest } from '../commitment/digest.js';

/**
 * Plan hash: `sha256:` + SHA-256 over the RFC 8785 canonical JSON of the plan document as
 * written (no defaults filled in). YAML and JSON spellings of one plan, and any key order,
 * hash alike.
 */
export function computePlanHash(plan: unknown): Sha256Digest {
  return toDigest(sha256(canonicalJsonBytes(plan)));
}
