import { AbstractRelay, type Subscription } from 'nostr-tools/abstract-relay';
import type { Filter } from 'nostr-tools/filter';
import { WebSocket } from 'ws';
import { RELAY_ERRORS, relayError } from '../relay/errors.js';
import { loadSignatureVerifier, type NostrEvent, type SignatureVerifier } from '../relay/event.js';

export type { Filter, NostrEvent };

export interface BackoffOptions {
  /** Delay before the first reconnection attempt. */
  initialMs: number;
  /** Upper bound of the delay. */
  maxMs: number;
  /** Each failed attempt multiplies the delay by this. */
  factor: number;
}

export interface RelayPoolOptions {
  backoff?: Partial<BackoffOptions>;
  /** Give up one connection attempt after this long (then back off and retry). */
  connectTimeoutMs?: number;
  /** How long publish waits for a relay to connect and then for its OK. */
  publishTimeoutMs?: number;
  /** A relay that sends no EOSE within this long counts as having sent it. */
  eoseTimeoutMs?: number;
  /** Ids remembered per subscription for de-duplication (oldest forgotten first). */
  maxSeenIds?: number;
  onStatus?: (url: string, status: RelayStatus) => void;
  onNotice?: (url: string, message: string) => void;
}

export type RelayStatus = 'connecting' | 'connected' | 'disconnected' | 'closed';

/** One relay's answer to a publish: its OK (accepted and message), or why there was none. */
export interface PublishResult {
  url: string;
  ok: boolean;
  message: string;
}

export interface PoolSubscriptionParams {
  /** Each event once, from the first relay that delivers it. */
  onevent: (event: NostrEvent, url: string) => void;
  /** Once every relay connected at subscription time has sent EOSE, CLOSED, or timed out. */
  oneose?: () => void;
  /** A relay refused or ended the subscription (CLOSED); the other relays go on. */
  onclosed?: (url: string, reason: string) => void;
}

export interface PoolSubscription {
  close(): void;
}

const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 30_000, factor: 2 };

/** The delay before reconnection attempt `attempt` (0-based): exponential, capped. */
export function backoffDelay(attempt: number, backoff: BackoffOptions): number {
  return Math.min(backoff.maxMs, backoff.initialMs * backoff.factor ** attempt);
}

interface PoolSub {
  filters: Filter[];
  params: PoolSubscriptionParams;
  seen: Set<string>;
  /** Relays still owing an EOSE for the first round; oneose fires when it empties. */
  awaitingEose: Set<string>;
  eoseSent: boolean;
  closed: boolean;
  perRelay: Map<string, Subscription>;
}

/**
 * Several relays behind one interface (nostr-tools' AbstractRelay per relay): publish to all,
 * subscribe to all with de-duplication by event id, and reconnect each relay on its own with
 * exponential backoff, re-sending open subscriptions when it is back.
 */
export class RelayPool {
  readonly urls: readonly string[];
  private readonly links: Map<string, RelayLink>;
  private readonly subs = new Set<PoolSub>();
  readonly backoff: BackoffOptions;
  readonly options: Required<Omit<RelayPoolOptions, 'backoff' | 'onStatus' | 'onNotice'>> &
    Pick<RelayPoolOptions, 'onStatus' | 'onNotice'>;
  private verifier: SignatureVerifier | undefined;
  private started: Promise<void> | undefined;
  closed = false;

  constructor(urls: readonly string[], options: RelayPoolOptions = {}) {
    if (urls.length === 0)
      throw relayError(RELAY_ERRORS.poolInvalidUrl, 'a relay pool needs at least one relay URL');
    for (const url of urls) {
      if (!/^wss?:\/\/[^\s/]+/.test(url))
        throw relayError(
          RELAY_ERRORS.poolInvalidUrl,
          `"${url}" is not a relay URL (expected ws://host:port or wss://host)`,
        );
    }
    this.urls = [...new Set(urls)];
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.options = {
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
      publishTimeoutMs: options.publishTimeoutMs ?? 5000,
      eoseTimeoutMs: options.eoseTimeoutMs ?? 5000,
      maxSeenIds: options.maxSeenIds ?? 100_000,
      onStatus: options.onStatus,
      onNotice: options.onNotice,
    };
    this.links = new Map(this.urls.map((url) => [url, new RelayLink(url, this)]));
  }

  /**
   * Connects to every relay. Resolves when each has connected or failed its first attempt;
   * the failed ones keep retrying in the background.
   */
  connect(): Promise<void> {
    this.assertOpen();
    this.started ??= loadSignatureVerifier().then(async (verifier) => {
      this.verifier = verifier;
      await Promise.all([...this.links.values()].map((link) => link.attempt()));
    });
    return this.started;
  }

  status(): Record<string, RelayStatus> {
    return Object.fromEntries([...this.links].map(([url, link]) => [url, link.status]));
  }

  /** Sends the event to every relay in parallel; one result per relay, never throws. */
  async publish(event: NostrEvent): Promise<PublishResult[]> {
    this.assertOpen();
    await this.connect();
    return Promise.all(
      [...this.links.values()].map(async (link): Promise<PublishResult> => {
        const relay = await link.ready(this.options.publishTimeoutMs);
        if (relay === undefined)
          return { url: link.url, ok: false, message: 'error: not connected to this relay' };
        try {
          return { url: link.url, ok: true, message: await relay.publish(event) };
        } catch (error) {
          return { url: link.url, ok: false, message: (error as Error).message };
        }
      }),
    );
  }

  /** Subscribes on every relay (and again on each one that reconnects). */
  subscribe(filters: Filter[], params: PoolSubscriptionParams): PoolSubscription {
    this.assertOpen();
    const sub: PoolSub = {
      filters,
      params,
      seen: new Set(),
      awaitingEose: new Set(),
      eoseSent: false,
      closed: false,
      perRelay: new Map(),
    };
    this.subs.add(sub);
    for (const link of this.links.values()) {
      if (link.relay !== undefined) {
        sub.awaitingEose.add(link.url);
        link.open(sub);
      }
    }
    this.checkEose(sub);
    return {
      close: () => {
        if (sub.closed) return;
        sub.closed = true;
        this.subs.delete(sub);
        for (const relaySub of sub.perRelay.values()) relaySub.close();
        sub.perRelay.clear();
      },
    };
  }

  /** Closes every relay connection and stops reconnecting. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const sub of this.subs) sub.closed = true;
    this.subs.clear();
    for (const link of this.links.values()) link.shutdown();
  }

  /** Internal to RelayLink. */
  get openSubs(): ReadonlySet<PoolSub> {
    return this.subs;
  }

  /** Internal to RelayLink. */
  get signatureVerifier(): SignatureVerifier | undefined {
    return this.verifier;
  }

  /** Internal to RelayLink. */
  checkEose(sub: PoolSub): void {
    if (!sub.eoseSent && sub.awaitingEose.size === 0) {
      sub.eoseSent = true;
      sub.params.oneose?.();
    }
  }

  private assertOpen(): void {
    if (this.closed) throw relayError(RELAY_ERRORS.poolClosed, 'the relay pool is closed');
  }
}

/** One relay of the pool: a fresh AbstractRelay per connection, reconnected with backoff. */
class RelayLink {
  relay: AbstractRelay | undefined;
  status: RelayStatus = 'disconnected';
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly lost = new WeakSet<AbstractRelay>();
  private waiters: (() => void)[] = [];

  constructor(
    readonly url: string,
    private readonly pool: RelayPool,
  ) {}

  /** One connection attempt; on failure the next one is scheduled. */
  async attempt(): Promise<void> {
    this.timer = undefined;
    const verifier = this.pool.signatureVerifier;
    if (this.pool.closed || verifier === undefined) return;
    this.setStatus('connecting');
    const relay = new AbstractRelay(this.url, {
      verifyEvent: (event) => verifier.verify(event),
      websocketImplementation: WebSocket as unknown as typeof globalThis.WebSocket,
      enablePing: true,
    });
    relay.publishTimeout = this.pool.options.publishTimeoutMs;
    relay.baseEoseTimeout = this.pool.options.eoseTimeoutMs;
    relay.onnotice = (message) => this.pool.options.onNotice?.(this.url, message);
    relay.onclose = () => this.drop(relay);
    try {
      await relay.connect({ timeout: this.pool.options.connectTimeoutMs });
    } catch {
      this.drop(relay);
      return;
    }
    if (this.pool.closed || this.lost.has(relay)) {
      relay.close();
      return;
    }
    this.relay = relay;
    this.failures = 0;
    this.setStatus('connected');
    for (const sub of this.pool.openSubs) this.open(sub);
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** The connected relay, waiting up to `timeoutMs` for a connection in progress. */
  async ready(timeoutMs: number): Promise<AbstractRelay | undefined> {
    if (this.relay !== undefined || this.pool.closed) return this.relay;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return this.relay;
  }

  open(sub: PoolSub): void {
    const relay = this.relay;
    if (relay === undefined || sub.closed) return;
    const relaySub = relay.subscribe(sub.filters, {
      alreadyHaveEvent: (id) => sub.seen.has(id),
      onevent: (event) => {
        if (sub.closed || sub.seen.has(event.id)) return;
        sub.seen.add(event.id);
        if (sub.seen.size > this.pool.options.maxSeenIds)
          sub.seen.delete(sub.seen.values().next().value as string);
        sub.params.onevent(event, this.url);
      },
      oneose: () => {
        sub.awaitingEose.delete(this.url);
        this.pool.checkEose(sub);
      },
      onclose: (reason) => {
        // Also called when the connection drops (then this.relay is already cleared and the
        // subscription is sent again on reconnect) and when we close it ourselves.
        if (sub.closed || this.relay !== relay) return;
        sub.perRelay.delete(this.url);
        sub.awaitingEose.delete(this.url);
        sub.params.onclosed?.(this.url, reason);
        this.pool.checkEose(sub);
      },
    });
    sub.perRelay.set(this.url, relaySub);
  }

  shutdown(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const relay = this.relay;
    this.relay = undefined;
    relay?.close();
    this.setStatus('closed');
    for (const wake of this.waiters.splice(0)) wake();
  }

  private drop(relay: AbstractRelay): void {
    if (this.lost.has(relay)) return;
    this.lost.add(relay);
    if (this.relay === relay) this.relay = undefined;
    if (this.pool.closed) return;
    this.setStatus('disconnected');
    for (const sub of this.pool.openSubs) {
      sub.awaitingEose.delete(this.url);
      this.pool.checkEose(sub);
    }
    const delay = backoffDelay(this.failures++, this.pool.backoff);
    this.timer = setTimeout(() => void this.attempt(), delay);
    this.timer.unref();
  }

  private setStatus(status: RelayStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.pool.options.onStatus?.(this.url, status);
  }
}
