import type { ProofRef } from './ref.js';

/** Where an uploaded proof went. */
export interface StoredProof {
  ref: ProofRef;
  /** The reference as a URI (`blossom:...`, `ipfs:...`), what a `proof-ref` tag carries. */
  uri: string;
  /** An HTTP URL the bytes can be fetched from, when there is one (Blossom, a gateway). */
  url: string | undefined;
  /** SHA-256 of the bytes, 64 hex. */
  sha256: string;
  size: number;
  /** Which store took it (`blossom`, `ipfs:helia`, `ipfs:kubo`). */
  store: string;
}

/**
 * A content-addressed store for proof envelopes. `fetch` always re-checks the bytes against the
 * reference's address (SHA-256 for Blossom, the CID for IPFS) and throws STORAGE_HASH_MISMATCH
 * otherwise. `pin` keeps a proof in the store; `unpin` lets the store drop it (IPFS: pin rm; Blossom:
 * delete this key's ownership).
 */
export interface ProofStorage {
  readonly name: string;
  /** Whether this store can fetch (or pin) this kind of reference. */
  accepts(ref: ProofRef): boolean;
  upload(bytes: Uint8Array): Promise<StoredProof>;
  fetch(ref: ProofRef): Promise<Uint8Array>;
  pin(ref: ProofRef): Promise<void>;
  unpin(ref: ProofRef): Promise<void>;
  close(): Promise<void>;
}
