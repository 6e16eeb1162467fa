import { Agent, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { M2mError } from '../../zkvm/errors.js';
import {
  deserializePrepare,
  deserializeReply,
  type Prepare,
  type Reply,
  reject,
  serializePrepare,
  serializeReply,
} from './packets.js';

/**
 * ILP-over-HTTP (Interledger RFC 35). A packet is the body of a POST with
 * `Content-Type: application/octet-stream` and `Authorization: Bearer <token>`. Synchronous mode:
 * the response body (200) is the FULFILL or REJECT. Asynchronous mode (`Prefer: respond-async`):
 * the receiver answers 202 and later POSTs the reply to the sender's own ILP endpoint with the
 * same `Idempotency-Key`. A PREPARE replayed with the same key gets the same reply.
 */

export const OCTET_STREAM = 'application/octet-stream';
/** ILPv4 data is at most 32,767 bytes; a packet with headers fits well under this. */
export const MAX_ILP_BODY = 64 * 1024;

export interface IlpRequestContext {
  /** The authenticated peer (the name its token is configured under). */
  peer: string;
  idempotencyKey: string | undefined;
  /** The sender asked for `Prefer: respond-async`. */
  async: boolean;
}

export interface IlpEndpointOptions {
  /** This node's ILP address: `triggeredBy` of the REJECTs it makes. */
  ilpAddress: string;
  /** Bearer token -> peer name. */
  tokens: ReadonlyMap<string, string>;
  /** A PREPARE arrived; resolve with the reply, or 'accepted' in async mode (answered 202). */
  onPrepare(prepare: Prepare, ctx: IlpRequestContext): Promise<Reply | 'accepted'>;
  /** An async reply (FULFILL or REJECT) to a PREPARE this node sent. */
  onReply?(reply: Reply, ctx: IlpRequestContext): Promise<void>;
  /** Replies remembered by idempotency key (sync mode); default 10,000. */
  replayCacheSize?: number;
}

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit)
    throw new M2mError('HTTP_BODY_TOO_LARGE', `the body is ${declared} bytes, more than ${limit}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit)
      throw new M2mError('HTTP_BODY_TOO_LARGE', `the body is more than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function bearerPeer(
  req: IncomingMessage,
  tokens: ReadonlyMap<string, string>,
): string | undefined {
  const header = req.headers.authorization ?? '';
  const match = /^Bearer (.+)$/.exec(header);
  return match === null ? undefined : tokens.get(match[1] as string);
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(`${text}\n`);
}

/** The `POST /ilp` handler: authenticates, decodes, de-duplicates, dispatches. */
export function ilpEndpoint(options: IlpEndpointOptions) {
  const replies = new Map<string, Promise<Reply | 'accepted'>>();
  const cacheSize = options.replayCacheSize ?? 10_000;
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const peer = bearerPeer(req, options.tokens);
    if (peer === undefined) return sendText(res, 401, 'missing or unknown bearer token');
    if (!(req.headers['content-type'] ?? '').startsWith(OCTET_STREAM))
      return sendText(res, 415, `Content-Type must be ${OCTET_STREAM}`);
    let body: Buffer;
    try {
      body = await readBody(req, MAX_ILP_BODY);
    } catch (error) {
      return sendText(res, 413, String((error as Error).message));
    }
    const key = req.headers['idempotency-key'];
    const ctx: IlpRequestContext = {
      peer,
      idempotencyKey: typeof key === 'string' && key !== '' ? key : undefined,
      async: /respond-async/.test(String(req.headers.prefer ?? '')),
    };
    if (body[0] === 13 || body[0] === 14) {
      let reply: Reply;
      try {
        reply = deserializeReply(body);
      } catch (error) {
        return sendText(res, 400, (error as Error).message);
      }
      if (options.onReply === undefined) return sendText(res, 404, 'no async replies expected');
      try {
        await options.onReply(reply, ctx);
      } catch (error) {
        return sendText(res, 400, (error as Error).message);
      }
      return sendText(res, 200, 'ok');
    }
    let prepare: Prepare;
    try {
      prepare = deserializePrepare(body);
    } catch (error) {
      return sendText(res, 400, (error as Error).message);
    }
    const cacheKey =
      ctx.idempotencyKey === undefined ? undefined : `${peer}\u0000${ctx.idempotencyKey}`;
    let pending = cacheKey === undefined ? undefined : replies.get(cacheKey);
    if (pending === undefined) {
      pending = options
        .onPrepare(prepare, ctx)
        .catch(
          (error: unknown): Reply =>
            reject(
              'T00',
              options.ilpAddress,
              `internal error: ${(error as Error).message ?? String(error)}`,
            ),
        );
      if (cacheKey !== undefined) {
        replies.set(cacheKey, pending);
        if (replies.size > cacheSize) replies.delete(replies.keys().next().value as string);
      }
    }
    const reply = await pending;
    // A temporary (T..) rejection is not final: a retry with the same key runs the handler again.
    if (
      cacheKey !== undefined &&
      reply !== 'accepted' &&
      reply.type === 'reject' &&
      reply.code.startsWith('T')
    )
      replies.delete(cacheKey);
    if (reply === 'accepted') {
      res.writeHead(202);
      res.end();
      return;
    }
    const bytes = serializeReply(reply);
    res.writeHead(200, { 'content-type': OCTET_STREAM, 'content-length': bytes.length });
    res.end(bytes);
  };
}

export interface IlpPeer {
  /** The peer's ILP-over-HTTP endpoint, e.g. http://127.0.0.1:7070/ilp */
  url: string;
  /** The token this node presents to the peer. */
  token: string;
}

/** Sends packets to one peer over keep-alive connections. */
export class IlpHttpClient {
  private readonly agent: Agent;
  private readonly url: URL;

  constructor(
    readonly peer: IlpPeer,
    options: { maxSockets?: number } = {},
  ) {
    this.url = new URL(peer.url);
    this.agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 32 });
  }

  /**
   * Sends a PREPARE; resolves with the reply (sync mode) or 'accepted' (async mode, 202). The
   * request is abandoned when the PREPARE expires. Transport failures throw ILP_PEER_UNREACHABLE.
   */
  async sendPrepare(
    prepare: Prepare,
    options: { idempotencyKey?: string; async?: boolean } = {},
  ): Promise<Reply | 'accepted'> {
    const ms = Math.max(prepare.expiresAt.getTime() - Date.now(), 1);
    const { status, body } = await this.post(serializePrepare(prepare), ms, {
      ...(options.idempotencyKey === undefined
        ? {}
        : { 'idempotency-key': options.idempotencyKey }),
      ...(options.async ? { prefer: 'respond-async' } : {}),
    });
    if (status === 202) return 'accepted';
    if (status !== 200)
      throw new M2mError(
        'ILP_HTTP_STATUS',
        `${this.peer.url} answered ${status}: ${body.toString('utf8').trim()}`,
        {
          details: { status },
        },
      );
    return deserializeReply(body);
  }

  /** Delivers an async reply (RFC 35) for the PREPARE sent with `idempotencyKey`. */
  async sendReply(reply: Reply, idempotencyKey: string, timeoutMs = 10_000): Promise<void> {
    const { status, body } = await this.post(serializeReply(reply), timeoutMs, {
      'idempotency-key': idempotencyKey,
    });
    if (status !== 200)
      throw new M2mError(
        'ILP_HTTP_STATUS',
        `${this.peer.url} answered ${status}: ${body.toString('utf8').trim()}`,
        {
          details: { status },
        },
      );
  }

  private post(
    bytes: Buffer,
    timeoutMs: number,
    headers: Record<string, string>,
  ): Promise<{ status: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = request(
        this.url,
        {
          method: 'POST',
          agent: this.agent,
          headers: {
            'content-type': OCTET_STREAM,
            'content-length': bytes.length,
            authorization: `Bearer ${this.peer.token}`,
            ...headers,
          },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (error) =>
        reject(
          new M2mError('ILP_PEER_UNREACHABLE', `cannot reach ${this.peer.url}: ${error.message}`, {
            cause: error,
          }),
        ),
      );
      req.end(bytes);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
