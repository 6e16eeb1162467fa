// Helia 7 uses Promise.withResolvers, which Node 20 lacks.
import 'core-js/actual/promise/with-resolvers.js';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type AddOptions, unixfs } from '@helia/unixfs';
import { FsBlockstore } from 'blockstore-fs';
import { FsDatastore } from 'datastore-fs';
import { createHeliaLight, type Helia } from 'helia';
import { create as createKubo, type KuboRPCClient } from 'kubo-rpc-client';
import { CID } from 'multiformats/cid';
import { describeFailure, STORAGE_ERRORS, storageError } from './errors.js';
import { sha256Hex } from './hash.js';
import { formatProofRef, normalizeServerUrl, type ProofRef, parseCidV1 } from './ref.js';
import type { ProofStorage, StoredProof } from './types.js';

/**
 * The import parameters of every IPFS store here: the IPIP-499 `unixfs-v1-2025` profile, i.e.
 * CIDv1, raw leaves, fixed 1 MiB chunks, balanced DAG of up to 1024 links (Helia's defaults).
 * Kubo is asked for the same (`add --cid-version 1 --raw-leaves --chunker size-1048576`); its
 * layout caps a node at 174 links, so the two agree on any file up to 174 MiB, and proofs are
 * capped far below that (MAX_IPFS_PROOF_BYTES). The tests check both give the same CID.
 */
export const IMPORT_OPTIONS: Partial<AddOptions> = {
  cidVersion: 1,
  rawLeaves: true,
  profile: 'unixfs-v1-2025',
};
const KUBO_ADD_OPTIONS = { cidVersion: 1, rawLeaves: true, chunker: 'size-1048576' } as const;
export const MAX_IPFS_PROOF_BYTES = 32 * 1024 * 1024;

/** A blockstore that keeps nothing: importing into it only computes the CID. */
const nullBlockstore = {
  put: async (cid: CID) => cid,
  has: async () => false,
  get: (): never => {
    throw new Error('the CID-only blockstore holds no blocks');
  },
};

/** The CID `bytes` get as a UnixFS file with IMPORT_OPTIONS, without storing anything. */
export async function cidOf(bytes: Uint8Array): Promise<CID> {
  return unixfs({ blockstore: nullBlockstore }).addBytes(bytes, IMPORT_OPTIONS);
}

/** Throws STORAGE_HASH_MISMATCH unless `bytes` import to `cid`. */
export async function checkCid(bytes: Uint8Array, cid: string, where: string): Promise<void> {
  const actual = (await cidOf(bytes)).toString();
  if (actual !== cid)
    throw storageError(
      STORAGE_ERRORS.hashMismatch,
      `${where} returned ${bytes.length} bytes whose CID is ${actual}, not ${cid}: the content does not match its address`,
      { expected: cid, actual, where },
    );
}

const tooLarge = (size: number) =>
  storageError(
    STORAGE_ERRORS.tooLarge,
    `the proof is ${size} bytes, over the ${MAX_IPFS_PROOF_BYTES} bytes stored on IPFS`,
    { size, limit: MAX_IPFS_PROOF_BYTES },
  );

const ipfsRef = (ref: ProofRef, what: string): ProofRef & { store: 'ipfs' } => {
  if (ref.store !== 'ipfs')
    throw storageError(
      STORAGE_ERRORS.unsupported,
      `${what} takes ipfs: references, not ${ref.store}:`,
    );
  return ref;
};

async function collect(chunks: AsyncIterable<Uint8Array>, limit: number, where: string) {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    size += chunk.length;
    if (size > limit)
      throw storageError(STORAGE_ERRORS.tooLarge, `${where} returned more than ${limit} bytes`, {
        where,
      });
    parts.push(chunk);
  }
  return Buffer.concat(parts, size);
}

export interface IpfsStorageOptions {
  /** Trustless gateways that serve this node's blocks, written into references as hints. */
  gateways?: string[] | undefined;
}

/**
 * The embedded IPFS node (Helia 7) over a blockstore and datastore on disk, offline: it stores,
 * pins and serves its own blocks and never dials out. Others reach its proofs through a gateway
 * hint (`m2m blossom start` serves one) or a mirror on Kubo.
 */
export class HeliaProofStorage implements ProofStorage {
  readonly name = 'ipfs:helia';
  private constructor(
    private readonly helia: Helia,
    private gateways: string[],
  ) {}

  /** Sets the gateway hints written into new references (known once a server runs); returns this. */
  withGateways(gateways: string[]): this {
    this.gateways = gateways.map((g) => normalizeServerUrl(g, 'gateway'));
    return this;
  }

  static async open(dir: string, options: IpfsStorageOptions = {}): Promise<HeliaProofStorage> {
    const blocks = join(dir, 'blocks');
    const data = join(dir, 'datastore');
    await mkdir(blocks, { recursive: true });
    await mkdir(data, { recursive: true });
    const blockstore = new FsBlockstore(blocks);
    const datastore = new FsDatastore(data);
    await blockstore.open();
    await datastore.open();
    let helia: Helia;
    try {
      // No routers and no block brokers: the node never dials out or asks the network for blocks.
      helia = await createHeliaLight({ blockstore, datastore }).start();
    } catch (cause) {
      throw storageError(
        STORAGE_ERRORS.unavailable,
        `the embedded IPFS node in ${dir} did not open: ${describeFailure(cause)}`,
        { store: 'ipfs:helia' },
        cause,
      );
    }
    return new HeliaProofStorage(
      helia,
      (options.gateways ?? []).map((g) => normalizeServerUrl(g, 'gateway')),
    );
  }

  accepts(ref: ProofRef): boolean {
    return ref.store === 'ipfs';
  }

  async upload(bytes: Uint8Array): Promise<StoredProof> {
    if (bytes.length > MAX_IPFS_PROOF_BYTES) throw tooLarge(bytes.length);
    const cid = await unixfs(this.helia).addBytes(bytes, IMPORT_OPTIONS);
    await this.pin({ store: 'ipfs', cid: cid.toString(), gateways: [] });
    const ref: ProofRef = { store: 'ipfs', cid: cid.toString(), gateways: this.gateways };
    const [gateway] = this.gateways;
    return {
      ref,
      uri: formatProofRef(ref),
      url: gateway === undefined ? undefined : `${gateway}/ipfs/${cid}`,
      sha256: sha256Hex(bytes),
      size: bytes.length,
      store: this.name,
    };
  }

  /** Whether every block of the file is here (no network is ever asked). */
  async has(cid: string): Promise<boolean> {
    try {
      await this.read(cid);
      return true;
    } catch {
      return false;
    }
  }

  private async read(cid: string): Promise<Uint8Array> {
    const parsed = parseCidV1(cid);
    try {
      return await collect(
        unixfs(this.helia).cat(parsed, { offline: true }),
        MAX_IPFS_PROOF_BYTES,
        this.name,
      );
    } catch (cause) {
      if ((cause as { code?: string }).code?.startsWith('STORAGE_')) throw cause;
      throw storageError(
        STORAGE_ERRORS.notFound,
        `the embedded IPFS node does not hold ${cid}: ${describeFailure(cause)}`,
        { store: this.name, cid },
        cause,
      );
    }
  }

  async fetch(ref: ProofRef): Promise<Uint8Array> {
    const { cid } = ipfsRef(ref, this.name);
    const bytes = await this.read(cid);
    await checkCid(bytes, cid, 'the embedded IPFS node');
    return bytes;
  }

  /** Stores bytes fetched elsewhere here too (a verifier keeping what it checked). */
  async put(bytes: Uint8Array): Promise<CID> {
    return unixfs(this.helia).addBytes(bytes, IMPORT_OPTIONS);
  }

  async pin(ref: ProofRef): Promise<void> {
    const cid = parseCidV1(ipfsRef(ref, this.name).cid);
    if (await this.helia.pins.isPinned(cid)) return;
    if (!(await this.has(cid.toString())))
      throw storageError(
        STORAGE_ERRORS.notFound,
        `cannot pin ${cid}: the embedded IPFS node does not hold it`,
        { store: this.name },
      );
    for await (const _ of this.helia.pins.add(cid)) {
      // pins.add yields each block it pins
    }
  }

  /** Drops the pin and then every unpinned block (Helia's garbage collection). */
  async unpin(ref: ProofRef): Promise<void> {
    const cid = parseCidV1(ipfsRef(ref, this.name).cid);
    if (await this.helia.pins.isPinned(cid)) {
      for await (const _ of this.helia.pins.rm(cid)) {
        // pins.rm yields each block it unpins
      }
    }
    await this.helia.gc();
  }

  async isPinned(cid: string): Promise<boolean> {
    return this.helia.pins.isPinned(parseCidV1(cid));
  }

  async close(): Promise<void> {
    await this.helia.stop();
  }
}

/** A Kubo daemon through its RPC API (kubo-rpc-client): add with CIDv1, cat, pin add/rm. */
export class KuboProofStorage implements ProofStorage {
  readonly name = 'ipfs:kubo';
  private readonly client: KuboRPCClient;
  private readonly gateways: string[];

  constructor(
    readonly apiUrl: string,
    options: IpfsStorageOptions & { timeoutMs?: number } = {},
  ) {
    this.client = createKubo({ url: apiUrl, timeout: options.timeoutMs ?? 30_000 });
    this.gateways = (options.gateways ?? []).map((g) => normalizeServerUrl(g, 'gateway'));
  }

  accepts(ref: ProofRef): boolean {
    return ref.store === 'ipfs';
  }

  private down(what: string, cause: unknown) {
    return storageError(
      STORAGE_ERRORS.unavailable,
      `Kubo at ${this.apiUrl} failed to ${what}: ${describeFailure(cause)}; is the daemon running (ipfs daemon)?`,
      { store: this.name, api: this.apiUrl },
      cause,
    );
  }

  async upload(bytes: Uint8Array): Promise<StoredProof> {
    if (bytes.length > MAX_IPFS_PROOF_BYTES) throw tooLarge(bytes.length);
    let cid: CID;
    try {
      ({ cid } = await this.client.add(bytes, { ...KUBO_ADD_OPTIONS, pin: true }));
    } catch (cause) {
      throw this.down('add the proof', cause);
    }
    const ref: ProofRef = { store: 'ipfs', cid: cid.toV1().toString(), gateways: this.gateways };
    const [gateway] = this.gateways;
    return {
      ref,
      uri: formatProofRef(ref),
      url: gateway === undefined ? undefined : `${gateway}/ipfs/${ref.cid}`,
      sha256: sha256Hex(bytes),
      size: bytes.length,
      store: this.name,
    };
  }

  async fetch(ref: ProofRef): Promise<Uint8Array> {
    const { cid } = ipfsRef(ref, this.name);
    let bytes: Uint8Array;
    try {
      bytes = await collect(this.client.cat(parseCidV1(cid)), MAX_IPFS_PROOF_BYTES, this.name);
    } catch (cause) {
      if ((cause as { code?: string }).code?.startsWith('STORAGE_')) throw cause;
      const text = describeFailure(cause);
      if (/not found|no link|block was not found|ErrNotFound/i.test(text))
        throw storageError(
          STORAGE_ERRORS.notFound,
          `Kubo at ${this.apiUrl} does not hold ${cid}`,
          { store: this.name, cid },
          cause,
        );
      throw this.down(`cat ${cid}`, cause);
    }
    await checkCid(bytes, cid, `Kubo at ${this.apiUrl}`);
    return bytes;
  }

  async pin(ref: ProofRef): Promise<void> {
    const { cid } = ipfsRef(ref, this.name);
    try {
      await this.client.pin.add(parseCidV1(cid));
    } catch (cause) {
      throw this.down(`pin ${cid}`, cause);
    }
  }

  async unpin(ref: ProofRef): Promise<void> {
    const { cid } = ipfsRef(ref, this.name);
    try {
      await this.client.pin.rm(parseCidV1(cid));
    } catch (cause) {
      if (/not pinned/i.test(describeFailure(cause))) return;
      throw this.down(`unpin ${cid}`, cause);
    }
  }

  async isPinned(cid: string): Promise<boolean> {
    try {
      for await (const pin of this.client.pin.ls({ paths: [parseCidV1(cid)] }))
        if (pin.cid) return true;
      return false;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {}
}

/**
 * Fetches a file from trustless gateways (`GET <gateway>/ipfs/<cid>`), trying each in order,
 * and checks that the bytes import to the CID.
 */
export async function fetchFromGateways(
  cid: string,
  gateways: string[],
  timeoutMs = 30_000,
): Promise<Uint8Array> {
  const failures: { gateway: string; reason: string }[] = [];
  let mismatch: unknown;
  for (const gateway of gateways) {
    try {
      const response = await fetch(`${gateway}/ipfs/${cid}`, {
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!response.ok) {
        await response.body?.cancel().catch(() => {});
        failures.push({
          gateway,
          reason: `${response.status} ${response.headers.get('x-reason') ?? response.statusText}`,
        });
        continue;
      }
      const bytes = new Uint8Array(await response.arrayBuffer());
      if (bytes.length > MAX_IPFS_PROOF_BYTES) throw tooLarge(bytes.length);
      await checkCid(bytes, cid, `gateway ${gateway}`);
      return bytes;
    } catch (error) {
      if ((error as { code?: string }).code === STORAGE_ERRORS.hashMismatch) mismatch ??= error;
      failures.push({ gateway, reason: describeFailure(error) });
    }
  }
  if (mismatch !== undefined) throw mismatch;
  const notFound = failures.length > 0 && failures.every((f) => f.reason.startsWith('404'));
  throw storageError(
    notFound ? STORAGE_ERRORS.notFound : STORAGE_ERRORS.unavailable,
    `no gateway served ${cid} (${failures.map((f) => `${f.gateway}: ${f.reason}`).join('; ') || 'no gateway known'})`,
    { failures },
  );
}

export { CID };
