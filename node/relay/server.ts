import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import type { RelayConfig } from './config.js';
import { Connection } from './connection.js';
import { RELAY_ERRORS, relayError } from './errors.js';
import { checkEvent, kindClass, type NostrEvent } from './event.js';
import { matchAny, parseFilters } from './filters.js';
import { relayInformation } from './nip11.js';
import { type PendingEvent, RelayStore, type StoreOutcome } from './storage.js';
import { type SignaturePool, startSignaturePool } from './verify-pool.js';

export interface RelayServerOptions {
  /** Where operational messages go (connection errors, failed commits). Default: nowhere. */
  log?: (line: string) => void;
  /** Milliseconds between websocket pings; a client silent for a whole interval is dropped. */
  heartbeatMs?: number;
  /** Overrides config.signatureThreads. */
  signatureThreads?: number;
}

export interface RelayStats {
  connections: number;
  subscriptions: number;
  storedEvents: number;
}

/** Messages over the limit but under this many times it still get a NIP-01 answer. */
const OVERSIZE_ANSWER_FACTOR = 2;
const SHUTDOWN_GRACE_MS = 1000;

const OK_MESSAGES: Record<StoreOutcome, [accepted: boolean, message: string]> = {
  stored: [true, ''],
  duplicate: [true, 'duplicate: already have this event'],
  superseded: [false, 'duplicate: a newer version of this replaceable event is stored'],
};

/**
 * Starts the embedded relay: NIP-01 over websockets and NIP-11 over HTTP on the same port,
 * events in SQLite. Resolves once it is listening; `url` has the actual port when 0 was asked.
 */
export async function startRelay(
  config: RelayConfig,
  options: RelayServerOptions = {},
): Promise<RelayServer> {
  const store = new RelayStore(config.db);
  const signatures = await startSignaturePool(
    options.signatureThreads ?? config.signatureThreads ?? Math.min(4, availableParallelism()),
    options.log,
  );
  const http = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(config.port, config.host, () => {
        http.off('error', reject);
        resolve();
      });
    });
  } catch (cause) {
    store.close();
    await signatures.close();
    throw relayError(
      RELAY_ERRORS.listenFailed,
      `cannot listen on ${config.host}:${config.port}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`,
      { cause },
    );
  }
  return new RelayServer(config, store, http, signatures, options);
}

export class RelayServer {
  /** ws://host:port of the running relay. */
  readonly url: string;
  readonly port: number;
  /** How signatures are checked: wasm or js, in how many worker threads (0: inline). */
  readonly signatureCheck: { backend: 'wasm' | 'js'; threads: number };
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<Connection>();
  private readonly log: (line: string) => void;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly informationJson: string;
  private pending: { connection: Connection; item: PendingEvent }[] = [];
  /** Events whose signature is being checked; close() waits for them. */
  private verifying = 0;
  private verified: (() => void)[] = [];
  private flushScheduled = false;
  private closing: Promise<void> | undefined;

  constructor(
    readonly config: RelayConfig,
    private readonly store: RelayStore,
    private readonly http: Server,
    private readonly signatures: SignaturePool,
    options: RelayServerOptions,
  ) {
    this.log = options.log ?? (() => {});
    this.port = (http.address() as AddressInfo).port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    this.url = `ws://${host}:${this.port}`;
    this.signatureCheck = { backend: signatures.backend, threads: signatures.threads };
    this.informationJson = JSON.stringify(relayInformation(config));
    http.on('request', (req, res) => this.serveHttp(req, res));
    this.wss = new WebSocketServer({
      server: http,
      maxPayload: config.limits.maxMessageBytes * OVERSIZE_ANSWER_FACTOR,
      perMessageDeflate: false,
    });
    this.wss.on('error', (error) => this.log(`websocket server error: ${error.message}`));
    this.wss.on('connection', (socket, req) => this.accept(socket, req));
    this.heartbeat = setInterval(() => this.ping(), options.heartbeatMs ?? 30_000);
    this.heartbeat.unref();
  }

  stats(): RelayStats {
    let subscriptions = 0;
    for (const connection of this.connections) subscriptions += connection.subscriptions.size;
    return {
      connections: this.connections.size,
      subscriptions,
      storedEvents: this.store.count(),
    };
  }

  /**
   * Stores what is queued (and answers it), closes every client with 1001, stops listening and
   * closes the database. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    while (this.verifying > 0) await new Promise<void>((resolve) => this.verified.push(resolve));
    this.flush();
    clearInterval(this.heartbeat);
    const sockets = [...this.connections].map((c) => c.socket);
    const closed = Promise.all(
      sockets.map(
        (socket) =>
          new Promise<void>((resolve) => {
            if (socket.readyState === socket.CLOSED) resolve();
            else socket.once('close', () => resolve());
          }),
      ),
    );
    for (const socket of sockets) socket.close(1001, 'relay shutting down');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      closed,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, SHUTDOWN_GRACE_MS);
      }),
    ]);
    clearTimeout(timer);
    for (const socket of sockets) socket.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      this.http.closeAllConnections();
    });
    this.store.close();
    await this.signatures.close();
  }

  private serveHttp(req: IncomingMessage, res: ServerResponse): void {
    // NIP-11: browsers fetch the document cross-origin.
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Headers', '*');
    res.setHeader('Access-Control-Allow-Methods', 'GET, OPTIONS');
    if (req.method === 'OPTIONS') {
      res.writeHead(204).end();
    } else if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, OPTIONS' }).end();
    } else if ((req.headers.accept ?? '').includes('application/nostr+json')) {
      res.writeHead(200, { 'Content-Type': 'application/nostr+json' }).end(this.informationJson);
    } else {
      res
        .writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' })
        .end(
          `${this.config.info.name}: a Nostr relay. Connect a Nostr client to ${this.url}; ` +
            'GET with "Accept: application/nostr+json" for its NIP-11 document.\n',
        );
    }
  }

  private accept(socket: WebSocket, req: IncomingMessage): void {
    const { limits } = this.config;
    const connection = new Connection(
      socket,
      `${req.socket.remoteAddress}:${req.socket.remotePort}`,
      limits.eventsPerSecond,
      limits.eventBurst,
      limits.maxBufferedBytes,
    );
    if (this.closing !== undefined) {
      socket.close(1001, 'relay shutting down');
      return;
    }
    this.connections.add(connection);
    socket.on('message', (data, isBinary) => {
      try {
        this.onMessage(connection, data, isBinary);
      } catch (error) {
        // A bug must not take the relay down; the client learns that its message failed.
        this.log(
          `internal error on a message from ${connection.remote}: ${(error as Error).stack}`,
        );
        connection.notice('error: internal error while handling the message');
      }
    });
    socket.on('pong', () => {
      connection.alive = true;
    });
    socket.on('error', (error) => this.log(`${connection.remote}: ${error.message}`));
    socket.on('close', () => this.connections.delete(connection));
  }

  private ping(): void {
    for (const connection of this.connections) {
      if (!connection.alive) {
        connection.socket.terminate();
        continue;
      }
      connection.alive = false;
      connection.socket.ping();
    }
  }

  private onMessage(connection: Connection, data: RawData, isBinary: boolean): void {
    if (isBinary) {
      connection.notice('invalid: binary frames are not supported; send NIP-01 JSON as text');
      return;
    }
    const buffer = Buffer.isBuffer(data)
      ? data
      : Array.isArray(data)
        ? Buffer.concat(data)
        : Buffer.from(data);
    const text = buffer.toString('utf8');
    if (buffer.length > this.config.limits.maxMessageBytes) {
      this.answerOversized(connection, text, buffer.length);
      return;
    }
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch (error) {
      connection.notice(`invalid: the message is not JSON (${(error as Error).message})`);
      return;
    }
    if (!Array.isArray(message) || typeof message[0] !== 'string') {
      connection.notice('invalid: a message must be a JSON array whose first item is its type');
      return;
    }
    switch (message[0]) {
      case 'EVENT':
        this.onEvent(connection, message[1]);
        return;
      case 'REQ':
        this.onReq(connection, message[1], message.slice(2));
        return;
      case 'CLOSE':
        if (typeof message[1] !== 'string') {
          connection.notice('invalid: CLOSE needs a subscription id');
          return;
        }
        connection.subscriptions.delete(message[1]);
        return;
      default:
        connection.notice(
          `invalid: unknown message type "${message[0].slice(0, 20)}" (this relay speaks EVENT, REQ and CLOSE)`,
        );
    }
  }

  /** Answers an oversized message without parsing it: OK for an EVENT, CLOSED for a REQ. */
  private answerOversized(connection: Connection, text: string, bytes: number): void {
    const reason = `invalid: the message is ${bytes} bytes, the limit is ${this.config.limits.maxMessageBytes}`;
    const head = text.slice(0, 200);
    if (/^\s*\[\s*"EVENT"/.test(head)) {
      const id = /"id"\s*:\s*"([0-9a-f]{64})"/.exec(text)?.[1];
      if (id !== undefined) {
        connection.ok(id, false, reason);
        return;
      }
    }
    const subscriptionId = /^\s*\[\s*"REQ"\s*,\s*"([^"\\]{1,64})"/.exec(head)?.[1];
    if (subscriptionId !== undefined) {
      connection.subscriptions.delete(subscriptionId);
      connection.closed(subscriptionId, reason);
      return;
    }
    connection.notice(reason);
  }

  private onEvent(connection: Connection, value: unknown): void {
    const rawId = (value as { id?: unknown } | null)?.id;
    const reject = (reason: string) => {
      if (typeof rawId === 'string' && rawId.length > 0 && rawId.length <= 64)
        connection.ok(rawId, false, reason);
      else connection.notice(reason);
    };
    if (this.closing !== undefined) {
      reject('error: the relay is shutting down; publish again later');
      return;
    }
    if (!connection.events.take()) {
      reject(`rate-limited: at most ${this.config.limits.eventsPerSecond} events/s per connection`);
      return;
    }
    const check = checkEvent(value, this.config.limits);
    if (!check.ok) {
      reject(check.reason);
      return;
    }
    const { event, json } = check;
    this.verifying++;
    this.signatures
      .verify(event)
      .then(
        (valid) => {
          if (valid) this.admit(connection, event, json);
          else connection.ok(event.id, false, 'invalid: signature verification failed');
        },
        (error: Error) => {
          this.log(`signature check failed: ${error.message}`);
          connection.ok(event.id, false, 'error: the signature could not be checked; try again');
        },
      )
      .finally(() => {
        this.verifying--;
        if (this.verifying === 0) for (const wake of this.verified.splice(0)) wake();
      });
  }

  /** A valid event: ephemeral ones go out at once, the others wait for the next commit. */
  private admit(connection: Connection, event: NostrEvent, json: string): void {
    if (kindClass(event.kind) === 'ephemeral') {
      connection.ok(event.id, true, '');
      this.broadcast(event, json);
      return;
    }
    this.pending.push({ connection, item: { event, json } });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /**
   * Group commit: every event that arrived in this turn of the event loop is written in one
   * transaction, and only then answered OK true and sent to subscribers.
   */
  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    let outcomes: StoreOutcome[] | undefined;
    try {
      outcomes = this.store.storeBatch(batch.map((p) => p.item));
    } catch (error) {
      this.log(`could not store ${batch.length} events: ${(error as Error).message}`);
    }
    batch.forEach(({ connection, item }, i) => {
      const outcome = outcomes?.[i];
      if (outcome === undefined) {
        connection.ok(item.event.id, false, 'error: the event could not be stored; try again');
        return;
      }
      const [accepted, message] = OK_MESSAGES[outcome];
      connection.ok(item.event.id, accepted, message);
      if (outcome === 'stored') this.broadcast(item.event, item.json);
    });
  }

  private broadcast(event: NostrEvent, json: string): void {
    for (const connection of this.connections) {
      for (const [id, filters] of connection.subscriptions) {
        if (matchAny(filters, event)) connection.event(id, json);
      }
    }
  }

  private onReq(connection: Connection, subscriptionId: unknown, filterValues: unknown[]): void {
    const { limits } = this.config;
    if (typeof subscriptionId !== 'string' || subscriptionId.length === 0) {
      connection.notice('invalid: REQ needs a non-empty string subscription id');
      return;
    }
    const refuse = (reason: string) => {
      connection.subscriptions.delete(subscriptionId);
      connection.closed(subscriptionId, reason);
    };
    if (this.closing !== undefined) {
      refuse('error: the relay is shutting down');
      return;
    }
    if (subscriptionId.length > limits.maxSubidLength) {
      refuse(`invalid: the subscription id is longer than ${limits.maxSubidLength} characters`);
      return;
    }
    const parsed = parseFilters(filterValues, limits);
    if (!parsed.ok) {
      refuse(parsed.reason);
      return;
    }
    if (
      !connection.subscriptions.has(subscriptionId) &&
      connection.subscriptions.size >= limits.maxSubscriptions
    ) {
      refuse(
        `blocked: ${limits.maxSubscriptions} subscriptions are open on this connection, the limit; CLOSE one first`,
      );
      return;
    }
    let stored: string[];
    try {
      stored = this.store.query(parsed.filters);
    } catch (error) {
      this.log(`query failed for ${connection.remote}: ${(error as Error).message}`);
      refuse('error: the query failed');
      return;
    }
    connection.subscriptions.set(subscriptionId, parsed.filters);
    for (const json of stored) connection.event(subscriptionId, json);
    connection.eose(subscriptionId);
  }
}
