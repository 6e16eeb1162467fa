import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, unlink } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { NostrEvent } from '../dvm/event.js';
import { loadSignatureVerifier } from '../relay/event.js';
import { AuthError, authorizesBlob, type BlossomVerb, readBlossomAuth } from './auth.js';
import { BlobIndex, type BlobRow } from './blob-index.js';

/** What GET /list and PUT /upload answer for one blob (BUD-02). */
export interface BlobDescriptor {
  url: string;
  sha256: string;
  size: number;
  type: string;
  uploaded: number;
}

export interface BlossomServerConfig {
  /** Blobs are `<dir>/<sha256>`; the index is `<dir>/index.db`. Created when missing. */
  dir: string;
  host?: string | undefined;
  /** 0 picks a free port. */
  port?: number | undefined;
  /** Base URL written into blob descriptors (default http://<host>:<port>). */
  publicUrl?: string | undefined;
  /** Largest blob accepted (default 64 MiB). */
  maxBlobBytes?: number | undefined;
  /** Bytes each pubkey may own (default 1 GiB). */
  quotaBytesPerPubkey?: number | undefined;
  /** Only these pubkeys may upload (default: anyone with a valid authorization). */
  allowedPubkeys?: string[] | undefined;
  /**
   * Serves `GET|HEAD /ipfs/<cid>` from this (the node's embedded IPFS node) so that other nodes
   * can fetch its IPFS proofs; undefined means not held. Clients check the CID themselves.
   */
  ipfsGateway?: ((cid: string) => Promise<Uint8Array | undefined>) | undefined;
}

export const BLOSSOM_DEFAULTS = {
  host: '127.0.0.1',
  port: 3000,
  maxBlobBytes: 64 * 1024 * 1024,
  quotaBytesPerPubkey: 1024 * 1024 * 1024,
} as const;

export interface BlossomServer {
  url: string;
  port: number;
  index: BlobIndex;
  stats(): { blobs: number; bytes: number; requests: number; errors: number };
  close(): Promise<void>;
}

const SHA_PATH = /^\/([0-9a-f]{64})(\.[A-Za-z0-9]{1,10})?$/;
const LIST_PATH = /^\/list\/([0-9a-f]{64})$/;
const IPFS_PATH = /^\/ipfs\/(b[a-z2-7]{20,120})$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
/** Blobs up to this size are served with one read; larger ones are streamed. */
const SMALL_BLOB = 4 * 1024 * 1024;
const MIME = /^[\w.+-]+\/[\w.+-]+$/;

/** An HTTP error with the reason BUDs put in the `X-Reason` header. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'X-Reason',
};

/**
 * Starts a Blossom server (BUD-01 GET/HEAD /<sha256>, BUD-02 PUT /upload, DELETE /<sha256>,
 * GET /list/<pubkey>, BUD-06 HEAD /upload) on node:http. Writes are all-or-nothing: a blob is
 * streamed to a temp file while hashed, fsynced, and renamed to its SHA-256 only when the hash,
 * size, authorization and quota check out. No request, however malformed, stops the server.
 */
export async function startBlossomServer(config: BlossomServerConfig): Promise<BlossomServer> {
  const dir = config.dir;
  const tmpDir = join(dir, '.tmp');
  await mkdir(tmpDir, { recursive: true });
  // Leftovers of uploads cut short by a crash: never blobs, so safe to drop.
  for (const name of await readdir(tmpDir)) await rm(join(tmpDir, name), { force: true });
  const index = new BlobIndex(join(dir, 'index.db'));
  // libsecp256k1 in wasm when it loads (several times faster than the pure-JS curve code).
  const signatures = await loadSignatureVerifier();
  const maxBlobBytes = config.maxBlobBytes ?? BLOSSOM_DEFAULTS.maxBlobBytes;
  const quota = config.quotaBytesPerPubkey ?? BLOSSOM_DEFAULTS.quotaBytesPerPubkey;
  const allowed = config.allowedPubkeys === undefined ? undefined : new Set(config.allowedPubkeys);
  let baseUrl = '';
  // The directory is fsynced after each rename (so the new name survives a crash); concurrent
  // uploads share one fsync that starts after all their renames (a group commit).
  const dirHandle = await open(dir, 'r');
  let dirSyncRunning: Promise<void> | undefined;
  let dirSyncQueued: Promise<void> | undefined;
  const syncDir = (): Promise<void> => {
    if (dirSyncQueued !== undefined) return dirSyncQueued;
    const start = (): Promise<void> => {
      const running = dirHandle.sync().finally(() => {
        if (dirSyncRunning === running) dirSyncRunning = undefined;
      });
      dirSyncRunning = running;
      return running;
    };
    if (dirSyncRunning === undefined) return start();
    // One is running, but it may have started before this rename: queue the next one.
    const queued = dirSyncRunning
      .catch(() => {})
      .then(() => {
        dirSyncQueued = undefined;
        return start();
      });
    dirSyncQueued = queued;
    return queued;
  };
  // Index writes of concurrent uploads are committed together: SQLite's commit fsyncs on the main
  // thread, and uploads that finished while it blocked then share the next commit.
  const waiting: {
    entry: { blob: BlobRow; pubkey: string; now: number };
    done: (uploaded: number) => void;
    fail: (error: unknown) => void;
  }[] = [];
  const commitWaiting = () => {
    const batch = waiting.splice(0);
    try {
      const uploaded = index.addMany(batch.map((w) => w.entry));
      for (const [i, w] of batch.entries()) w.done(uploaded[i] as number);
    } catch (error) {
      for (const w of batch) w.fail(error);
    }
  };
  const indexAdd = (blob: BlobRow, pubkey: string, now: number): Promise<number> =>
    new Promise((done, fail) => {
      waiting.push({ entry: { blob, pubkey, now }, done, fail });
      if (waiting.length === 1) setImmediate(commitWaiting);
    });
  // Renames and unlinks of one blob run one at a time, so a delete never removes a file that a
  // concurrent upload of the same bytes has just put back.
  const locks = new Map<string, Promise<unknown>>();
  const locked = <T>(sha256: string, run: () => Promise<T>): Promise<T> => {
    const previous = locks.get(sha256) ?? Promise.resolve();
    const next = previous.then(run, run);
    const tail = next.catch(() => {});
    locks.set(sha256, tail);
    void tail.then(() => {
      if (locks.get(sha256) === tail) locks.delete(sha256);
    });
    return next;
  };
  let requests = 0;
  let errors = 0;

  const blobPath = (sha256: string) => join(dir, sha256);
  const describe = (row: BlobRow, uploaded: number): BlobDescriptor => ({
    url: `${baseUrl}/${row.sha256}`,
    sha256: row.sha256,
    size: row.size,
    type: row.type,
    uploaded,
  });

  const send = (
    res: ServerResponse,
    status: number,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, {
      ...CORS,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      'Content-Length': String(Buffer.byteLength(text)),
      ...headers,
    });
    res.end(text);
  };

  const authEvent = (
    req: IncomingMessage,
    verb: BlossomVerb,
    sha256?: string,
  ): { pubkey: string; event: NostrEvent } => {
    try {
      return readBlossomAuth(req.headers.authorization, verb, sha256, {
        verify: signatures.verify,
      });
    } catch (error) {
      if (error instanceof AuthError) throw new HttpError(401, error.message);
      throw error;
    }
  };
  const auth = (req: IncomingMessage, verb: BlossomVerb, sha256?: string): string =>
    authEvent(req, verb, sha256).pubkey;

  const checkUploader = (pubkey: string, sha256: string | undefined, size: number | undefined) => {
    if (allowed !== undefined && !allowed.has(pubkey))
      throw new HttpError(403, 'this pubkey may not upload to this server');
    if (size !== undefined && size > maxBlobBytes)
      throw new HttpError(413, `blob is ${size} bytes, over the limit of ${maxBlobBytes}`);
    const owned = sha256 !== undefined && index.ownedBy(pubkey, sha256) !== undefined;
    if (size !== undefined && !owned && index.usage(pubkey) + size > quota)
      throw new HttpError(
        413,
        `quota exceeded: this pubkey owns ${index.usage(pubkey)} bytes of ${quota}`,
      );
  };

  const declaredLength = (text: string | undefined, header: string): number | undefined => {
    if (text === undefined) return undefined;
    if (!/^\d{1,15}$/.test(text)) throw new HttpError(400, `${header} must be a whole number`);
    return Number(text);
  };

  async function getBlob(req: IncomingMessage, res: ServerResponse, sha256: string) {
    const row = index.get(sha256);
    if (row === undefined) throw new HttpError(404, 'blob not found');
    // Files are immutable and written before their index row, so the row's size is the file's.
    const size = row.size;
    const headers = {
      ...CORS,
      'Content-Type': row.type,
      'Content-Length': String(size),
      'Cache-Control': 'public, max-age=31536000, immutable',
      ETag: `"${sha256}"`,
    };
    if (req.method === 'HEAD') {
      res.writeHead(200, headers);
      res.end();
      return;
    }
    if (size <= SMALL_BLOB) {
      // One read and one write: cheaper than a stream for the proof sizes this server sees.
      let bytes: Buffer;
      try {
        bytes = await readFile(blobPath(sha256));
      } catch {
        throw new HttpError(404, 'blob not found');
      }
      res.writeHead(200, headers);
      res.end(bytes);
      return;
    }
    res.writeHead(200, headers);
    await new Promise<void>((resolve) => {
      const stream = createReadStream(blobPath(sha256));
      stream.on('error', () => {
        res.destroy();
        resolve();
      });
      stream.on('end', resolve);
      stream.pipe(res);
    });
  }

  /** Streams the body to a temp file, hashing it; returns the temp path, size and hash. */
  async function receive(
    req: IncomingMessage,
  ): Promise<{ tmp: string; size: number; sha256: string }> {
    const tmp = join(tmpDir, `${Date.now()}-${randomBytes(8).toString('hex')}`);
    const file = await open(tmp, 'w', 0o644);
    const hash = createHash('sha256');
    let size = 0;
    // Chunks are written in batches of up to 1 MiB: a proof is then one or a few writes.
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      if (pendingBytes === 0) return;
      const batch =
        pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      await file.write(batch);
    };
    try {
      for await (const chunk of req as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > maxBlobBytes)
          throw new HttpError(413, `blob is over the limit of ${maxBlobBytes} bytes`);
        hash.update(chunk);
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes >= 1024 * 1024) await flush();
      }
      await flush();
      await file.sync();
      await file.close();
      return { tmp, size, sha256: hash.digest('hex') };
    } catch (error) {
      await file.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      throw error;
    }
  }

  async function upload(req: IncomingMessage, res: ServerResponse) {
    const headerSha = req.headers['x-sha-256'];
    if (headerSha !== undefined && (typeof headerSha !== 'string' || !SHA256_HEX.test(headerSha)))
      throw new HttpError(400, 'X-SHA-256 must be 64 lowercase hex');
    const { pubkey, event } = authEvent(req, 'upload', headerSha);
    const length = declaredLength(req.headers['content-length'], 'Content-Length');
    checkUploader(pubkey, headerSha, length);
    const typeHeader = (req.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
    const type = MIME.test(typeHeader) ? typeHeader : 'application/octet-stream';
    const { tmp, size, sha256 } = await receive(req);
    try {
      if (headerSha !== undefined && headerSha !== sha256)
        throw new HttpError(409, `body hashes to ${sha256}, not X-SHA-256 ${headerSha}`);
      // The authorization must name this very blob (x tag).
      if (!authorizesBlob(event, sha256))
        throw new HttpError(401, `Authorization event does not name blob ${sha256} (x tag)`);
      checkUploader(pubkey, sha256, size);
      const { row, uploaded, created } = await locked(sha256, async () => {
        const now = Math.floor(Date.now() / 1000);
        const existing = index.get(sha256);
        if (existing === undefined) {
          await rename(tmp, blobPath(sha256));
          await syncDir();
        }
        const row = existing ?? { sha256, size, type, created: now };
        return { row, uploaded: await indexAdd(row, pubkey, now), created: existing === undefined };
      });
      await unlink(tmp).catch(() => {});
      send(res, created ? 201 : 200, describe(row, uploaded));
    } catch (error) {
      await unlink(tmp).catch(() => {});
      throw error;
    }
  }

  function uploadCheck(req: IncomingMessage, res: ServerResponse) {
    const sha = req.headers['x-sha-256'];
    if (typeof sha !== 'string' || !SHA256_HEX.test(sha))
      throw new HttpError(400, 'X-SHA-256 must be 64 lowercase hex');
    const lengthText = req.headers['x-content-length'];
    if (lengthText === undefined) throw new HttpError(411, 'X-Content-Length is required');
    const length = declaredLength(String(lengthText), 'X-Content-Length') as number;
    const type = req.headers['x-content-type'];
    if (type !== undefined && (typeof type !== 'string' || !MIME.test(type)))
      throw new HttpError(415, 'X-Content-Type must be a MIME type');
    const pubkey = auth(req, 'upload', sha);
    checkUploader(pubkey, sha, length);
    send(res, 200);
  }

  async function remove(req: IncomingMessage, res: ServerResponse, sha256: string) {
    const pubkey = auth(req, 'delete', sha256);
    if (index.get(sha256) === undefined) throw new HttpError(404, 'blob not found');
    if (index.ownedBy(pubkey, sha256) === undefined)
      throw new HttpError(403, 'this pubkey does not own the blob; only its owners may delete it');
    const { orphaned } = await locked(sha256, async () => {
      const outcome = index.removeOwner(pubkey, sha256);
      if (outcome.orphaned) await unlink(blobPath(sha256)).catch(() => {});
      return outcome;
    });
    send(res, 200, { deleted: sha256, fileRemoved: orphaned });
  }

  function list(req: IncomingMessage, res: ServerResponse, pubkey: string, url: URL) {
    // Listing is public (BUD-02 makes its authorization optional); a given one must be valid.
    if (req.headers.authorization !== undefined) auth(req, 'list');
    const bound = (name: string) => {
      const text = url.searchParams.get(name);
      if (text === null) return undefined;
      if (!/^\d{1,12}$/.test(text)) throw new HttpError(400, `${name} must be unix seconds`);
      return Number(text);
    };
    const rows = index.list(pubkey, bound('since'), bound('until'));
    send(
      res,
      200,
      rows.map((row) => describe(row, row.uploaded)),
    );
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://blossom.invalid');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (method === 'OPTIONS') {
      res.writeHead(204, {
        ...CORS,
        'Access-Control-Allow-Headers': 'Authorization, *',
        'Access-Control-Allow-Methods': 'GET, HEAD, PUT, DELETE',
        'Access-Control-Max-Age': '86400',
      });
      res.end();
      return;
    }
    if (path === '/upload') {
      if (method === 'PUT') return upload(req, res);
      if (method === 'HEAD') return uploadCheck(req, res);
      throw new HttpError(405, 'use PUT /upload (or HEAD /upload to check first)');
    }
    const blob = SHA_PATH.exec(path);
    if (blob !== null) {
      const sha256 = blob[1] as string;
      if (method === 'GET' || method === 'HEAD') return getBlob(req, res, sha256);
      if (method === 'DELETE') return remove(req, res, sha256);
      throw new HttpError(405, 'use GET, HEAD or DELETE on /<sha256>');
    }
    const listing = LIST_PATH.exec(path);
    if (listing !== null) {
      if (method !== 'GET') throw new HttpError(405, 'use GET /list/<pubkey>');
      return list(req, res, listing[1] as string, url);
    }
    const ipfs = IPFS_PATH.exec(path);
    if (ipfs !== null && config.ipfsGateway !== undefined) {
      if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'use GET /ipfs/<cid>');
      const bytes = await config.ipfsGateway(ipfs[1] as string);
      if (bytes === undefined) throw new HttpError(404, 'this node does not hold that CID');
      res.writeHead(200, {
        ...CORS,
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(bytes.length),
        'Cache-Control': 'public, max-age=31536000, immutable',
      });
      res.end(method === 'HEAD' ? undefined : bytes);
      return;
    }
    if (path === '/' && method === 'GET') {
      send(res, 200, { server: 'm2m blossom', buds: ['01', '02', '06'], maxBlobBytes });
      return;
    }
    throw new HttpError(404, 'not found: try /<sha256>, /upload or /list/<pubkey>');
  }

  const server: Server = createServer((req, res) => {
    requests++;
    handle(req, res).catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : 500;
      if (status >= 500) errors++;
      const reason =
        error instanceof HttpError ? error.message : 'internal error while handling the request';
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // A body not read (refused before upload) would otherwise be parsed as the next request.
      const unread = !req.complete;
      send(
        res,
        status,
        { error: reason },
        {
          'X-Reason': reason.replace(/[^\x20-\x7e]/g, '?'),
          ...(unread ? { Connection: 'close' } : {}),
        },
      );
      if (unread) req.resume();
    });
  });
  server.keepAliveTimeout = 5000;
  server.requestTimeout = 120_000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(
        config.port ?? BLOSSOM_DEFAULTS.port,
        config.host ?? BLOSSOM_DEFAULTS.host,
        () => {
          server.off('error', reject);
          resolve();
        },
      );
    });
  } catch (error) {
    index.close();
    await dirHandle.close();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  baseUrl = (config.publicUrl ?? `http://${host}:${address.port}`).replace(/\/+$/, '');
  return {
    url: baseUrl,
    port: address.port,
    index,
    stats: () => ({ ...index.stats(), requests, errors }),
    close: async () => {
      server.closeIdleConnections();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        setTimeout(() => server.closeAllConnections(), 2000).unref();
      });
      index.close();
      await dirHandle.close();
    },
  };
}
