import { failedRelays, publishEvent } from '../market/publish.js';
import type { RelayPool } from '../nostr/pool.js';
import type { JobRow, JobStore, OutboxEntry } from './store.js';

export interface OutboxEvents {
  /** One relay stored the event; `job` is set when a 6900 made its job `published`. */
  onConfirmed?: (entry: OutboxEntry, job: JobRow | undefined) => void;
  onPublishFailed?: (entry: OutboxEntry, why: string) => void;
}

const RETRY_MS = { initial: 1000, max: 30_000 };

/**
 * Sends the store's unconfirmed events, oldest first, until a relay confirms each. Events stay
 * in the store until then, so a restart re-sends exactly the same signed events. Failures are
 * retried with exponential backoff.
 */
export class Outbox {
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed = false;

  constructor(
    private readonly store: JobStore,
    private readonly pool: RelayPool,
    private readonly events: OutboxEvents = {},
  ) {}

  /** Sends what is pending; resolves when this round (and any round asked for meanwhile) is done. */
  flush(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.running !== undefined) {
      this.again = true;
      return this.running;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    this.running = this.loop().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Stops retrying; waits for a round in progress. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private async loop(): Promise<void> {
    let failed = false;
    do {
      this.again = false;
      failed = false;
      for (const entry of this.store.open ? this.store.pendingOutbox() : []) {
        let outcome: Awaited<ReturnType<typeof publishEvent>> | undefined;
        let why = '';
        try {
          outcome = await publishEvent(this.pool, entry.event);
          why = failedRelays(outcome.results);
        } catch (error) {
          // Only a closed pool throws here (shutdown); the event stays pending in the store.
          why = (error as Error).message;
        }
        if (!this.store.open || this.pool.closed) return;
        if (outcome?.confirmed === true) {
          this.events.onConfirmed?.(entry, this.store.confirm(entry.eventId));
        } else {
          failed = true;
          this.store.noteFailedPublish(entry.eventId, why);
          this.events.onPublishFailed?.(entry, why);
        }
      }
    } while (this.again && !this.closed);
    if (failed && !this.closed) {
      const delay = Math.min(RETRY_MS.max, RETRY_MS.initial * 2 ** this.failures++);
      this.timer = setTimeout(() => void this.flush(), delay);
      this.timer.unref();
    } else if (!failed) this.failures = 0;
  }
}
