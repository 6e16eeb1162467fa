import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { M2mError } from '../../zkvm/errors.js';
import { canonicalJson } from './hash.js';
import { type SequencedEvent, VesEventEnvelope, type VesReceipt } from './types.js';

/**
 * The local VES outbox (better-sqlite3, WAL, synchronous=FULL): signed events wait here until a
 * sequencer has given each a sequence number. Crash safety comes from two rules:
 *
 * 1. An event is marked pushed only after the sequencer's receipt for it arrived, in one
 *    transaction per answer. A crash between "sent" and "marked" leaves it pending.
 * 2. A pending event is resent byte for byte (the stored envelope); the sequencer answers an
 *    exact replay with the receipt and sequence number it already gave. So nothing is lost and
 *    nothing is sequenced twice.
 */

export type OutboxStatus = 'pending' | 'pushed' | 'rejected';

export interface StreamId {
  tenantId: string;
  storeId: string;
}

export interface OutboxEntry {
  /** Local append order (1, 2, ...). */
  localSeq: number;
  eventId: string;
  tenantId: string;
  storeId: string;
  envelope: VesEventEnvelope;
  status: OutboxStatus;
  /** Sequence number the sequencer assigned (pushed only). */
  sequenceNumber: number | undefined;
  receipt: VesReceipt | undefined;
  attempts: number;
  lastError: string | undefined;
  createdAt: string;
  pushedAt: string | undefined;
}

export interface SyncState extends StreamId {
  /** Highest remote sequence number among this stream's pushed events (0 when none). */
  lastPushedSeq: number;
  /** Highest remote sequence number pulled into `pulled_events` (0 when none). */
  lastPulledSeq: number;
  updatedAt: string;
}

export interface PushResult {
  eventId: string;
  sequenceNumber: number;
  receipt?: VesReceipt;
}

export interface OutboxCounts {
  pending: number;
  pushed: number;
  rejected: number;
  pulled: number;
}

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS outbox_events (
  local_seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL UNIQUE,
  tenant_id TEXT NOT NULL,
  store_id TEXT NOT NULL,
  envelope TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'pushed', 'rejected')),
  sequence_number INTEGER,
  receipt TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  created_at TEXT NOT NULL,
  pushed_at TEXT,
  CHECK ((status = 'pushed') = (sequence_number IS NOT NULL))
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox_events (status, tenant_id, store_id, local_seq);
CREATE UNIQUE INDEX IF NOT EXISTS outbox_remote_seq
  ON outbox_events (tenant_id, store_id, sequence_number) WHERE sequence_number IS NOT NULL;
CREATE TABLE IF NOT EXISTS sync_state (
  tenant_id TEXT NOT NULL,
  store_id TEXT NOT NULL,
  last_pushed_seq INTEGER NOT NULL DEFAULT 0,
  last_pulled_seq INTEGER NOT NULL DEFAULT 0,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (tenant_id, store_id)
);
CREATE TABLE IF NOT EXISTS pulled_events (
  tenant_id TEXT NOT NULL,
  store_id TEXT NOT NULL,
  sequence_number INTEGER NOT NULL,
  event_id TEXT NOT NULL,
  event TEXT NOT NULL,
  pulled_at TEXT NOT NULL,
  PRIMARY KEY (tenant_id, store_id, sequence_number)
);
`;

interface Row {
  local_seq: number;
  event_id: string;
  tenant_id: string;
  store_id: string;
  envelope: string;
  status: OutboxStatus;
  sequence_number: number | null;
  receipt: string | null;
  attempts: number;
  last_error: string | null;
  created_at: string;
  pushed_at: string | null;
}

interface StateRow {
  tenant_id: string;
  store_id: string;
  last_pushed_seq: number;
  last_pulled_seq: number;
  updated_at: string;
}

const now = (): string => new Date().toISOString();
/** Ids are stored lowercase: UUIDs compare case-insensitively. */
const lower = (s: StreamId): StreamId => ({
  tenantId: s.tenantId.toLowerCase(),
  storeId: s.storeId.toLowerCase(),
});

export class Outbox {
  readonly path: string;
  private readonly db: Database.Database;

  private constructor(path: string, db: Database.Database) {
    this.path = path;
    this.db = db;
  }

  /** Opens (creating when missing) the outbox database at `path`. */
  static open(path: string): Outbox {
    let db: Database.Database;
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      db = new Database(path);
    } catch (cause) {
      throw new M2mError(
        'OUTBOX_OPEN_FAILED',
        `cannot open the VES outbox ${path}: ${(cause as Error).message}`,
        {
          cause,
        },
      );
    }
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('busy_timeout = 10000');
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION)
        throw new M2mError(
          'OUTBOX_SCHEMA_NEWER',
          `${path} was written by a newer m2m (outbox schema ${version} > ${SCHEMA_VERSION}); upgrade m2m`,
        );
      db.exec(SCHEMA);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    } catch (error) {
      db.close();
      throw error;
    }
    return new Outbox(path, db);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /**
   * Appends a signed event. Idempotent by event_id: the same event again is a no-op
   * (`inserted: false`); a different event under a known event_id is refused.
   */
  append(envelope: VesEventEnvelope): { localSeq: number; inserted: boolean } {
    return this.db.transaction(() => this.appendOne(envelope))();
  }

  /** Appends many events in one transaction; returns how many were new. */
  appendMany(envelopes: readonly VesEventEnvelope[]): number {
    return this.db.transaction(() => {
      let inserted = 0;
      for (const e of envelopes) if (this.appendOne(e).inserted) inserted++;
      return inserted;
    })();
  }

  private appendOne(input: VesEventEnvelope): { localSeq: number; inserted: boolean } {
    const parsed = VesEventEnvelope.safeParse(input);
    if (!parsed.success)
      throw new M2mError(
        'OUTBOX_EVENT_INVALID',
        `not a signed VES v1 event: ${parsed.error.message}`,
        {
          details: { issues: parsed.error.issues },
        },
      );
    const envelope = parsed.data;
    const text = canonicalJson(envelope);
    const existing = this.db
      .prepare<[string], { local_seq: number; envelope: string }>(
        'SELECT local_seq, envelope FROM outbox_events WHERE event_id = ?',
      )
      .get(envelope.event_id.toLowerCase());
    if (existing !== undefined) {
      if (existing.envelope !== text)
        throw new M2mError(
          'OUTBOX_EVENT_CONFLICT',
          `event ${envelope.event_id} is already in the outbox with different content; use a new event_id`,
          { details: { eventId: envelope.event_id } },
        );
      return { localSeq: existing.local_seq, inserted: false };
    }
    const info = this.db
      .prepare(
        `INSERT INTO outbox_events (event_id, tenant_id, store_id, envelope, created_at)
         VALUES (?, ?, ?, ?, ?)`,
      )
      .run(
        envelope.event_id.toLowerCase(),
        envelope.tenant_id.toLowerCase(),
        envelope.store_id.toLowerCase(),
        text,
        now(),
      );
    this.ensureState(envelope.tenant_id.toLowerCase(), envelope.store_id.toLowerCase());
    return { localSeq: Number(info.lastInsertRowid), inserted: true };
  }

  private ensureState(tenantId: string, storeId: string): void {
    this.db
      .prepare(
        `INSERT INTO sync_state (tenant_id, store_id, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (tenant_id, store_id) DO NOTHING`,
      )
      .run(tenantId, storeId, now());
  }

  /** The stream of the oldest pending event, if any. */
  nextPendingStream(): StreamId | undefined {
    const row = this.db
      .prepare<[], { tenant_id: string; store_id: string }>(
        `SELECT tenant_id, store_id FROM outbox_events WHERE status = 'pending' ORDER BY local_seq LIMIT 1`,
      )
      .get();
    return row === undefined ? undefined : { tenantId: row.tenant_id, storeId: row.store_id };
  }

  /**
   * The oldest pending events of one stream (the stream of the oldest pending event unless
   * given), in append order, counting the attempt. Sending them and marking the answers is the
   * caller's job; a crash in between only means they are claimed again.
   */
  claimBatch(limit: number, stream?: StreamId): OutboxEntry[] {
    if (!Number.isInteger(limit) || limit < 1)
      throw new M2mError(
        'OUTBOX_INVALID_LIMIT',
        `batch size must be a positive integer, got ${limit}`,
      );
    return this.db.transaction(() => {
      const s = stream === undefined ? this.nextPendingStream() : lower(stream);
      if (s === undefined) return [];
      const rows = this.db
        .prepare<[string, string, number], Row>(
          `SELECT * FROM outbox_events WHERE status = 'pending' AND tenant_id = ? AND store_id = ?
           ORDER BY local_seq LIMIT ?`,
        )
        .all(s.tenantId, s.storeId, limit);
      const bump = this.db.prepare(
        'UPDATE outbox_events SET attempts = attempts + 1 WHERE local_seq = ?',
      );
      for (const r of rows) {
        bump.run(r.local_seq);
        r.attempts += 1;
      }
      return rows.map(toEntry);
    })();
  }

  /** Pending events in append order (all streams), without claiming them. */
  pending(limit = 1000): OutboxEntry[] {
    return this.db
      .prepare<[number], Row>(
        `SELECT * FROM outbox_events WHERE status = 'pending' ORDER BY local_seq LIMIT ?`,
      )
      .all(limit)
      .map(toEntry);
  }

  /**
   * Records sequencer receipts, all in one transaction. Marking an event pushed again with the
   * same sequence number is a no-op; with a different one it is refused (the sequencer would have
   * sequenced it twice).
   */
  markPushed(results: readonly PushResult[]): void {
    this.db.transaction(() => {
      const get = this.db.prepare<[string], Row>('SELECT * FROM outbox_events WHERE event_id = ?');
      const set = this.db.prepare(
        `UPDATE outbox_events SET status = 'pushed', sequence_number = ?, receipt = ?, pushed_at = ?,
           last_error = NULL WHERE event_id = ?`,
      );
      const state = this.db.prepare(
        `UPDATE sync_state SET last_pushed_seq = MAX(last_pushed_seq, ?), updated_at = ?
         WHERE tenant_id = ? AND store_id = ?`,
      );
      for (const r of results) {
        const eventId = r.eventId.toLowerCase();
        const row = get.get(eventId);
        if (row === undefined)
          throw new M2mError(
            'OUTBOX_UNKNOWN_EVENT',
            `receipt for event ${r.eventId}, which is not in the outbox`,
          );
        if (row.status === 'pushed') {
          if (row.sequence_number !== r.sequenceNumber)
            throw new M2mError(
              'OUTBOX_SEQUENCE_CONFLICT',
              `event ${r.eventId} was sequenced as ${row.sequence_number} and now as ${r.sequenceNumber}`,
              {
                details: { eventId: r.eventId, before: row.sequence_number, now: r.sequenceNumber },
              },
            );
          continue;
        }
        set.run(
          r.sequenceNumber,
          r.receipt === undefined ? null : JSON.stringify(r.receipt),
          now(),
          eventId,
        );
        state.run(r.sequenceNumber, now(), row.tenant_id, row.store_id);
      }
    })();
  }

  /** Parks an event the sequencer refused (bad signature, unknown key, ...). */
  markRejected(eventId: string, reason: string): void {
    this.db
      .prepare(
        `UPDATE outbox_events SET status = 'rejected', last_error = ? WHERE event_id = ? AND status = 'pending'`,
      )
      .run(reason, eventId.toLowerCase());
  }

  /** Records a transient failure on the events of a batch; they stay pending. */
  noteError(eventIds: readonly string[], message: string): void {
    const stmt = this.db.prepare(
      `UPDATE outbox_events SET last_error = ? WHERE event_id = ? AND status = 'pending'`,
    );
    this.db.transaction(() => {
      for (const id of eventIds) stmt.run(message, id.toLowerCase());
    })();
  }

  /** Puts rejected events back in the queue (after the cause was fixed, e.g. key registered). */
  requeueRejected(): number {
    return this.db
      .prepare(`UPDATE outbox_events SET status = 'pending' WHERE status = 'rejected'`)
      .run().changes;
  }

  get(eventId: string): OutboxEntry | undefined {
    const row = this.db
      .prepare<[string], Row>('SELECT * FROM outbox_events WHERE event_id = ?')
      .get(eventId.toLowerCase());
    return row === undefined ? undefined : toEntry(row);
  }

  /** Every entry in append order (tests and `m2m sync status --events`). */
  entries(status?: OutboxStatus): OutboxEntry[] {
    const rows =
      status === undefined
        ? this.db.prepare<[], Row>('SELECT * FROM outbox_events ORDER BY local_seq').all()
        : this.db
            .prepare<[string], Row>(
              'SELECT * FROM outbox_events WHERE status = ? ORDER BY local_seq',
            )
            .all(status);
    return rows.map(toEntry);
  }

  counts(): OutboxCounts {
    const by = this.db
      .prepare<[], { status: OutboxStatus; n: number }>(
        'SELECT status, COUNT(*) AS n FROM outbox_events GROUP BY status',
      )
      .all();
    const n = (s: OutboxStatus) => by.find((r) => r.status === s)?.n ?? 0;
    const pulled =
      this.db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM pulled_events').get()?.n ?? 0;
    return { pending: n('pending'), pushed: n('pushed'), rejected: n('rejected'), pulled };
  }

  syncState(streamId: StreamId): SyncState {
    const stream = lower(streamId);
    const row = this.db
      .prepare<[string, string], StateRow>(
        'SELECT * FROM sync_state WHERE tenant_id = ? AND store_id = ?',
      )
      .get(stream.tenantId, stream.storeId);
    return row === undefined
      ? { ...stream, lastPushedSeq: 0, lastPulledSeq: 0, updatedAt: '' }
      : toState(row);
  }

  streams(): SyncState[] {
    return this.db
      .prepare<[], StateRow>('SELECT * FROM sync_state ORDER BY tenant_id, store_id')
      .all()
      .map(toState);
  }

  /**
   * Stores events pulled from the sequencer and advances `last_pulled_seq` to the highest
   * contiguous sequence number stored, in one transaction.
   */
  savePulled(streamId: StreamId, events: readonly SequencedEvent[]): number {
    const stream = lower(streamId);
    return this.db.transaction(() => {
      this.ensureState(stream.tenantId, stream.storeId);
      const insert = this.db.prepare(
        `INSERT INTO pulled_events (tenant_id, store_id, sequence_number, event_id, event, pulled_at)
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      );
      let stored = 0;
      for (const e of events) {
        stored += insert.run(
          stream.tenantId,
          stream.storeId,
          e.sequence_number,
          e.event_id,
          JSON.stringify(e),
          now(),
        ).changes;
      }
      let last = this.syncState(stream).lastPulledSeq;
      const has = this.db.prepare<[string, string, number], { one: number }>(
        'SELECT 1 AS one FROM pulled_events WHERE tenant_id = ? AND store_id = ? AND sequence_number = ?',
      );
      while (has.get(stream.tenantId, stream.storeId, last + 1) !== undefined) last++;
      this.db
        .prepare(
          'UPDATE sync_state SET last_pulled_seq = ?, updated_at = ? WHERE tenant_id = ? AND store_id = ?',
        )
        .run(last, now(), stream.tenantId, stream.storeId);
      return stored;
    })();
  }

  /** Pulled events of a stream in sequence order. */
  pulled(streamId: StreamId, fromSeq = 1, limit = 1000): SequencedEvent[] {
    const stream = lower(streamId);
    return this.db
      .prepare<[string, string, number, number], { event: string }>(
        `SELECT event FROM pulled_events WHERE tenant_id = ? AND store_id = ? AND sequence_number >= ?
         ORDER BY sequence_number LIMIT ?`,
      )
      .all(stream.tenantId, stream.storeId, fromSeq, limit)
      .map((r) => JSON.parse(r.event) as SequencedEvent);
  }
}

function toEntry(r: Row): OutboxEntry {
  return {
    localSeq: r.local_seq,
    eventId: r.event_id,
    tenantId: r.tenant_id,
    storeId: r.store_id,
    envelope: JSON.parse(r.envelope) as VesEventEnvelope,
    status: r.status,
    sequenceNumber: r.sequence_number ?? undefined,
    receipt: r.receipt === null ? undefined : (JSON.parse(r.receipt) as VesReceipt),
    attempts: r.attempts,
    lastError: r.last_error ?? undefined,
    createdAt: r.created_at,
    pushedAt: r.pushed_at ?? undefined,
  };
}

function toState(r: StateRow): SyncState {
  return {
    tenantId: r.tenant_id,
    storeId: r.store_id,
    lastPushedSeq: r.last_pushed_seq,
    lastPulledSeq: r.last_pulled_seq,
    updatedAt: r.updated_at,
  };
}
