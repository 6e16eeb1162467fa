import { BlossomClient } from './blossom-client.js';
import { describeFailure, STORAGE_ERRORS, storageError } from './errors.js';
import { type ProofRef, refAddress } from './ref.js';
import type { ProofStorage, StoredProof } from './types.js';

export interface StoreFailure {
  store: string;
  code: string | undefined;
  reason: string;
}

const failureOf = (store: string, error: unknown): StoreFailure => ({
  store,
  code: (error as { code?: string }).code,
  reason: describeFailure(error),
});

export interface FallbackOptions {
  /** Called when a store fails and the next one is tried. */
  onFallback?: (failure: StoreFailure) => void;
  timeoutMs?: number | undefined;
}

/**
 * Stores in order of preference (the seed design: Blossom first, IPFS as the fallback). Uploads
 * go to the first store that takes the proof; fetches try every store that understands the
 * reference, then the reference's own hints (its Blossom servers, its IPFS gateways), so a
 * verifier with no store configured can still fetch. STORAGE_UNAVAILABLE when all fail, each
 * failure named in `details.failures`.
 */
export class FallbackProofStorage implements ProofStorage {
  readonly name: string;

  constructor(
    readonly stores: ProofStorage[],
    private readonly options: FallbackOptions = {},
  ) {
    this.name = stores.map((s) => s.name).join(' > ') || 'hints only';
  }

  accepts(_ref: ProofRef): boolean {
    return true;
  }

  async upload(bytes: Uint8Array): Promise<StoredProof> {
    const failures: StoreFailure[] = [];
    for (const store of this.stores) {
      try {
        return await store.upload(bytes);
      } catch (error) {
        const failure = failureOf(store.name, error);
        failures.push(failure);
        this.options.onFallback?.(failure);
        // Too large for one store is too large for the others only if they share the limit.
      }
    }
    throw storageError(
      STORAGE_ERRORS.unavailable,
      `no proof store took the upload (${failures.map((f) => `${f.store}: ${f.reason}`).join('; ') || 'no store configured'})`,
      { failures },
    );
  }

  async fetch(ref: ProofRef): Promise<Uint8Array> {
    const failures: StoreFailure[] = [];
    let mismatch: unknown;
    const attempt = async (name: string, run: () => Promise<Uint8Array>) => {
      try {
        return await run();
      } catch (error) {
        if ((error as { code?: string }).code === STORAGE_ERRORS.hashMismatch) mismatch ??= error;
        failures.push(failureOf(name, error));
        return undefined;
      }
    };
    for (const store of this.stores.filter((s) => s.accepts(ref))) {
      const bytes = await attempt(store.name, () => store.fetch(ref));
      if (bytes !== undefined) return bytes;
    }
    if (ref.store === 'blossom' && !this.stores.some((s) => s instanceof BlossomClient)) {
      const client = new BlossomClient({ servers: ref.servers, timeoutMs: this.options.timeoutMs });
      const bytes = await attempt('blossom (reference servers)', () => client.fetch(ref));
      if (bytes !== undefined) return bytes;
    }
    if (ref.store === 'ipfs' && ref.gateways.length > 0) {
      // Loaded on first use: the IPFS modules take a second or more to import.
      const { fetchFromGateways } = await import('./ipfs.js');
      const bytes = await attempt('ipfs gateways', () =>
        fetchFromGateways(ref.cid, ref.gateways, this.options.timeoutMs),
      );
      if (bytes !== undefined) return bytes;
    }
    if (mismatch !== undefined) throw mismatch;
    const notFound =
      failures.length > 0 && failures.every((f) => f.code === STORAGE_ERRORS.notFound);
    throw storageError(
      notFound ? STORAGE_ERRORS.notFound : STORAGE_ERRORS.unavailable,
      `could not fetch ${refAddress(ref)} (${failures.map((f) => `${f.store}: ${f.reason}`).join('; ') || `no store here reads ${ref.store}: references and the reference has no hints`})`,
      { failures },
    );
  }

  async pin(ref: ProofRef): Promise<void> {
    const failures: StoreFailure[] = [];
    for (const store of this.stores.filter((s) => s.accepts(ref))) {
      try {
        await store.pin(ref);
        return;
      } catch (error) {
        failures.push(failureOf(store.name, error));
      }
    }
    throw storageError(
      failures.length === 0 ? STORAGE_ERRORS.unsupported : STORAGE_ERRORS.unavailable,
      `could not pin ${refAddress(ref)} (${failures.map((f) => `${f.store}: ${f.reason}`).join('; ') || `no store here holds ${ref.store}: references`})`,
      { failures },
    );
  }

  async unpin(ref: ProofRef): Promise<void> {
    const stores = this.stores.filter((s) => s.accepts(ref));
    if (stores.length === 0)
      throw storageError(
        STORAGE_ERRORS.unsupported,
        `no store here holds ${ref.store}: references, so ${refAddress(ref)} cannot be unpinned`,
      );
    for (const store of stores) await store.unpin(ref);
  }

  async close(): Promise<void> {
    for (const store of this.stores) await store.close();
  }
}
