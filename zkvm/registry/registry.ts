import Database from 'better-sqlite3';
import semver from 'semver';
import { canonicalJson, sha256, toDigest } from '../commitment/digest.js';
import { M2mError } from '../errors.js';
import { DEFAULT_PROGRAMS } from './default-programs.js';
import {
  documentSignatureValid,
  ProgramMetadata,
  RegistryDocument,
  signerOf,
  unsignedPart,
} from './metadata.js';

export interface RegistryOptions {
  /** SQLite file; ':memory:' (the default) keeps nothing across restarts. */
  path?: string;
  /** x-only public keys (hex) whose signatures this registry accepts. */
  authorities?: readonly string[];
  /** Programs trusted as part of this package; registered on open without a signature. */
  embedded?: readonly ProgramMetadata[];
}

export interface AuditEntry {
  seq: number;
  at: string;
  action: 'register' | 'deprecate' | 'sync';
  programId: string;
  actor: string;
  details: Record<string, unknown>;
  /** sha256(previous hash || canonical JSON of this entry): a tamper-evident chain. */
  hash: string;
}

export type RegisterOutcome = 'added' | 'unchanged';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS programs (
  program_id TEXT PRIMARY KEY,
  metadata TEXT NOT NULL,
  deprecated INTEGER NOT NULL DEFAULT 0,
  deprecation_reason TEXT,
  source TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  action TEXT NOT NULL,
  program_id TEXT NOT NULL,
  actor TEXT NOT NULL,
  details TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_append_only_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_append_only_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
`;

/**
 * Known-good zkVM programs (seed story 25.6). A program is allowed when it is registered and
 * not deprecated. Every change is appended to an audit trail in the same transaction.
 */
export class ProgramRegistry {
  private readonly db: Database.Database;
  readonly authorities: readonly string[];

  constructor(options: RegistryOptions = {}) {
    this.db = new Database(options.path ?? ':memory:');
    this.db.pragma('journal_mode = WAL');
    this.db.exec(SCHEMA);
    this.authorities = options.authorities ?? [];
    for (const metadata of options.embedded ?? DEFAULT_PROGRAMS) this.put(metadata, 'embedded');
  }

  close(): void {
    this.db.close();
  }

  getProgram(programId: string): (ProgramMetadata & { deprecationReason?: string }) | undefined {
    const row = this.db
      .prepare('SELECT metadata, deprecated, deprecation_reason FROM programs WHERE program_id = ?')
      .get(programId) as
      | { metadata: string; deprecated: number; deprecation_reason: string | null }
      | undefined;
    if (row === undefined) return undefined;
    const metadata = JSON.parse(row.metadata) as ProgramMetadata;
    return row.deprecated === 1
      ? { ...metadata, deprecated: true, deprecationReason: row.deprecation_reason ?? '' }
      : metadata;
  }

  listPrograms(): ProgramMetadata[] {
    const ids = this.db
      .prepare('SELECT program_id FROM programs ORDER BY program_id')
      .pluck()
      .all() as string[];
    return ids.map((id) => this.getProgram(id) as ProgramMetadata);
  }

  isAllowed(programId: string): boolean {
    const program = this.getProgram(programId);
    return program !== undefined && !program.deprecated;
  }

  isDeprecated(programId: string): boolean {
    return this.getProgram(programId)?.deprecated === true;
  }

  /**
   * Whether the program can serve a request for `requiredVersion` (a job's min-program-version):
   * its version is at least that, and it has not dropped compatibility below it.
   */
  isCompatible(programId: string, requiredVersion: string): boolean {
    const program = this.getProgram(programId);
    if (program === undefined || semver.valid(requiredVersion) === null) return false;
    return (
      semver.gte(program.version, requiredVersion) &&
      semver.lte(program.minCompatibleVersion, requiredVersion)
    );
  }

  /** Registers a program signed by one of this registry's authorities. Idempotent. */
  register(metadata: ProgramMetadata, signature = metadata.signature): RegisterOutcome {
    const parsed = ProgramMetadata.safeParse({ ...metadata, signature });
    if (!parsed.success) {
      throw new M2mError(
        'REGISTRY_INVALID_METADATA',
        `program metadata: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`,
      );
    }
    const signer = signerOf(parsed.data, this.authorities);
    if (signer === undefined) {
      throw new M2mError(
        'REGISTRY_SIGNATURE_INVALID',
        `program ${metadata.programId} is not signed by a registry authority (${this.authorities.length} configured)`,
      );
    }
    return this.put(parsed.data, signer);
  }

  deprecate(programId: string, reason: string, actor = 'local'): void {
    if (reason.trim() === '')
      throw new M2mError('REGISTRY_INVALID_METADATA', 'a deprecation needs a reason');
    const program = this.getProgram(programId);
    if (program === undefined)
      throw new M2mError('REGISTRY_UNKNOWN_PROGRAM', `program ${programId} is not registered`);
    if (program.deprecated) return;
    this.db.transaction(() => {
      this.db
        .prepare('UPDATE programs SET deprecated = 1, deprecation_reason = ? WHERE program_id = ?')
        .run(reason, programId);
      this.audit('deprecate', programId, actor, { reason });
    })();
  }

  /** Applies a signed registry document from one of this registry's authorities. */
  sync(document: unknown): {
    added: string[];
    unchanged: string[];
    deprecated: string[];
    rejected: { programId: string; reason: string }[];
  } {
    const parsed = RegistryDocument.safeParse(document);
    if (!parsed.success) {
      throw new M2mError(
        'REGISTRY_INVALID_DOCUMENT',
        `registry document: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`,
      );
    }
    const doc = parsed.data;
    if (!this.authorities.includes(doc.authority)) {
      throw new M2mError(
        'REGISTRY_UNTRUSTED_AUTHORITY',
        `registry document is signed by ${doc.authority}, which is not a configured authority`,
      );
    }
    if (!documentSignatureValid(doc))
      throw new M2mError(
        'REGISTRY_SIGNATURE_INVALID',
        'registry document signature does not verify',
      );
    const result = {
      added: [] as string[],
      unchanged: [] as string[],
      deprecated: [] as string[],
      rejected: [] as { programId: string; reason: string }[],
    };
    for (const program of doc.programs) {
      try {
        (this.register(program) === 'added' ? result.added : result.unchanged).push(
          program.programId,
        );
      } catch (error) {
        result.rejected.push({ programId: program.programId, reason: (error as Error).message });
      }
    }
    for (const [programId, reason] of Object.entries(doc.deprecations ?? {})) {
      if (this.getProgram(programId) === undefined || this.isDeprecated(programId)) continue;
      this.deprecate(programId, reason, doc.authority);
      result.deprecated.push(programId);
    }
    return result;
  }

  auditTrail(): AuditEntry[] {
    const rows = this.db
      .prepare('SELECT seq, at, action, program_id, actor, details, hash FROM audit ORDER BY seq')
      .all() as {
      seq: number;
      at: string;
      action: AuditEntry['action'];
      program_id: string;
      actor: string;
      details: string;
      hash: string;
    }[];
    return rows.map((r) => ({
      seq: r.seq,
      at: r.at,
      action: r.action,
      programId: r.program_id,
      actor: r.actor,
      details: JSON.parse(r.details),
      hash: r.hash,
    }));
  }

  /** Recomputes the audit hash chain; false if any entry was altered outside this class. */
  verifyAuditTrail(): boolean {
    let previous = '';
    for (const entry of this.auditTrail()) {
      if (entry.hash !== chainHash(previous, entry)) return false;
      previous = entry.hash;
    }
    return true;
  }

  private put(metadata: ProgramMetadata, actor: string): RegisterOutcome {
    const existing = this.getProgram(metadata.programId);
    if (existing !== undefined) {
      const same =
        canonicalJson(unsignedPart({ ...existing, deprecated: metadata.deprecated })) ===
        canonicalJson(unsignedPart(metadata));
      if (same) return 'unchanged';
      throw new M2mError(
        'REGISTRY_CONFLICT',
        `program ${metadata.programId} is already registered with different metadata`,
      );
    }
    this.db.transaction(() => {
      this.db
        .prepare(
          'INSERT INTO programs (program_id, metadata, deprecated, deprecation_reason, source) VALUES (?, ?, ?, NULL, ?)',
        )
        .run(metadata.programId, JSON.stringify(metadata), metadata.deprecated ? 1 : 0, actor);
      this.audit('register', metadata.programId, actor, {
        version: metadata.version,
        name: metadata.name,
      });
    })();
    return 'added';
  }

  private audit(
    action: AuditEntry['action'],
    programId: string,
    actor: string,
    details: Record<string, unknown>,
  ): void {
    const previous =
      (this.db.prepare('SELECT hash FROM audit ORDER BY seq DESC LIMIT 1').pluck().get() as
        | string
        | undefined) ?? '';
    const seq =
      ((this.db.prepare('SELECT COALESCE(MAX(seq), 0) FROM audit').pluck().get() as number) ?? 0) +
      1;
    const entry = { seq, at: new Date().toISOString(), action, programId, actor, details };
    this.db
      .prepare(
        'INSERT INTO audit (seq, at, action, program_id, actor, details, hash) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        seq,
        entry.at,
        action,
        programId,
        actor,
        JSON.stringify(details),
        chainHash(previous, entry),
      );
  }
}

function chainHash(previous: string, entry: Omit<AuditEntry, 'hash'>): string {
  const { seq, at, action, programId, actor, details } = entry;
  return toDigest(
    sha256(
      Buffer.from(previous),
      Buffer.from(canonicalJson({ seq, at, action, programId, actor, details })),
    ),
  );
}
