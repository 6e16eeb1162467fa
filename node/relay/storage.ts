import Database from 'better-sqlite3';
import { RELAY_ERRORS, relayError } from './errors.js';
import { compareVersions, dTagOf, kindClass, type NostrEvent } from './event.js';
import { matchesNothingStored, type RelayFilter } from './filters.js';

/** What happened to an event handed to the store. */
export type StoreOutcome =
  /** Written (and committed once the batch returns). */
  | 'stored'
  /** The same id is stored already. */
  | 'duplicate'
  /** A replaceable or addressable event whose stored version wins (NIP-01 ordering). */
  | 'superseded';

export interface PendingEvent {
  event: NostrEvent;
  /** The event's JSON text, stored verbatim and sent to subscribers as is. */
  json: string;
}

const SCHEMA_VERSION = 1;

// d_tag: NULL for regular kinds, '' for replaceable kinds, the `d` value for addressable kinds,
// so one index finds the stored version of both. Only single-letter tags are queryable (#x
// filters), so only those go to the tags table.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  pubkey TEXT NOT NULL,
  kind INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  d_tag TEXT,
  json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_time ON events(created_at DESC, id);
CREATE INDEX IF NOT EXISTS events_by_author ON events(pubkey, created_at DESC);
CREATE INDEX IF NOT EXISTS events_by_kind ON events(kind, created_at DESC);
CREATE INDEX IF NOT EXISTS events_by_address ON events(pubkey, kind, d_tag);
CREATE TABLE IF NOT EXISTS tags (
  event_seq INTEGER NOT NULL REFERENCES events(seq),
  name TEXT NOT NULL,
  value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tags_by_value ON tags(name, value, event_seq);
CREATE INDEX IF NOT EXISTS tags_by_event ON tags(event_seq);
`;

const QUERYABLE_TAG = /^[a-zA-Z]$/;

interface Row {
  seq: number;
  id: string;
  created_at: number;
  json: string;
}

/** The relay's events in SQLite (WAL, synchronous=FULL: a committed event survives a crash). */
export class RelayStore {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly storeBatchTx: (items: readonly PendingEvent[]) => StoreOutcome[];

  constructor(path: string) {
    this.path = path;
    try {
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.pragma('busy_timeout = 5000');
      const version = this.db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION)
        throw new Error(`schema version ${version} is newer than this relay's ${SCHEMA_VERSION}`);
      this.db.exec(SCHEMA);
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    } catch (cause) {
      throw relayError(
        RELAY_ERRORS.dbOpenFailed,
        `cannot open the relay database ${path}: ${(cause as Error).message}`,
        { cause },
      );
    }
    const hasId = this.db.prepare('SELECT 1 FROM events WHERE id = ?').pluck();
    const versions = this.db.prepare(
      'SELECT seq, id, created_at FROM events WHERE pubkey = ? AND kind = ? AND d_tag = ?',
    );
    const deleteTags = this.db.prepare('DELETE FROM tags WHERE event_seq = ?');
    const deleteEvent = this.db.prepare('DELETE FROM events WHERE seq = ?');
    const insertEvent = this.db.prepare(
      'INSERT INTO events (id, pubkey, kind, created_at, d_tag, json) VALUES (?, ?, ?, ?, ?, ?)',
    );
    const insertTag = this.db.prepare('INSERT INTO tags (event_seq, name, value) VALUES (?, ?, ?)');

    const storeOne = ({ event, json }: PendingEvent): StoreOutcome => {
      if (hasId.get(event.id) !== undefined) return 'duplicate';
      const kind = kindClass(event.kind);
      let dTag: string | null = null;
      if (kind === 'replaceable' || kind === 'addressable') {
        dTag = kind === 'addressable' ? dTagOf(event) : '';
        const stored = versions.all(event.pubkey, event.kind, dTag) as Row[];
        if (stored.some((old) => compareVersions(old, event) < 0)) return 'superseded';
        for (const old of stored) {
          deleteTags.run(old.seq);
          deleteEvent.run(old.seq);
        }
      }
      const seq = insertEvent.run(
        event.id,
        event.pubkey,
        event.kind,
        event.created_at,
        dTag,
        json,
      ).lastInsertRowid;
      for (const tag of event.tags) {
        const [name, value] = tag;
        if (name !== undefined && value !== undefined && QUERYABLE_TAG.test(name))
          insertTag.run(seq, name, value);
      }
      return 'stored';
    };
    this.storeBatchTx = this.db.transaction((items: readonly PendingEvent[]) =>
      items.map(storeOne),
    );
  }

  /**
   * Stores events in one transaction (one fsync for the batch: the relay's group commit). Returns
   * once it is committed; throws if the commit fails, in which case nothing was stored.
   */
  storeBatch(items: readonly PendingEvent[]): StoreOutcome[] {
    return this.storeBatchTx(items);
  }

  /**
   * JSON texts of the stored events matching any filter, newest first (ties: lowest id first);
   * each filter contributes at most its own limit.
   */
  query(filters: readonly RelayFilter[]): string[] {
    const rows = new Map<number, Row>();
    for (const filter of filters) {
      if (matchesNothingStored(filter)) continue;
      const { sql, params } = filterQuery(filter);
      for (const row of this.statement(sql).all(...params) as Row[]) rows.set(row.seq, row);
    }
    const sorted = [...rows.values()];
    if (filters.length > 1) sorted.sort(compareVersions);
    return sorted.map((row) => row.json);
  }

  count(): number {
    return this.statement('SELECT count(*) FROM events').pluck().get() as number;
  }

  close(): void {
    if (!this.db.open) return;
    this.db.pragma('optimize');
    this.db.close();
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      // The shapes are bounded (a few fields and up to 52 tag letters), but stay safe anyway.
      if (this.statements.size >= 512) this.statements.clear();
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }
}

/** One SELECT per filter; list conditions take a JSON array parameter, so no size limit on IN. */
function filterQuery(filter: RelayFilter): { sql: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  const inList = (column: string, values: ReadonlySet<string | number>) => {
    where.push(`${column} IN (SELECT value FROM json_each(?))`);
    params.push(JSON.stringify([...values]));
  };
  if (filter.ids !== undefined) inList('id', filter.ids);
  if (filter.authors !== undefined) inList('pubkey', filter.authors);
  if (filter.kinds !== undefined) inList('kind', filter.kinds);
  if (filter.since !== undefined) {
    where.push('created_at >= ?');
    params.push(filter.since);
  }
  if (filter.until !== undefined) {
    where.push('created_at <= ?');
    params.push(filter.until);
  }
  for (const [name, values] of filter.tags) {
    where.push(
      'seq IN (SELECT event_seq FROM tags WHERE name = ? AND value IN (SELECT value FROM json_each(?)))',
    );
    params.push(name, JSON.stringify([...values]));
  }
  params.push(filter.limit);
  return {
    sql: `SELECT seq, id, created_at, json FROM events${where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`} ORDER BY created_at DESC, id ASC LIMIT ?`,
    params,
  };
}
