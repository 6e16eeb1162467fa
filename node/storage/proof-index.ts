import Database from 'better-sqlite3';

/** One stored proof (one copy in one store) as the node's proof index holds it. */
export interface ProofRow {
  uri: string;
  sha256: string;
  store: string;
  size: number;
  createdMs: number;
  pinned: boolean;
  pinReason: string | undefined;
  /** Jobs that reference this proof, and whether each is settled. */
  jobs: { jobId: string; settled: boolean }[];
}

interface Row {
  uri: string;
  sha256: string;
  store: string;
  size: number;
  created_ms: number;
  pinned: number;
  pin_reason: string | null;
}

/**
 * What the node stored, which jobs reference it, and what is pinned: the book-keeping behind
 * garbage collection (`<dataDir>/proofs.db`, SQLite). A proof may be collected only when it is
 * unpinned, older than the retention window, and no unsettled job references it. A settled job
 * pins its proofs (the evidence of a payment), and so does a dispute (`pin(..., 'dispute:...')`).
 */
export class ProofIndex {
  private readonly db: Database.Database;

  constructor(readonly path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS proofs (
        uri TEXT PRIMARY KEY, sha256 TEXT NOT NULL, store TEXT NOT NULL, size INTEGER NOT NULL,
        created_ms INTEGER NOT NULL, pinned INTEGER NOT NULL DEFAULT 0, pin_reason TEXT
      );
      CREATE INDEX IF NOT EXISTS proofs_by_sha ON proofs(sha256);
      CREATE TABLE IF NOT EXISTS proof_jobs (
        sha256 TEXT NOT NULL, job_id TEXT NOT NULL, settled INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (sha256, job_id)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS proof_jobs_by_job ON proof_jobs(job_id);
    `);
  }

  private toRow(row: Row): ProofRow {
    const jobs = this.db
      .prepare<[string], { job_id: string; settled: number }>(
        'SELECT job_id, settled FROM proof_jobs WHERE sha256 = ? ORDER BY job_id',
      )
      .all(row.sha256)
      .map((j) => ({ jobId: j.job_id, settled: j.settled === 1 }));
    return {
      uri: row.uri,
      sha256: row.sha256,
      store: row.store,
      size: row.size,
      createdMs: row.created_ms,
      pinned: row.pinned === 1,
      pinReason: row.pin_reason ?? undefined,
      jobs,
    };
  }

  /** Records a stored copy; a copy already known keeps its creation time and pin. */
  record(entry: {
    uri: string;
    sha256: string;
    store: string;
    size: number;
    createdMs: number;
  }): void {
    this.db
      .prepare(
        'INSERT OR IGNORE INTO proofs (uri, sha256, store, size, created_ms) VALUES (?, ?, ?, ?, ?)',
      )
      .run(entry.uri, entry.sha256, entry.store, entry.size, entry.createdMs);
  }

  /** A job references the proof with this SHA-256 (every copy of it). */
  reference(sha256: string, jobId: string): void {
    this.db
      .prepare('INSERT OR IGNORE INTO proof_jobs (sha256, job_id) VALUES (?, ?)')
      .run(sha256, jobId);
  }

  /** The job settled: its references stop holding proofs back, and its proofs are pinned. */
  markJobSettled(jobId: string, reason = `settled:${jobId}`): number {
    return this.db.transaction(() => {
      this.db.prepare('UPDATE proof_jobs SET settled = 1 WHERE job_id = ?').run(jobId);
      return this.db
        .prepare(
          `UPDATE proofs SET pinned = 1, pin_reason = COALESCE(pin_reason, ?)
           WHERE sha256 IN (SELECT sha256 FROM proof_jobs WHERE job_id = ?)`,
        )
        .run(reason, jobId).changes;
    })();
  }

  /** Rows whose URI or SHA-256 is `key`. */
  find(key: string): ProofRow[] {
    return this.db
      .prepare<[string, string], Row>(
        'SELECT * FROM proofs WHERE uri = ? OR sha256 = ? ORDER BY uri',
      )
      .all(key, key)
      .map((row) => this.toRow(row));
  }

  /** Pins every copy matching `key` (URI or SHA-256); returns how many rows it pinned. */
  pin(key: string, reason: string): number {
    return this.db
      .prepare('UPDATE proofs SET pinned = 1, pin_reason = ? WHERE uri = ? OR sha256 = ?')
      .run(reason, key, key).changes;
  }

  unpin(key: string): number {
    return this.db
      .prepare('UPDATE proofs SET pinned = 0, pin_reason = NULL WHERE uri = ? OR sha256 = ?')
      .run(key, key).changes;
  }

  isPinned(sha256: string): boolean {
    const row = this.db
      .prepare<[string], { n: number }>(
        'SELECT COUNT(*) AS n FROM proofs WHERE sha256 = ? AND pinned = 1',
      )
      .get(sha256);
    return (row?.n ?? 0) > 0;
  }

  /**
   * What garbage collection may delete: unpinned, created before `before` (ms), and referenced
   * by no unsettled job.
   */
  collectable(before: number): ProofRow[] {
    return this.db
      .prepare<[number], Row>(
        `SELECT * FROM proofs p WHERE p.pinned = 0 AND p.created_ms < ?
           AND NOT EXISTS (SELECT 1 FROM proof_jobs j WHERE j.sha256 = p.sha256 AND j.settled = 0)
         ORDER BY p.created_ms, p.uri`,
      )
      .all(before)
      .map((row) => this.toRow(row));
  }

  /** Forgets a deleted copy; a SHA-256 with no copy left loses its job references too. */
  remove(uri: string): void {
    this.db.transaction(() => {
      const row = this.db.prepare<[string], Row>('SELECT * FROM proofs WHERE uri = ?').get(uri);
      if (row === undefined) return;
      this.db.prepare('DELETE FROM proofs WHERE uri = ?').run(uri);
      const left = this.db
        .prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM proofs WHERE sha256 = ?')
        .get(row.sha256);
      if (left?.n === 0) this.db.prepare('DELETE FROM proof_jobs WHERE sha256 = ?').run(row.sha256);
    })();
  }

  list(): ProofRow[] {
    return this.db
      .prepare<[], Row>('SELECT * FROM proofs ORDER BY created_ms, uri')
      .all()
      .map((row) => this.toRow(row));
  }

  close(): void {
    this.db.close();
  }
}
