/**
 * Helpers for the relay tests: an embedded relay on 127.0.0.1 with a random port and a fresh
 * database, signed events, a nostr-tools client, and a raw websocket client for the frames a
 * well-behaved client never sends. Test-only: nothing in the project may import this file.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AbstractRelay } from 'nostr-tools/abstract-relay';
import type { Filter } from 'nostr-tools/filter';
import {
  type EventTemplate,
  finalizeEvent,
  generateSecretKey,
  getPublicKey,
  type NostrEvent,
  verifyEvent,
} from 'nostr-tools/pure';
import { WebSocket } from 'ws';
import { resolveRelayConfig } from '../../node/relay/config.js';
import type { RelayLimits } from '../../node/relay/limits.js';
import { type RelayServer, startRelay } from '../../node/relay/server.js';

export type { NostrEvent };

export const tempDb = (): string =>
  join(mkdtempSync(join(tmpdir(), 'm2m-relay-test-')), 'relay.db');

export async function startTestRelay(
  limits: Partial<RelayLimits> = {},
  db = tempDb(),
  port = 0,
): Promise<RelayServer> {
  return startRelay(resolveRelayConfig({}, { host: '127.0.0.1', port, db, limits }));
}

export interface Signer {
  secretKey: Uint8Array;
  pubkey: string;
  sign(template: Partial<EventTemplate>): NostrEvent;
}

/** A key pair; `sign` fills kind 1, now, no tags and empty content unless given. */
export function signer(): Signer {
  const secretKey = generateSecretKey();
  return {
    secretKey,
    pubkey: getPublicKey(secretKey),
    sign: (template) => {
      const event = finalizeEvent(
        { kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [], content: '', ...template },
        secretKey,
      );
      // A plain copy without nostr-tools' "verified" mark, as it would arrive over the wire.
      return JSON.parse(JSON.stringify(event)) as NostrEvent;
    },
  };
}

/** A nostr-tools relay client over the `ws` package (Node 20 has no global WebSocket). */
export function connectClient(url: string): Promise<AbstractRelay> {
  return AbstractRelay.connect(url, {
    verifyEvent,
    websocketImplementation: WebSocket as unknown as typeof globalThis.WebSocket,
  });
}

/** Stored events matching the filters, in the order the relay sent them (until EOSE). */
export function query(client: AbstractRelay, filters: Filter[]): Promise<NostrEvent[]> {
  return new Promise((resolve, reject) => {
    const events: NostrEvent[] = [];
    const sub = client.subscribe(filters, {
      // Plain copies: nostr-tools marks verified events with a symbol.
      onevent: (event) => events.push(JSON.parse(JSON.stringify(event)) as NostrEvent),
      oneose: () => {
        sub.close();
        resolve(events);
      },
      onclose: (reason) => {
        if (reason !== 'closed by caller') reject(new Error(`CLOSED: ${reason}`));
      },
      // nostr-tools drops an event that fails its own filter match or signature check; here
      // that is a relay bug, not something to hide.
      oninvalidevent: (event) =>
        reject(new Error(`the relay sent an event outside the filters: ${JSON.stringify(event)}`)),
      eoseTimeout: 10_000,
    });
  });
}

/** Newest first, ties by lowest id: the order NIP-01 relays return stored events in. */
export const nip01Order = (events: NostrEvent[]): NostrEvent[] =>
  [...events].sort((a, b) =>
    a.created_at !== b.created_at ? b.created_at - a.created_at : a.id < b.id ? -1 : 1,
  );

/** A websocket that records every relay message and lets a test wait for one. */
export class RawClient {
  readonly messages: unknown[][] = [];
  private cursor = 0;
  private readonly listeners = new Set<() => void>();
  closeCode: number | undefined;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.messages.push(JSON.parse(data.toString()) as unknown[]);
      for (const wake of this.listeners) wake();
    });
    socket.on('close', (code) => {
      this.closeCode = code;
      for (const wake of this.listeners) wake();
    });
  }

  static open(url: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      socket.once('open', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends a value as JSON, or a string as is. */
  send(message: unknown): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /**
   * The next message not yet taken that `match`es; messages before it are taken too. Rejects on
   * timeout or when the socket closes first.
   */
  waitFor(
    match: (message: unknown[]) => boolean,
    what: string,
    timeoutMs = 5000,
  ): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      const check = () => {
        while (this.cursor < this.messages.length) {
          const message = this.messages[this.cursor++] as unknown[];
          if (match(message)) {
            done();
            resolve(message);
            return;
          }
        }
        if (this.closeCode !== undefined) {
          done();
          reject(new Error(`socket closed (${this.closeCode}) while waiting for ${what}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `no ${what} within ${timeoutMs} ms; got ${JSON.stringify(this.messages).slice(0, 2000)}`,
          ),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  /** The next message of a type. */
  next(type: string, timeoutMs?: number): Promise<unknown[]> {
    return this.waitFor((m) => m[0] === type, type, timeoutMs);
  }

  /** Sends a REQ and returns the events up to its EOSE (fails on CLOSED). */
  async req(subscriptionId: string, ...filters: unknown[]): Promise<NostrEvent[]> {
    const before = this.messages.length;
    this.send(['REQ', subscriptionId, ...filters]);
    await this.nextFor(subscriptionId, ['EOSE', 'CLOSED']);
    const replies = this.messages.slice(before).filter((m) => m[1] === subscriptionId);
    const closed = replies.find((m) => m[0] === 'CLOSED');
    if (closed !== undefined) throw new Error(`CLOSED: ${String(closed[2])}`);
    return replies.filter((m) => m[0] === 'EVENT').map((m) => m[2] as NostrEvent);
  }

  /** Like req, then CLOSEs the subscription. */
  async fetch(subscriptionId: string, ...filters: unknown[]): Promise<NostrEvent[]> {
    const events = await this.req(subscriptionId, ...filters);
    this.send(['CLOSE', subscriptionId]);
    return events;
  }

  /** The next message for a subscription whose type is one of `types`. */
  nextFor(subscriptionId: string, types: string[], timeoutMs?: number): Promise<unknown[]> {
    return this.waitFor(
      (m) => types.includes(m[0] as string) && m[1] === subscriptionId,
      `${types.join('/')} for ${subscriptionId}`,
      timeoutMs,
    );
  }

  /** Publishes and returns the relay's OK as [accepted, message]. */
  async publish(event: unknown): Promise<[boolean, string]> {
    this.send(['EVENT', event]);
    const ok = await this.next('OK');
    return [ok[2] as boolean, ok[3] as string];
  }

  /** Resolves with the close code once the socket is closed. */
  closed(): Promise<number> {
    return new Promise((resolve) => {
      if (this.closeCode !== undefined) resolve(this.closeCode);
      else this.socket.once('close', (code) => resolve(code));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.readyState === WebSocket.CLOSED) resolve();
      else {
        this.socket.once('close', () => resolve());
        this.socket.close();
      }
    });
  }
}
