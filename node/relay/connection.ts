import { WebSocket } from 'ws';
import type { RelayFilter } from './filters.js';
import { TokenBucket } from './limits.js';

/** One client websocket: its subscriptions, its rate limit, and the NIP-01 replies it gets. */
export class Connection {
  readonly subscriptions = new Map<string, readonly RelayFilter[]>();
  readonly events: TokenBucket;
  /** Cleared by every pong; a connection still false at the next heartbeat is dead. */
  alive = true;

  constructor(
    readonly socket: WebSocket,
    readonly remote: string,
    eventsPerSecond: number,
    eventBurst: number,
    private readonly maxBufferedBytes: number,
  ) {
    this.events = new TokenBucket(eventsPerSecond, eventBurst);
  }

  get open(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  send(message: string): void {
    if (!this.open) return;
    // A client that stopped reading would otherwise make the relay buffer every event for it.
    if (this.socket.bufferedAmount > this.maxBufferedBytes) {
      this.socket.terminate();
      return;
    }
    this.socket.send(message);
  }

  /** `json` is an event's stored JSON text, spliced in without parsing it again. */
  event(subscriptionId: string, json: string): void {
    this.send(`["EVENT",${JSON.stringify(subscriptionId)},${json}]`);
  }

  ok(eventId: string, accepted: boolean, message: string): void {
    this.send(JSON.stringify(['OK', eventId, accepted, message]));
  }

  eose(subscriptionId: string): void {
    this.send(JSON.stringify(['EOSE', subscriptionId]));
  }

  closed(subscriptionId: string, reason: string): void {
    this.send(JSON.stringify(['CLOSED', subscriptionId, reason]));
  }

  notice(message: string): void {
    this.send(JSON.stringify(['NOTICE', message]));
  }
}
