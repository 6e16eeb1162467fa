import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { M2mError } from '../../zkvm/errors.js';
import { KIND_JOB_RESULT, type NostrEvent } from '../dvm/event.js';

/**
 * received → accepted | refused → proving → published | failed. `proving` with a result event
 * means the 6900 is built and signed but no relay has confirmed it yet.
 */
export type JobState = 'received' | 'accepted' | 'refused' | 'proving' | 'published' | 'failed';

export interface JobRow {
  requestId: string;
  customer: string;
  state: JobState;
  request: NostrEvent;
  receivedAt: number;
  updatedAt: number;
  code: string | undefined;
  reason: string | undefined;
  estimateSec: number | undefined;
  timeoutSec: number | undefined;
  /** Times proving started (more than 1 after a crash or restart mid-proof). */
  attempts: number;
  resultEventId: string | undefined;
  provingMs: number | undefined;
  vmCycles: number | undefined;
}

export interface OutboxEntry {
  eventId: string;
  requestId: string | undefined;
  kind: number;
  event: NostrEvent;
  attempts: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  request_id TEXT PRIMARY KEY,
  customer TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('received','accepted','refused','proving','published','failed')),
  request_json TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  code TEXT,
  reason TEXT,
  estimate_sec REAL,
  timeout_sec INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  result_event_id TEXT,
  proving_ms INTEGER,
  vm_cycles INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs(state);
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL UNIQUE,
  request_id TEXT,
  kind INTEGER NOT NULL,
  event_json TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  confirmed_at INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(seq) WHERE confirmed_at IS NULL;
`;

interface RawJob {
  request_id: string;
  customer: string;
  state: JobState;
  request_json: string;
  received_at: number;
  updated_at: number;
  code: string | null;
  reason: string | null;
  estimate_sec: number | null;
  timeout_sec: number | null;
  attempts: number;
  result_event_id: string | null;
  proving_ms: number | null;
  vm_cycles: number | null;
}

const orUndefined = <T>(value: T | null): T | undefined => (value === null ? undefined : value);

function toRow(raw: RawJob): JobRow {
  return {
    requestId: raw.request_id,
    customer: raw.customer,
    state: raw.state,
    request: JSON.parse(raw.request_json) as NostrEvent,
    receivedAt: raw.received_at,
    updatedAt: raw.updated_at,
    code: orUndefined(raw.code),
    reason: orUndefined(raw.reason),
    estimateSec: orUndefined(raw.estimate_sec),
    timeoutSec: orUndefined(raw.timeout_sec),
    attempts: raw.attempts,
    resultEventId: orUndefined(raw.result_event_id),
    provingMs: orUndefined(raw.proving_ms),
    vmCycles: orUndefined(raw.vm_cycles),
  };
}

/**
 * The provider's jobs and its outbox of signed events, in one SQLite file (WAL,
 * synchronous=FULL). Each state change commits together with the events it will publish, before
 * any of them is sent, so a crash at any point either redoes the step or re-sends the very same
 * signed events (relays dedupe by id). Transitions check the current state and fail with
 * PROVIDER_STATE_CONFLICT when it is not the expected one.
 */
export class JobStore {
  private readonly db: Database.Database;

  constructor(readonly path: string) {
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      this.db = new Database(path);
    } catch (cause) {
      throw new M2mError('IO_OPEN_FAILED', `cannot open the job store ${path}: ${String(cause)}`, {
        cause,
      });
    }
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
  }

  get open(): boolean {
    return this.db.open;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Records a request the first time it is seen; false when it is already known. */
  receive(request: NostrEvent): boolean {
    const now = Date.now();
    const info = this.db
      .prepare(
        `INSERT OR IGNORE INTO jobs (request_id, customer, state, request_json, received_at, updated_at)
         VALUES (?, ?, 'received', ?, ?, ?)`,
      )
      .run(request.id, request.pubkey, JSON.stringify(request), now, now);
    return info.changes === 1;
  }

  refuse(requestId: string, code: string, reason: string, feedback: NostrEvent): void {
    this.transition(requestId, ['received'], 'refused', { code, reason }, [feedback]);
  }

  accept(requestId: string, estimateSec: number, timeoutSec: number, feedback: NostrEvent): void {
    this.transition(
      requestId,
      ['received'],
      'accepted',
      { estimate_sec: estimateSec, timeout_sec: timeoutSec },
      [feedback],
    );
  }

  /** Before the prover starts; counts the attempt. */
  startProving(requestId: string): void {
    this.transition(requestId, ['accepted', 'proving'], 'proving', {}, [], {
      incrementAttempts: true,
      requireNoResult: true,
    });
  }

  /** The signed 6900 and the 7000 success, stored before either is sent. */
  recordResult(
    requestId: string,
    result: NostrEvent,
    success: NostrEvent,
    figures: { provingMs: number; vmCycles: number },
  ): void {
    this.transition(
      requestId,
      ['proving'],
      'proving',
      { result_event_id: result.id, proving_ms: figures.provingMs, vm_cycles: figures.vmCycles },
      [result, success],
      { requireNoResult: true },
    );
  }

  fail(requestId: string, code: string, reason: string, feedback: NostrEvent): void {
    this.transition(requestId, ['accepted', 'proving'], 'failed', { code, reason }, [feedback], {
      requireNoResult: true,
    });
  }

  /** An event not tied to a job (the handler announcement), sent through the outbox. */
  enqueue(event: NostrEvent): void {
    this.insertOutbox(event, undefined);
  }

  /** A relay stored the event; a confirmed 6900 makes its job `published`. */
  confirm(eventId: string): JobRow | undefined {
    return this.db.transaction(() => {
      const now = Date.now();
      const entry = this.db
        .prepare(
          'UPDATE outbox SET confirmed_at = ? WHERE event_id = ? AND confirmed_at IS NULL RETURNING kind, request_id',
        )
        .get(now, eventId) as { kind: number; request_id: string | null } | undefined;
      if (entry?.kind !== KIND_JOB_RESULT || entry.request_id === null) return undefined;
      this.db
        .prepare(
          `UPDATE jobs SET state = 'published', updated_at = ?
           WHERE request_id = ? AND state = 'proving' AND result_event_id = ?`,
        )
        .run(now, entry.request_id, eventId);
      return this.get(entry.request_id);
    })();
  }

  noteFailedPublish(eventId: string, error: string): void {
    this.db
      .prepare('UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE event_id = ?')
      .run(error, eventId);
  }

  pendingOutbox(): OutboxEntry[] {
    const rows = this.db
      .prepare(
        'SELECT event_id, request_id, kind, event_json, attempts FROM outbox WHERE confirmed_at IS NULL ORDER BY seq',
      )
      .all() as {
      event_id: string;
      request_id: string | null;
      kind: number;
      event_json: string;
      attempts: number;
    }[];
    return rows.map((r) => ({
      eventId: r.event_id,
      requestId: orUndefined(r.request_id),
      kind: r.kind,
      event: JSON.parse(r.event_json) as NostrEvent,
      attempts: r.attempts,
    }));
  }

  /** Requests received but not yet decided (the node stopped in between). */
  undecided(): string[] {
    return this.ids("state = 'received'");
  }

  /** Jobs to prove: accepted, or proving without a built result (interrupted mid-proof). */
  unproven(): string[] {
    return this.ids("state = 'accepted' OR (state = 'proving' AND result_event_id IS NULL)");
  }

  /** The signed 6900 of a job, once recorded. */
  resultEvent(requestId: string): NostrEvent | undefined {
    const row = this.db
      .prepare(
        `SELECT o.event_json FROM jobs j JOIN outbox o ON o.event_id = j.result_event_id
         WHERE j.request_id = ?`,
      )
      .pluck()
      .get(requestId) as string | undefined;
    return row === undefined ? undefined : (JSON.parse(row) as NostrEvent);
  }

  get(requestId: string): JobRow | undefined {
    const raw = this.db.prepare('SELECT * FROM jobs WHERE request_id = ?').get(requestId) as
      | RawJob
      | undefined;
    return raw === undefined ? undefined : toRow(raw);
  }

  list(): JobRow[] {
    return (this.db.prepare('SELECT * FROM jobs ORDER BY received_at').all() as RawJob[]).map(
      toRow,
    );
  }

  counts(): Record<JobState, number> {
    const counts: Record<JobState, number> = {
      received: 0,
      accepted: 0,
      refused: 0,
      proving: 0,
      published: 0,
      failed: 0,
    };
    const rows = this.db.prepare('SELECT state, COUNT(*) AS n FROM jobs GROUP BY state').all() as {
      state: JobState;
      n: number;
    }[];
    for (const row of rows) counts[row.state] = row.n;
    return counts;
  }

  private ids(where: string): string[] {
    return this.db
      .prepare(`SELECT request_id FROM jobs WHERE ${where} ORDER BY received_at`)
      .pluck()
      .all() as string[];
  }

  private insertOutbox(event: NostrEvent, requestId: string | undefined): void {
    this.db
      .prepare(
        `INSERT OR IGNORE INTO outbox (event_id, request_id, kind, event_json, created_at)
         VALUES (?, ?, ?, ?, ?)`,
      )
      .run(event.id, requestId ?? null, event.kind, JSON.stringify(event), Date.now());
  }

  private transition(
    requestId: string,
    from: JobState[],
    to: JobState,
    columns: Record<string, string | number>,
    events: NostrEvent[],
    options: { incrementAttempts?: boolean; requireNoResult?: boolean } = {},
  ): void {
    this.db.transaction(() => {
      const names = Object.keys(columns);
      const sets = [
        'state = ?',
        'updated_at = ?',
        ...names.map((name) => `${name} = ?`),
        ...(options.incrementAttempts === true ? ['attempts = attempts + 1'] : []),
      ];
      const info = this.db
        .prepare(
          `UPDATE jobs SET ${sets.join(', ')}
           WHERE request_id = ? AND state IN (${from.map(() => '?').join(', ')})${options.requireNoResult === true ? ' AND result_event_id IS NULL' : ''}`,
        )
        .run(to, Date.now(), ...names.map((name) => columns[name]), requestId, ...from);
      if (info.changes !== 1) {
        const current = this.get(requestId);
        throw new M2mError(
          'PROVIDER_STATE_CONFLICT',
          current === undefined
            ? `job ${requestId} is not in the job store`
            : `job ${requestId} is ${current.state}${current.resultEventId === undefined ? '' : ' with a result'}; it cannot become ${to} (expected ${from.join(' or ')})`,
          { details: { requestId, from, to, current: current?.state } },
        );
      }
      for (const event of events) this.insertOutbox(event, requestId);
    })();
  }
}
