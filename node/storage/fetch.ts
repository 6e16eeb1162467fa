import { join } from 'node:path';
import { fromDigest } from '../../zkvm/commitment/digest.js';
import { BlossomClient } from './blossom-client.js';
import { ProofCache } from './cache.js';
import { FallbackProofStorage } from './fallback.js';
import { checkSha256 } from './hash.js';
import { normalizeServerUrl, refFromUri } from './ref.js';
import type { ProofStorage } from './types.js';

/**
 * Fetches the bytes a `proof-ref` tag points at and checks them against both addresses: the
 * reference's own (SHA-256 or CID, checked by the store) and the tag's `sha256:<hex>` digest.
 * Throws STORAGE_* errors.
 */
export type ProofFetcher = (uri: string, sha256Digest: string) => Promise<Uint8Array>;

export interface ProofFetcherOptions {
  /** Blossom servers tried after the reference's own. */
  blossomServers?: string[] | undefined;
  /** A Kubo RPC API to fetch ipfs: references through. */
  kuboApi?: string | undefined;
  /** IPFS gateways tried after the reference's own hints. */
  gateways?: string[] | undefined;
  /** Keep fetched proofs in `<dataDir>/proof-cache` (checked again on every read). */
  dataDir?: string | undefined;
  cacheBytes?: number | undefined;
  timeoutMs?: number | undefined;
}

/** A fetcher for a verifier: needs no configuration, since references carry their servers. */
export function createProofFetcher(options: ProofFetcherOptions = {}): ProofFetcher {
  const servers = (options.blossomServers ?? []).map((s) => normalizeServerUrl(s));
  const kuboApi =
    options.kuboApi === undefined ? undefined : normalizeServerUrl(options.kuboApi, 'Kubo API');
  let storage: Promise<FallbackProofStorage> | undefined;
  const open = async () => {
    const stores: ProofStorage[] = [];
    if (servers.length > 0)
      stores.push(new BlossomClient({ servers, timeoutMs: options.timeoutMs }));
    if (kuboApi !== undefined) {
      // Loaded on first use: the IPFS modules take a second or more to import.
      const { KuboProofStorage } = await import('./ipfs.js');
      stores.push(new KuboProofStorage(kuboApi, { timeoutMs: options.timeoutMs }));
    }
    return new FallbackProofStorage(stores, { timeoutMs: options.timeoutMs });
  };
  const gateways = (options.gateways ?? []).map((g) => normalizeServerUrl(g, 'gateway'));
  const cache =
    options.dataDir === undefined
      ? undefined
      : new ProofCache(
          join(options.dataDir, 'proof-cache'),
          options.cacheBytes ?? 256 * 1024 * 1024,
        );
  return async (uri, sha256Digest) => {
    const sha256 = fromDigest(sha256Digest).toString('hex');
    const cached = cache?.get(sha256);
    if (cached !== undefined) return cached;
    const ref = refFromUri(uri);
    const withHints =
      ref.store === 'ipfs'
        ? { ...ref, gateways: [...new Set([...ref.gateways, ...gateways])] }
        : ref;
    storage ??= open();
    const bytes = await (await storage).fetch(withHints);
    checkSha256(bytes, sha256, `the store of ${uri} (against the proof-ref tag's digest)`);
    cache?.put(sha256, bytes);
    return bytes;
  };
}
