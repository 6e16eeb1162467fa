import { finalizeEvent } from 'nostr-tools/pure';
import { type BlossomSigner, type BlossomVerb, loadBlossomSigner } from '../blossom/auth.js';
import type { BlobDescriptor } from '../blossom/server.js';
import type { NostrEvent } from '../dvm/event.js';
import { describeFailure, STORAGE_ERRORS, storageError } from './errors.js';
import { checkSha256, sha256Hex } from './hash.js';
import { formatProofRef, normalizeServerUrl, type ProofRef } from './ref.js';
import type { ProofStorage, StoredProof } from './types.js';

/** Kind of the BUD-03 user server list (replaceable). */
export const KIND_BLOSSOM_SERVER_LIST = 10063;

export interface BlossomClientOptions {
  /** Servers in order of preference; uploads go to every one that answers. */
  servers: string[];
  /** The uploader's key (signs kind 24242 authorizations); fetching needs none. */
  secretKey?: Uint8Array | undefined;
  /** Per-request timeout (default 30 s). */
  timeoutMs?: number | undefined;
  /** Stop after this many successful uploads (default: all servers). */
  mirrors?: number | undefined;
}

/** A failure of one server, as named in `details.failures`. */
interface ServerFailure {
  server: string;
  status?: number;
  reason: string;
}

/**
 * A Blossom client over several servers. Uploads PUT the blob to each server in order (up to
 * `mirrors`) and the reference lists those that took it; fetches try the reference's servers,
 * then this client's, and check the SHA-256 of what comes back.
 */
export class BlossomClient implements ProofStorage {
  readonly name = 'blossom';
  readonly servers: string[];
  private readonly timeoutMs: number;
  private signer: Promise<BlossomSigner> | undefined;

  constructor(private readonly options: BlossomClientOptions) {
    this.servers = [...new Set(options.servers.map((s) => normalizeServerUrl(s)))];
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  accepts(ref: ProofRef): boolean {
    return ref.store === 'blossom';
  }

  private async auth(verb: BlossomVerb, sha256?: string): Promise<string> {
    if (this.options.secretKey === undefined)
      throw storageError(
        STORAGE_ERRORS.unsupported,
        `a Blossom ${verb} needs a key to sign its authorization (kind 24242); give the client a secretKey`,
      );
    this.signer ??= loadBlossomSigner();
    return (await this.signer)(this.options.secretKey, verb, { sha256 });
  }

  private async request(url: string, init: RequestInit): Promise<Response> {
    return fetch(url, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
  }

  private failure(server: string, error: unknown): ServerFailure {
    return { server, reason: describeFailure(error) };
  }

  /** Uploads to one server; throws on anything but a descriptor for these bytes. */
  async uploadTo(
    server: string,
    bytes: Uint8Array,
    sha256 = sha256Hex(bytes),
  ): Promise<BlobDescriptor> {
    const response = await this.request(`${server}/upload`, {
      method: 'PUT',
      headers: {
        Authorization: await this.auth('upload', sha256),
        'Content-Type': 'application/octet-stream',
        'X-SHA-256': sha256,
      },
      body: bytes,
    });
    if (!response.ok) throw await this.refusal(server, 'upload', response);
    const descriptor = (await response.json()) as BlobDescriptor;
    if (descriptor?.sha256 !== sha256)
      throw storageError(
        STORAGE_ERRORS.hashMismatch,
        `Blossom server ${server} stored the upload as ${String(descriptor?.sha256)}, not ${sha256}`,
        { server },
      );
    return descriptor;
  }

  private async refusal(server: string, what: string, response: Response) {
    const reason = response.headers.get('x-reason') ?? response.statusText;
    await response.body?.cancel().catch(() => {});
    const code =
      response.status === 404
        ? STORAGE_ERRORS.notFound
        : response.status >= 500
          ? STORAGE_ERRORS.unavailable
          : response.status === 413
            ? STORAGE_ERRORS.tooLarge
            : response.status === 409
              ? STORAGE_ERRORS.hashMismatch
              : STORAGE_ERRORS.rejected;
    return storageError(
      code,
      `Blossom server ${server} refused the ${what}: ${response.status} ${reason}`,
      { server, status: response.status, reason },
    );
  }

  async upload(bytes: Uint8Array): Promise<StoredProof> {
    const sha256 = sha256Hex(bytes);
    const stored: string[] = [];
    const failures: ServerFailure[] = [];
    let url: string | undefined;
    const want = this.options.mirrors ?? this.servers.length;
    for (const server of this.servers) {
      if (stored.length >= want) break;
      try {
        const descriptor = await this.uploadTo(server, bytes, sha256);
        stored.push(server);
        url ??= descriptor.url;
      } catch (error) {
        failures.push(this.failure(server, error));
      }
    }
    if (stored.length === 0) throw this.allFailed('upload', failures);
    const ref: ProofRef = { store: 'blossom', sha256, servers: stored };
    return { ref, uri: formatProofRef(ref), url, sha256, size: bytes.length, store: 'blossom' };
  }

  private allFailed(what: string, failures: ServerFailure[]) {
    const notFound =
      failures.length > 0 && failures.every((f) => f.reason.startsWith(STORAGE_ERRORS.notFound));
    return storageError(
      notFound ? STORAGE_ERRORS.notFound : STORAGE_ERRORS.unavailable,
      `Blossom ${what} failed on every server (${failures.map((f) => `${f.server}: ${f.reason}`).join('; ') || 'no server configured'})`,
      { failures },
    );
  }

  /** The servers to try for a reference: its own first, then this client's. */
  serversFor(ref: ProofRef & { store: 'blossom' }): string[] {
    return [...new Set([...ref.servers, ...this.servers])];
  }

  async fetchFrom(server: string, sha256: string): Promise<Uint8Array> {
    const response = await this.request(`${server}/${sha256}`, { method: 'GET' });
    if (!response.ok) throw await this.refusal(server, 'download', response);
    const bytes = new Uint8Array(await response.arrayBuffer());
    checkSha256(bytes, sha256, `Blossom server ${server}`);
    return bytes;
  }

  async fetch(ref: ProofRef): Promise<Uint8Array> {
    if (ref.store !== 'blossom')
      throw storageError(
        STORAGE_ERRORS.unsupported,
        `the Blossom client cannot fetch ${ref.store} references`,
      );
    const failures: ServerFailure[] = [];
    let mismatch: unknown;
    for (const server of this.serversFor(ref)) {
      try {
        return await this.fetchFrom(server, ref.sha256);
      } catch (error) {
        if ((error as { code?: string }).code === STORAGE_ERRORS.hashMismatch) mismatch ??= error;
        failures.push(this.failure(server, error));
      }
    }
    // A server that served wrong bytes is the finding a caller must see, not "unavailable".
    if (mismatch !== undefined) throw mismatch;
    throw this.allFailed(`fetch of ${ref.sha256}`, failures);
  }

  /** Whether a server has the blob (HEAD). */
  async has(server: string, sha256: string): Promise<boolean> {
    const response = await this.request(`${server}/${sha256}`, { method: 'HEAD' });
    if (response.status === 404) return false;
    if (!response.ok) throw await this.refusal(server, 'check', response);
    return true;
  }

  /** Blossom has no pins: pinning checks that at least one server still holds the blob. */
  async pin(ref: ProofRef): Promise<void> {
    if (ref.store !== 'blossom')
      throw storageError(STORAGE_ERRORS.unsupported, 'not a Blossom reference');
    const failures: ServerFailure[] = [];
    for (const server of this.serversFor(ref)) {
      try {
        if (await this.has(server, ref.sha256)) return;
        failures.push({ server, reason: `${STORAGE_ERRORS.notFound}: not on this server` });
      } catch (error) {
        failures.push(this.failure(server, error));
      }
    }
    throw this.allFailed(`pin of ${ref.sha256}`, failures);
  }

  /** Unpinning deletes this key's ownership of the blob on each server that has it (BUD-02). */
  async unpin(ref: ProofRef): Promise<void> {
    if (ref.store !== 'blossom')
      throw storageError(STORAGE_ERRORS.unsupported, 'not a Blossom reference');
    for (const server of this.serversFor(ref))
      await this.delete(server, ref.sha256).catch(() => false);
  }

  /** DELETE /<sha256>; false when the server does not have it. */
  async delete(server: string, sha256: string): Promise<boolean> {
    const response = await this.request(`${server}/${sha256}`, {
      method: 'DELETE',
      headers: { Authorization: await this.auth('delete', sha256) },
    });
    if (response.status === 404) return false;
    if (!response.ok) throw await this.refusal(server, 'delete', response);
    await response.body?.cancel().catch(() => {});
    return true;
  }

  async list(server: string, pubkey: string): Promise<BlobDescriptor[]> {
    const response = await this.request(`${server}/list/${pubkey}`, { method: 'GET' });
    if (!response.ok) throw await this.refusal(server, 'list', response);
    return (await response.json()) as BlobDescriptor[];
  }

  async close(): Promise<void> {}
}

/** A signed BUD-03 server list (kind 10063): the servers where this key uploads its blobs. */
export function buildServerList(
  servers: string[],
  secretKey: Uint8Array,
  createdAt?: number,
): NostrEvent {
  return finalizeEvent(
    {
      kind: KIND_BLOSSOM_SERVER_LIST,
      created_at: createdAt ?? Math.floor(Date.now() / 1000),
      tags: servers.map((s) => ['server', normalizeServerUrl(s)]),
      content: '',
    },
    secretKey,
  ) as NostrEvent;
}

/** The servers of a BUD-03 list, in its order; entries that are not http(s) URLs are skipped. */
export function serversOfList(event: NostrEvent): string[] {
  if (event.kind !== KIND_BLOSSOM_SERVER_LIST) return [];
  const servers: string[] = [];
  for (const tag of event.tags) {
    if (tag[0] !== 'server' || tag[1] === undefined) continue;
    try {
      servers.push(normalizeServerUrl(tag[1]));
    } catch {
      // Not a usable server URL; BUD-03 lists are user-written.
    }
  }
  return [...new Set(servers)];
}
