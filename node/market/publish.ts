import type { NostrEvent } from '../dvm/event.js';
import type { PublishResult, RelayPool } from '../nostr/pool.js';

export interface PublishOutcome {
  /** At least one relay stored the event (or already had it: relays dedupe by id). */
  confirmed: boolean;
  results: PublishResult[];
}

/** Publishes to every relay of the pool; one relay's OK confirms the event. */
export async function publishEvent(pool: RelayPool, event: NostrEvent): Promise<PublishOutcome> {
  const results = await pool.publish(event);
  const confirmed = results.some((r) => r.ok || r.message.startsWith('duplicate:'));
  return { confirmed, results };
}

/** "url: message" for each relay that did not confirm, for an error message. */
export const failedRelays = (results: readonly PublishResult[]): string =>
  results
    .filter((r) => !r.ok)
    .map((r) => `${r.url}: ${r.message || 'no answer'}`)
    .join('; ');
