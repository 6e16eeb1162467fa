/**
 * The relay's limits. Each one is enforced by the server and advertised in the NIP-11 document
 * (those NIP-11 has a field for), so clients can read what the relay will refuse.
 */
export interface RelayLimits {
  /** Largest websocket message accepted, in bytes (NIP-11 `max_message_length`). */
  maxMessageBytes: number;
  /** Open subscriptions per connection (`max_subscriptions`). */
  maxSubscriptions: number;
  /** Filters in one REQ (`max_filters`). */
  maxFilters: number;
  /** Largest `limit` honoured per filter; larger ones are clamped (`max_limit`). */
  maxLimit: number;
  /** Stored events returned for a filter without `limit` (`default_limit`). */
  defaultLimit: number;
  /** Longest subscription id (`max_subid_length`). */
  maxSubidLength: number;
  /** Most tags an event may carry (`max_event_tags`). */
  maxEventTags: number;
  /** Longest `content`, in characters (`max_content_length`). */
  maxContentLength: number;
  /** Most values in one filter array (ids, authors, kinds, #x); keeps queries bounded. */
  maxFilterValues: number;
  /** Events accepted per second and connection, sustained (token bucket refill rate). */
  eventsPerSecond: number;
  /** Events a connection may send in a burst (token bucket size). */
  eventBurst: number;
  /** Seconds an event's created_at may lie in the future (`created_at_upper_limit`). */
  createdAtUpperLimit: number;
  /**
   * Bytes queued to one client before it is disconnected as too slow to read; without this a
   * stalled reader would make the relay buffer every live event for it.
   */
  maxBufferedBytes: number;
}

export const DEFAULT_RELAY_LIMITS: RelayLimits = {
  // A DVM result (kind 6900) may carry a proof of up to 512 KiB inline; base64 and the JSON
  // envelope need room on top, so messages up to 1 MiB are accepted.
  maxMessageBytes: 1024 * 1024,
  maxSubscriptions: 20,
  maxFilters: 10,
  maxLimit: 5000,
  defaultLimit: 500,
  maxSubidLength: 64,
  maxEventTags: 2500,
  maxContentLength: 1024 * 1024,
  maxFilterValues: 1000,
  eventsPerSecond: 100,
  eventBurst: 200,
  createdAtUpperLimit: 15 * 60,
  maxBufferedBytes: 32 * 1024 * 1024,
};

/** A token bucket: `take()` succeeds while tokens remain; they refill at `ratePerSecond`. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly capacity: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = capacity;
    this.last = now();
  }

  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(
      this.capacity,
      this.tokens + ((now - this.last) / 1000) * this.ratePerSecond,
    );
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
