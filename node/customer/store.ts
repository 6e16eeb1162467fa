import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { M2mError } from '../../zkvm/errors.js';
import type { NostrEvent } from '../dvm/event.js';
import type { ZkvmChoice } from '../dvm/request.js';

/** What the customer knows about a job it requested: enough to verify the result later. */
export interface CustomerJob {
  requestId: string;
  /** The customer's pubkey (the request's author). */
  customer: string;
  request: NostrEvent;
  /** The plan text as sent, and the input data as parsed from the customer's own file. */
  planText: string;
  data: unknown;
  relays: string[];
  providers: string[];
  backend: ZkvmChoice;
  minProgramVersion: string | undefined;
  encrypted: boolean;
  /** What the proof must state (see verify.ts). */
  planHash: string;
  jobRequestHash: string;
  /** Poseidon2 data root computed from the customer's own data. */
  dataRoot: string;
  createdAt: number;
  /** When a relay first confirmed the request (ms); undefined until then. */
  publishedAt: number | undefined;
  /** The last verification of a result, as JSON (see JobVerdict). */
  verdict: Record<string, unknown> | undefined;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  request_id TEXT PRIMARY KEY,
  customer TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  job_json TEXT NOT NULL,
  published_at INTEGER,
  verdict_json TEXT,
  verified_at INTEGER
);
`;

/** The customer's jobs in one SQLite file (WAL, synchronous=FULL). */
export class CustomerStore {
  private readonly db: Database.Database;

  constructor(readonly path: string) {
    try {
      mkdirSync(dirname(path), { recursive: true });
      this.db = new Database(path);
    } catch (cause) {
      throw new M2mError('IO_OPEN_FAILED', `cannot open the job file ${path}: ${String(cause)}`, {
        cause,
      });
    }
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Saved before the request is sent, so an unconfirmed request can be sent again. */
  insert(job: CustomerJob): void {
    const { publishedAt: _p, verdict: _v, ...fields } = job;
    this.db
      .prepare('INSERT INTO jobs (request_id, customer, created_at, job_json) VALUES (?, ?, ?, ?)')
      .run(job.requestId, job.customer, job.createdAt, JSON.stringify(fields));
  }

  markPublished(requestId: string): void {
    this.db
      .prepare('UPDATE jobs SET published_at = ? WHERE request_id = ? AND published_at IS NULL')
      .run(Date.now(), requestId);
  }

  recordVerdict(requestId: string, verdict: Record<string, unknown>): void {
    this.db
      .prepare('UPDATE jobs SET verdict_json = ?, verified_at = ? WHERE request_id = ?')
      .run(JSON.stringify(verdict), Date.now(), requestId);
  }

  get(requestId: string): CustomerJob | undefined {
    const row = this.db
      .prepare('SELECT job_json, published_at, verdict_json FROM jobs WHERE request_id = ?')
      .get(requestId) as
      | { job_json: string; published_at: number | null; verdict_json: string | null }
      | undefined;
    if (row === undefined) return undefined;
    return {
      ...(JSON.parse(row.job_json) as Omit<CustomerJob, 'publishedAt' | 'verdict'>),
      publishedAt: row.published_at ?? undefined,
      verdict:
        row.verdict_json === null
          ? undefined
          : (JSON.parse(row.verdict_json) as Record<string, unknown>),
    };
  }

  /** The job with this id, or an error that says where it looked. */
  require(requestId: string): CustomerJob {
    const job = this.get(requestId);
    if (job === undefined)
      throw new M2mError(
        'JOB_UNKNOWN',
        `no job ${requestId} in ${this.path}; pass the id \`m2m job request\` printed, and the same --data-dir`,
      );
    return job;
  }
}
