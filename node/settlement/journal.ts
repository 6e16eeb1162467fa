import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { M2mError } from '../../zkvm/errors.js';
import type { SettlementMode } from './config.js';
import type { SettlementEvent, SettlementEventType } from './events.js';

/** Escrow side: from the PREPARE to one terminal state; `-ing` states are steps under way. */
export type EscrowState =
  | 'preparing'
  | 'prepared'
  | 'claimed'
  | 'released'
  | 'fulfilling'
  | 'fulfilled'
  | 'rejecting'
  | 'rejected'
  | 'expiring'
  | 'expired'
  | 'failed';
/** Provider side: a held PREPARE until it is fulfilled, rejected or expires. */
export type ProviderState =
  | 'held'
  | 'claimed'
  | 'fulfilling'
  | 'fulfilled'
  | 'rejected'
  | 'expired';
export type PaymentState = EscrowState | ProviderState;

export const TERMINAL: ReadonlySet<PaymentState> = new Set([
  'fulfilled',
  'rejected',
  'expired',
  'failed',
]);

/** The only transitions the journal accepts (a crash can only ever resume a legal one). */
const ESCROW_TRANSITIONS: Record<EscrowState, readonly EscrowState[]> = {
  preparing: ['prepared', 'failed'],
  prepared: ['claimed', 'released', 'rejecting', 'expiring'],
  claimed: ['released', 'rejecting', 'expiring'],
  released: ['fulfilling', 'expiring'],
  fulfilling: ['fulfilled', 'expiring'],
  rejecting: ['rejected'],
  expiring: ['expired'],
  fulfilled: [],
  rejected: [],
  expired: [],
  failed: [],
};
const PROVIDER_TRANSITIONS: Record<ProviderState, readonly ProviderState[]> = {
  held: ['claimed', 'fulfilling', 'rejected', 'expired'],
  claimed: ['fulfilling', 'rejected', 'expired'],
  fulfilling: ['fulfilled', 'expired'],
  fulfilled: [],
  rejected: [],
  expired: [],
};

export interface PaymentRecord {
  id: string;
  role: 'escrow' | 'provider';
  state: PaymentState;
  mode: SettlementMode;
  /** Escrow: the buyer's account owner. Provider: the escrow's ILP address. */
  buyer: string;
  /** Escrow: the provider's peer name. Provider: the escrow's peer name. */
  counterparty: string;
  amount: bigint;
  /** Bond held from the provider's stake for this payment (taken if the proof fails). */
  slashAmount: bigint;
  slashTo: 'buyer' | 'fees';
  condition: Buffer;
  /** Escrow: the secret preimage. Provider: known once released. */
  fulfillment: Buffer | null;
  proofDeadline: number;
  expiresAt: number;
  windowEndsAt: number | null;
  /** What the proof must match (job request hash, plan hash, data root, output hash...). */
  expect: Record<string, string>;
  /** The proof submission (JSON bytes) once one arrived. */
  submission: Buffer | null;
  verdict: { valid: boolean; code?: string; reason?: string } | null;
  /** The OER FULFILL or REJECT that ended the payment. */
  reply: Buffer | null;
  reason: string | null;
  createdAt: number;
  updatedAt: number;
}

interface Row {
  id: string;
  role: string;
  state: string;
  mode: string;
  buyer: string;
  counterparty: string;
  amount: string;
  slash_amount: string;
  slash_to: string;
  condition: Buffer;
  fulfillment: Buffer | null;
  proof_deadline: number;
  expires_at: number;
  window_ends_at: number | null;
  expect: string;
  submission: Buffer | null;
  verdict: string | null;
  reply: Buffer | null;
  reason: string | null;
  created_at: number;
  updated_at: number;
}

const recordOf = (r: Row): PaymentRecord => ({
  id: r.id,
  role: r.role as PaymentRecord['role'],
  state: r.state as PaymentState,
  mode: r.mode as SettlementMode,
  buyer: r.buyer,
  counterparty: r.counterparty,
  amount: BigInt(r.amount),
  slashAmount: BigInt(r.slash_amount),
  slashTo: r.slash_to as PaymentRecord['slashTo'],
  condition: r.condition,
  fulfillment: r.fulfillment,
  proofDeadline: r.proof_deadline,
  expiresAt: r.expires_at,
  windowEndsAt: r.window_ends_at,
  expect: JSON.parse(r.expect) as Record<string, string>,
  submission: r.submission,
  verdict: r.verdict === null ? null : (JSON.parse(r.verdict) as PaymentRecord['verdict']),
  reply: r.reply,
  reason: r.reason,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const SCHEMA = `
CREATE TABLE IF NOT EXISTS payments (
  id TEXT NOT NULL, role TEXT NOT NULL, state TEXT NOT NULL, mode TEXT NOT NULL,
  buyer TEXT NOT NULL, counterparty TEXT NOT NULL, amount TEXT NOT NULL,
  slash_amount TEXT NOT NULL, slash_to TEXT NOT NULL, condition BLOB NOT NULL, fulfillment BLOB,
  proof_deadline INTEGER NOT NULL, expires_at INTEGER NOT NULL, window_ends_at INTEGER,
  expect TEXT NOT NULL, submission BLOB, verdict TEXT, reply BLOB, reason TEXT,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (role, id)
);
CREATE INDEX IF NOT EXISTS payments_open ON payments (role, state);
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, payment_id TEXT NOT NULL,
  at INTEGER NOT NULL, data TEXT NOT NULL
);
`;

export type RecordPatch = Partial<
  Pick<
    PaymentRecord,
    'fulfillment' | 'windowEndsAt' | 'submission' | 'verdict' | 'reply' | 'reason'
  >
>;

export interface NewEvent {
  type: SettlementEventType;
  data: SettlementEvent['data'];
}

/**
 * The settlement journal: one row per payment and role with a checked state machine, and the
 * append-only event stream, in one SQLite file (WAL). A state change and its events commit in one
 * transaction, so the stream never shows a state the journal does not have, nor misses one.
 */
export class Journal {
  private readonly db: Database.Database;
  private closed = false;

  constructor(
    readonly path: string,
    private readonly now: () => number = Date.now,
  ) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
  }

  /** Inserts a new payment; an existing one with the same id is returned unchanged. */
  insert(
    record: Omit<PaymentRecord, 'createdAt' | 'updatedAt'>,
    events: NewEvent[] = [],
  ): { record: PaymentRecord; created: boolean; events: SettlementEvent[] } {
    return this.db.transaction(() => {
      const existing = this.get(record.role, record.id);
      if (existing !== undefined) return { record: existing, created: false, events: [] };
      const at = this.now();
      this.db
        .prepare(
          `INSERT INTO payments VALUES (@id, @role, @state, @mode, @buyer, @counterparty, @amount,
           @slash_amount, @slash_to, @condition, @fulfillment, @proof_deadline, @expires_at,
           @window_ends_at, @expect, @submission, @verdict, @reply, @reason, @at, @at)`,
        )
        .run({
          id: record.id,
          role: record.role,
          state: record.state,
          mode: record.mode,
          buyer: record.buyer,
          counterparty: record.counterparty,
          amount: record.amount.toString(),
          slash_amount: record.slashAmount.toString(),
          slash_to: record.slashTo,
          condition: record.condition,
          fulfillment: record.fulfillment,
          proof_deadline: record.proofDeadline,
          expires_at: record.expiresAt,
          window_ends_at: record.windowEndsAt,
          expect: JSON.stringify(record.expect),
          submission: record.submission,
          verdict: record.verdict === null ? null : JSON.stringify(record.verdict),
          reply: record.reply,
          reason: record.reason,
          at,
        });
      const appended = events.map((e) => this.append(record.id, e, at));
      return {
        record: this.get(record.role, record.id) as PaymentRecord,
        created: true,
        events: appended,
      };
    })();
  }

  get(role: PaymentRecord['role'], id: string): PaymentRecord | undefined {
    const row = this.db.prepare('SELECT * FROM payments WHERE role = ? AND id = ?').get(role, id) as
      | Row
      | undefined;
    return row === undefined ? undefined : recordOf(row);
  }

  list(role: PaymentRecord['role'], states?: readonly PaymentState[]): PaymentRecord[] {
    const rows = (
      states === undefined
        ? this.db.prepare('SELECT * FROM payments WHERE role = ? ORDER BY created_at').all(role)
        : this.db
            .prepare(
              `SELECT * FROM payments WHERE role = ? AND state IN (${states.map(() => '?').join(',')}) ORDER BY created_at`,
            )
            .all(role, ...states)
    ) as Row[];
    return rows.map(recordOf);
  }

  /**
   * Moves a payment from one of `from` to `to`, applying `patch` and appending `events`, in one
   * transaction. Throws SETTLEMENT_STATE when the payment is elsewhere (another step won the race
   * or it already finished), and SETTLEMENT_TRANSITION for a move the state machine forbids.
   */
  transition(
    role: PaymentRecord['role'],
    id: string,
    from: readonly PaymentState[],
    to: PaymentState,
    patch: RecordPatch = {},
    events: NewEvent[] = [],
  ): { record: PaymentRecord; events: SettlementEvent[] } {
    return this.db.transaction(() => {
      const current = this.get(role, id);
      if (current === undefined) throw new M2mError('PAYMENT_UNKNOWN', `no ${role} payment ${id}`);
      if (!from.includes(current.state))
        throw new M2mError(
          'SETTLEMENT_STATE',
          `payment ${id} is ${current.state}, not ${from.join(' or ')}`,
          { details: { state: current.state } },
        );
      const allowed =
        role === 'escrow'
          ? (ESCROW_TRANSITIONS[current.state as EscrowState] as readonly PaymentState[])
          : (PROVIDER_TRANSITIONS[current.state as ProviderState] as readonly PaymentState[]);
      if (!allowed?.includes(to))
        throw new M2mError(
          'SETTLEMENT_TRANSITION',
          `a ${role} payment cannot go from ${current.state} to ${to}`,
        );
      const at = this.now();
      const sets = ['state = @to', 'updated_at = @at'];
      const params: Record<string, unknown> = { role, id, to, at };
      const columns: Record<keyof RecordPatch, string> = {
        fulfillment: 'fulfillment',
        windowEndsAt: 'window_ends_at',
        submission: 'submission',
        verdict: 'verdict',
        reply: 'reply',
        reason: 'reason',
      };
      for (const [key, column] of Object.entries(columns) as [keyof RecordPatch, string][]) {
        if (!(key in patch)) continue;
        const value = patch[key];
        sets.push(`${column} = @${column}`);
        params[column] = key === 'verdict' && value !== null ? JSON.stringify(value) : value;
      }
      this.db
        .prepare(`UPDATE payments SET ${sets.join(', ')} WHERE role = @role AND id = @id`)
        .run(params);
      const appended = events.map((e) => this.append(id, e, at));
      return { record: this.get(role, id) as PaymentRecord, events: appended };
    })();
  }

  /** Stores the escrow's cached re-verification verdict without changing state. */
  setVerdict(role: PaymentRecord['role'], id: string, verdict: PaymentRecord['verdict']): void {
    this.db
      .prepare('UPDATE payments SET verdict = ? WHERE role = ? AND id = ?')
      .run(JSON.stringify(verdict), role, id);
  }

  appendEvent(paymentId: string, event: NewEvent): SettlementEvent {
    return this.append(paymentId, event, this.now());
  }

  private append(paymentId: string, event: NewEvent, at: number): SettlementEvent {
    const info = this.db
      .prepare('INSERT INTO events (type, payment_id, at, data) VALUES (?, ?, ?, ?)')
      .run(event.type, paymentId, at, JSON.stringify(event.data));
    return { seq: Number(info.lastInsertRowid), type: event.type, paymentId, at, data: event.data };
  }

  /** Events after `seq` (exclusive), oldest first: how a consumer resumes from its offset. */
  eventsSince(seq: number, limit = 1000): SettlementEvent[] {
    const rows = this.db
      .prepare('SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?')
      .all(seq, limit) as {
      seq: number;
      type: string;
      payment_id: string;
      at: number;
      data: string;
    }[];
    return rows.map((r) => ({
      seq: r.seq,
      type: r.type as SettlementEventType,
      paymentId: r.payment_id,
      at: r.at,
      data: JSON.parse(r.data) as SettlementEvent['data'],
    }));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
