import type { MarketRecorder } from '../ves/recorder.js';
import type { SettlementEvent, SettlementEvents } from './events.js';
import type { Journal } from './journal.js';

export interface VesBridgeOptions {
  /** Asset name written in the VES events (amounts are in its smallest unit). */
  asset?: string;
  /** Called when an event could not be recorded (the next start records it again). */
  onError?: (event: SettlementEvent, code: string, message: string) => void;
}

/**
 * Turns settlement facts into VES market events: `payment.fulfilled` becomes `payment.settled`
 * and `provider.slashed` stays `provider.slashed` (the payment id is the job request id). It
 * first replays the journal from the start, so facts committed while the node was down or before
 * a crash are recorded too; the recorder is idempotent by fact, so a replay appends nothing twice.
 * Returns the function that stops listening.
 */
export async function bridgeSettlementToVes(
  source: { journal: Journal; events: SettlementEvents; config?: { ilpAddress: string } },
  recorder: MarketRecorder,
  options: VesBridgeOptions = {},
): Promise<() => void> {
  const asset = options.asset ?? 'msat';
  const record = async (event: SettlementEvent): Promise<void> => {
    const outcome = await recordOne(event, source, recorder, asset);
    if (outcome !== undefined && !outcome.ok)
      options.onError?.(event, outcome.code, outcome.message);
  };
  const queue: SettlementEvent[] = [];
  let draining: Promise<void> | undefined;
  const drain = async () => {
    for (let event = queue.shift(); event !== undefined; event = queue.shift()) await record(event);
    draining = undefined;
  };
  const enqueue = (event: SettlementEvent) => {
    queue.push(event);
    draining ??= drain();
  };
  const off = source.events.on('event', enqueue);
  for (let seq = 0; ; ) {
    const page = source.journal.eventsSince(seq, 1000);
    if (page.length === 0) break;
    for (const event of page) enqueue(event);
    seq = page[page.length - 1]?.seq ?? seq;
  }
  await draining;
  return off;
}

function recordOne(
  event: SettlementEvent,
  source: { journal: Journal; config?: { ilpAddress: string } },
  recorder: MarketRecorder,
  asset: string,
) {
  const text = (key: string) => String(event.data[key] ?? '');
  switch (event.type) {
    case 'payment.fulfilled': {
      // The escrow pays from a buyer account to a provider's revenue; a provider was paid by an
      // escrow (its ILP address) into this node (its own ILP address).
      const escrowSide = source.journal.get('escrow', event.paymentId);
      const providerSide = source.journal.get('provider', event.paymentId);
      const [from, to] =
        escrowSide !== undefined
          ? [`buyer:${escrowSide.buyer}`, `revenue:${escrowSide.counterparty}`]
          : [providerSide?.buyer ?? 'escrow', source.config?.ilpAddress ?? 'self'];
      return recorder.record('payment.settled', {
        paymentId: event.paymentId,
        jobId: event.paymentId,
        from,
        to,
        amount: text('amount'),
        asset,
      });
    }
    case 'provider.slashed':
      return recorder.record('provider.slashed', {
        provider: text('provider'),
        jobId: event.paymentId,
        amount: text('amount'),
        asset,
        reason: `slashed to ${text('to')}`,
      });
    default:
      return undefined;
  }
}
