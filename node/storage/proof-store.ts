import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type BlossomServer, startBlossomServer } from '../blossom/server.js';
import { BlossomClient } from './blossom-client.js';
import { ProofCache } from './cache.js';
import type { ProofStoreConfig } from './config.js';
import { describeFailure, STORAGE_ERRORS, storageError } from './errors.js';
import { type FallbackOptions, FallbackProofStorage, type StoreFailure } from './fallback.js';
import { checkSha256, sha256Hex } from './hash.js';
import type { HeliaProofStorage } from './ipfs.js';
import { ProofIndex, type ProofRow } from './proof-index.js';
import { parseProofRef } from './ref.js';
import type { ProofStorage, StoredProof } from './types.js';

export interface GcReport {
  /** Copies deleted from their store and forgotten. */
  deleted: { uri: string; sha256: string; size: number }[];
  /** Copies that were collectable but whose store could not delete them (kept for next time). */
  failed: { uri: string; reason: string }[];
  /** Copies kept: pinned, within retention, or referenced by an unsettled job. */
  kept: number;
}

export interface ProofStoreOptions extends FallbackOptions {
  /** The key that signs Blossom uploads and deletes (kind 24242). */
  secretKey?: Uint8Array | undefined;
}

/**
 * A node's proof storage: the stores in fallback order (its own and other Blossom servers, then
 * IPFS), the local LRU cache, and the index behind pinning and garbage collection. The embedded
 * Blossom server, when configured, runs inside it and also serves the Helia node's files at
 * `/ipfs/<cid>` so other nodes can fetch IPFS proofs from an offline node.
 */
export class ProofStore {
  private constructor(
    readonly storage: FallbackProofStorage,
    readonly index: ProofIndex,
    readonly cache: ProofCache,
    readonly config: ProofStoreConfig,
    readonly server: BlossomServer | undefined,
  ) {}

  static async open(
    config: ProofStoreConfig,
    options: ProofStoreOptions = {},
  ): Promise<ProofStore> {
    mkdirSync(config.dataDir, { recursive: true });
    const index = new ProofIndex(join(config.dataDir, 'proofs.db'));
    const cache = new ProofCache(join(config.dataDir, 'proof-cache'), config.cacheBytes, (sha) =>
      index.isPinned(sha),
    );
    let server: BlossomServer | undefined;
    let helia: HeliaProofStorage | undefined;
    const stores: ProofStorage[] = [];
    try {
      // Loaded only when configured: the IPFS modules take a second or more to import.
      const ipfs = config.ipfs.kind === 'none' ? undefined : await import('./ipfs.js');
      if (config.ipfs.kind === 'helia') helia = await ipfs?.HeliaProofStorage.open(config.ipfs.dir);
      if (config.embeddedBlossom !== false) {
        const embedded = config.embeddedBlossom;
        const gateway = helia;
        server = await startBlossomServer({
          ...embedded,
          ...(gateway === undefined
            ? {}
            : {
                ipfsGateway: async (cid: string) => {
                  try {
                    return await gateway.fetch({ store: 'ipfs', cid, gateways: [] });
                  } catch {
                    return undefined;
                  }
                },
              }),
        });
      }
      const servers = [...(server === undefined ? [] : [server.url]), ...config.blossomServers];
      if (servers.length > 0)
        stores.push(
          new BlossomClient({
            servers,
            secretKey: options.secretKey,
            mirrors: config.mirrors,
            timeoutMs: config.timeoutMs,
          }),
        );
      const gateways = [
        ...(server !== undefined && helia !== undefined ? [server.url] : []),
        ...config.gateways,
      ];
      if (helia !== undefined) stores.push(helia.withGateways(gateways));
      if (config.ipfs.kind === 'kubo' && ipfs !== undefined)
        stores.push(
          new ipfs.KuboProofStorage(config.ipfs.api, { gateways, timeoutMs: config.timeoutMs }),
        );
    } catch (error) {
      await server?.close();
      await helia?.close();
      index.close();
      throw error;
    }
    const storage = new FallbackProofStorage(stores, { ...options, timeoutMs: config.timeoutMs });
    return new ProofStore(storage, index, cache, config, server);
  }

  /** Uploads a proof through the fallback chain, records it (for `jobId`), and caches it. */
  async upload(
    bytes: Uint8Array,
    options: { jobId?: string | undefined; now?: number } = {},
  ): Promise<StoredProof> {
    const stored = await this.storage.upload(bytes);
    this.index.record({ ...stored, createdMs: options.now ?? Date.now() });
    if (options.jobId !== undefined) this.index.reference(stored.sha256, options.jobId);
    this.cache.put(stored.sha256, bytes);
    return stored;
  }

  /**
   * Fetches by reference URI: the cache first (re-hashed), then the stores and the reference's
   * hints, each checking the content against its address; `sha256` (64 hex), when given, must
   * match too (the `proof-ref` tag's digest).
   */
  async fetch(uri: string, expectedSha256?: string): Promise<Uint8Array> {
    const ref = parseProofRef(uri);
    const key = ref.store === 'blossom' ? ref.sha256 : expectedSha256;
    if (key !== undefined) {
      const cached = this.cache.get(key);
      if (cached !== undefined) return cached;
    }
    const bytes = await this.storage.fetch(ref);
    if (expectedSha256 !== undefined) checkSha256(bytes, expectedSha256, `the store of ${uri}`);
    this.cache.put(sha256Hex(bytes), bytes);
    return bytes;
  }

  /** Keeps a proof: pins it in its store and exempts it from garbage collection. */
  async pin(uri: string, reason = 'manual'): Promise<void> {
    await this.storage.pin(parseProofRef(uri));
    const rows = this.index.find(uri);
    if (rows.length === 0) {
      const bytes = await this.fetch(uri);
      this.index.record({
        uri,
        sha256: sha256Hex(bytes),
        store: parseProofRef(uri).store,
        size: bytes.length,
        createdMs: Date.now(),
      });
    }
    this.index.pin(uri, reason);
  }

  /** Lets garbage collection take the proof once it is past retention and no open job needs it. */
  unpin(uri: string): number {
    parseProofRef(uri);
    const changed = this.index.unpin(uri);
    if (changed === 0)
      throw storageError(STORAGE_ERRORS.notFound, `${uri} is not in this node's proof index`, {
        uri,
      });
    return changed;
  }

  /** For the settlement layer: a payment settled or a dispute opened on this proof. */
  pinForSettlement(uriOrSha256: string, reason: string): number {
    return this.index.pin(uriOrSha256, reason);
  }

  /** For the settlement layer: the job settled; its proofs stop counting as open and are pinned. */
  markJobSettled(jobId: string): number {
    return this.index.markJobSettled(jobId);
  }

  /** A job (e.g. a verifier's) references a proof this node holds. */
  reference(sha256: string, jobId: string): void {
    this.index.reference(sha256, jobId);
  }

  /** Deletes unpinned copies past the retention window that no unsettled job references. */
  async gc(options: { retentionMs?: number; now?: number } = {}): Promise<GcReport> {
    const now = options.now ?? Date.now();
    const retention = options.retentionMs ?? this.config.retentionMs;
    const candidates = this.index.collectable(now - retention);
    const report: GcReport = { deleted: [], failed: [], kept: 0 };
    for (const row of candidates) {
      try {
        await this.storage.unpin(parseProofRef(row.uri));
      } catch (error) {
        report.failed.push({ uri: row.uri, reason: describeFailure(error) });
        continue;
      }
      this.index.remove(row.uri);
      if (this.index.find(row.sha256).length === 0) this.cache.delete(row.sha256);
      report.deleted.push({ uri: row.uri, sha256: row.sha256, size: row.size });
    }
    report.kept = this.index.list().length;
    return report;
  }

  list(): ProofRow[] {
    return this.index.list();
  }

  async close(): Promise<void> {
    await this.storage.close();
    await this.server?.close();
    this.index.close();
  }
}

export type { StoreFailure };
