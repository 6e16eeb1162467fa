import Database from 'better-sqlite3';

/** One blob as the index holds it. */
export interface BlobRow {
  sha256: string;
  size: number;
  type: string;
  /** Unix seconds of its first upload. */
  created: number;
}

/** One owner's view of a blob: when that owner uploaded it. */
export interface OwnedBlob extends BlobRow {
  uploaded: number;
}

/**
 * The Blossom server's SQLite index: which blobs exist, their size and type, and who owns them
 * (one row per uploader). The files themselves live beside it, named by their SHA-256.
 */
export class BlobIndex {
  private readonly db: Database.Database;
  private readonly statements;

  constructor(readonly path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS blobs (
        sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, type TEXT NOT NULL, created INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS owners (
        sha256 TEXT NOT NULL REFERENCES blobs(sha256), pubkey TEXT NOT NULL,
        uploaded INTEGER NOT NULL, PRIMARY KEY (pubkey, sha256)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS owners_by_blob ON owners(sha256);
      -- Bytes each pubkey owns, kept with every ownership change (quota checks stay O(1)).
      CREATE TABLE IF NOT EXISTS usage (pubkey TEXT PRIMARY KEY, bytes INTEGER NOT NULL) WITHOUT ROWID;
    `);
    this.statements = {
      blob: this.db.prepare<[string], BlobRow>('SELECT * FROM blobs WHERE sha256 = ?'),
      owned: this.db.prepare<[string, string], { uploaded: number }>(
        'SELECT uploaded FROM owners WHERE pubkey = ? AND sha256 = ?',
      ),
      usage: this.db.prepare<[string], { bytes: number }>(
        'SELECT bytes FROM usage WHERE pubkey = ?',
      ),
      addUsage: this.db.prepare(
        `INSERT INTO usage (pubkey, bytes) VALUES (?, ?)
         ON CONFLICT(pubkey) DO UPDATE SET bytes = bytes + excluded.bytes`,
      ),
      list: this.db.prepare<[string, number, number], OwnedBlob>(
        `SELECT b.*, o.uploaded FROM owners o JOIN blobs b USING (sha256)
         WHERE o.pubkey = ? AND o.uploaded >= ? AND o.uploaded <= ? ORDER BY o.uploaded DESC, b.sha256`,
      ),
      insertBlob: this.db.prepare(
        'INSERT OR IGNORE INTO blobs (sha256, size, type, created) VALUES (?, ?, ?, ?)',
      ),
      insertOwner: this.db.prepare(
        'INSERT OR IGNORE INTO owners (sha256, pubkey, uploaded) VALUES (?, ?, ?)',
      ),
      deleteOwner: this.db.prepare('DELETE FROM owners WHERE pubkey = ? AND sha256 = ?'),
      ownerCount: this.db.prepare<[string], { n: number }>(
        'SELECT COUNT(*) AS n FROM owners WHERE sha256 = ?',
      ),
      deleteBlob: this.db.prepare('DELETE FROM blobs WHERE sha256 = ?'),
      count: this.db.prepare<[], { n: number; bytes: number | null }>(
        'SELECT COUNT(*) AS n, SUM(size) AS bytes FROM blobs',
      ),
    };
  }

  get(sha256: string): BlobRow | undefined {
    return this.statements.blob.get(sha256);
  }

  ownedBy(pubkey: string, sha256: string): number | undefined {
    return this.statements.owned.get(pubkey, sha256)?.uploaded;
  }

  /** Bytes of the blobs `pubkey` owns (each blob counted once per owner). */
  usage(pubkey: string): number {
    return this.statements.usage.get(pubkey)?.bytes ?? 0;
  }

  list(pubkey: string, since = 0, until = Number.MAX_SAFE_INTEGER): OwnedBlob[] {
    return this.statements.list.all(pubkey, since, until);
  }

  /** Records a stored blob and its uploader; returns the uploader's upload time. */
  add(blob: BlobRow, pubkey: string, now: number): number {
    return this.addMany([{ blob, pubkey, now }])[0] as number;
  }

  /** Several `add`s in one transaction (one fsync); returns each uploader's upload time. */
  addMany(entries: { blob: BlobRow; pubkey: string; now: number }[]): number[] {
    return this.db.transaction(() =>
      entries.map(({ blob, pubkey, now }) => {
        this.statements.insertBlob.run(blob.sha256, blob.size, blob.type, blob.created);
        if (this.statements.insertOwner.run(blob.sha256, pubkey, now).changes > 0)
          this.statements.addUsage.run(pubkey, blob.size);
        return this.ownedBy(pubkey, blob.sha256) ?? now;
      }),
    )();
  }

  /**
   * Removes `pubkey`'s ownership. Returns whether the blob is now owned by nobody (the caller
   * deletes the file then); the blob row goes with the last owner.
   */
  removeOwner(pubkey: string, sha256: string): { removed: boolean; orphaned: boolean } {
    return this.db.transaction(() => {
      const size = this.get(sha256)?.size ?? 0;
      const removed = this.statements.deleteOwner.run(pubkey, sha256).changes > 0;
      if (removed) this.statements.addUsage.run(pubkey, -size);
      const orphaned = removed && (this.statements.ownerCount.get(sha256)?.n ?? 0) === 0;
      if (orphaned) this.statements.deleteBlob.run(sha256);
      return { removed, orphaned };
    })();
  }

  stats(): { blobs: number; bytes: number } {
    const row = this.statements.count.get();
    return { blobs: row?.n ?? 0, bytes: row?.bytes ?? 0 };
  }

  close(): void {
    this.db.close();
  }
}
