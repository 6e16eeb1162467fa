import { EventEmitter } from 'node:events';

export type SettlementEventType =
  | 'payment.prepared'
  | 'payment.held'
  | 'payment.claimed'
  | 'payment.released'
  | 'payment.fulfilled'
  | 'payment.rejected'
  | 'payment.expired'
  | 'challenge.dismissed'
  | 'challenge.upheld'
  | 'provider.slashed';

/** One settlement fact, persisted in the journal with a gap-free sequence number. */
export interface SettlementEvent {
  seq: number;
  type: SettlementEventType;
  paymentId: string;
  /** Milliseconds since the epoch. */
  at: number;
  /** Amounts are decimal strings (JSON has no bigint). */
  data: Record<string, string | number | boolean | null>;
}

/**
 * The live side of the event stream: every event is emitted here after it is committed to the
 * journal. A consumer that was down resumes with `Journal.eventsSince(seq)` and then listens.
 */
export class SettlementEvents {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  emit(event: SettlementEvent): void {
    this.emitter.emit('event', event);
    this.emitter.emit(event.type, event);
  }

  on(type: SettlementEventType | 'event', listener: (event: SettlementEvent) => void): () => void {
    this.emitter.on(type, listener);
    return () => this.emitter.off(type, listener);
  }

  /** Resolves with the first event of `type` for `paymentId` (from now on). */
  next(type: SettlementEventType, paymentId: string, timeoutMs = 60_000): Promise<SettlementEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no ${type} for ${paymentId} within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.on(type, (e) => {
        if (e.paymentId !== paymentId) return;
        clearTimeout(timer);
        off();
        resolve(e);
      });
    });
  }
}
