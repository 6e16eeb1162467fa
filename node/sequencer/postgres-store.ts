/**
 * PostgreSQL SequencerStore through a `pg` Pool. Each batch runs in one transaction that first
 * locks the stream's counter row with SELECT ... FOR UPDATE, so concurrent batches, from this
 * process or from other sequencer processes on the same database, queue on that row and get
 * gap-free numbers. Unique constraints on (tenant, store, sequence), event_id and
 * (tenant, store, command_id) back the invariant up. Migrations run on start.
 */
import pg from 'pg';
import { M2mError } from '../../zkvm/errors.js';
import {
  buildStored,
  commitmentFromRow,
  EVENT_COLUMN_COUNT,
  EVENT_COLUMNS,
  eventFromRow,
  eventValues,
  keyFromRow,
  proofFromRow,
} from './sqlite-store.js';
import type {
  AgentKeyRecord,
  AppendOutcome,
  CommitmentRecord,
  ComplianceProofRecord,
  PendingEvent,
  SealedFields,
  SequencerStore,
  StoredEvent,
} from './store.js';
import { planBatch } from './store.js';

const MIGRATION_LOCK = 7_700_001;

/** PostgreSQL types of EVENT_COLUMNS (sqlite-store.ts), in that order. */
const EVENT_COLUMN_TYPES = [
  'uuid', // tenant_id
  'uuid', // store_id
  'bigint', // sequence_number
  'uuid', // event_id
  'uuid', // command_id
  'uuid', // source_agent_id
  'integer', // agent_key_id
  'text', // entity_type
  'text', // entity_id
  'text', // event_type
  'text', // created_at
  'text', // sequenced_at
  'integer', // payload_kind
  'text', // envelope
  'text', // event_signing_hash
  'text', // agent_signature
  'text', // leaf_hash
  'text', // receipt_hash
] as const;
if (EVENT_COLUMN_TYPES.length !== EVENT_COLUMN_COUNT)
  throw new Error('EVENT_COLUMN_TYPES must list one type per column of EVENT_COLUMNS');

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ves_stream_heads (
  tenant_id UUID NOT NULL, store_id UUID NOT NULL, head BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, store_id)
);
CREATE TABLE IF NOT EXISTS ves_events (
  tenant_id UUID NOT NULL, store_id UUID NOT NULL, sequence_number BIGINT NOT NULL,
  event_id UUID NOT NULL UNIQUE, command_id UUID, source_agent_id UUID NOT NULL,
  agent_key_id INTEGER NOT NULL, entity_type TEXT NOT NULL, entity_id TEXT NOT NULL,
  event_type TEXT NOT NULL, created_at TEXT NOT NULL, sequenced_at TEXT NOT NULL,
  payload_kind INTEGER NOT NULL, envelope TEXT NOT NULL, event_signing_hash TEXT NOT NULL,
  agent_signature TEXT NOT NULL, leaf_hash TEXT NOT NULL, receipt_hash TEXT NOT NULL,
  PRIMARY KEY (tenant_id, store_id, sequence_number),
  UNIQUE (tenant_id, store_id, command_id)
);
CREATE INDEX IF NOT EXISTS ves_events_entity
  ON ves_events (tenant_id, store_id, entity_type, entity_id, sequence_number);
CREATE TABLE IF NOT EXISTS ves_agent_keys (
  tenant_id UUID NOT NULL, agent_id UUID NOT NULL, key_id INTEGER NOT NULL,
  public_key TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
  valid_from TEXT, valid_to TEXT, revoked_at TEXT, created_at TEXT NOT NULL,
  PRIMARY KEY (tenant_id, agent_id, key_id)
);
CREATE TABLE IF NOT EXISTS ves_commitments (
  batch_id UUID PRIMARY KEY, tenant_id UUID NOT NULL, store_id UUID NOT NULL,
  sequence_start BIGINT NOT NULL, sequence_end BIGINT NOT NULL, event_count INTEGER NOT NULL,
  events_root TEXT NOT NULL, prev_events_root TEXT NOT NULL, prev_state_root TEXT NOT NULL,
  new_state_root TEXT NOT NULL, created_at TEXT NOT NULL,
  UNIQUE (tenant_id, store_id, sequence_start)
);
CREATE TABLE IF NOT EXISTS ves_compliance_proofs (
  proof_id UUID PRIMARY KEY, event_id UUID NOT NULL, tenant_id UUID NOT NULL,
  store_id UUID NOT NULL, proof_type TEXT NOT NULL, proof_version INTEGER NOT NULL,
  policy_id TEXT NOT NULL, policy_params TEXT NOT NULL, policy_hash TEXT NOT NULL,
  proof_hash TEXT NOT NULL, proof_b64 TEXT NOT NULL, witness_commitment_hex TEXT,
  public_inputs TEXT, submitted_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ves_compliance_event ON ves_compliance_proofs (event_id, submitted_at);
`;

type Row = Record<string, unknown>;

interface QueuedBatch {
  events: readonly PendingEvent[];
  sequencedAt: string;
  seal: (event: PendingEvent, sequenceNumber: number) => SealedFields;
  resolve: (outcomes: AppendOutcome[]) => void;
  reject: (error: unknown) => void;
}

export class PostgresSequencerStore implements SequencerStore {
  readonly kind = 'postgres' as const;

  private constructor(private readonly pool: pg.Pool) {}

  static async open(url: string, poolSize = 10): Promise<PostgresSequencerStore> {
    const pool = new pg.Pool({ connectionString: url, max: poolSize });
    // An idle client losing its connection must not crash the server.
    pool.on('error', () => {});
    try {
      const client = await pool.connect();
      try {
        await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
        await client.query(SCHEMA);
        await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
      } finally {
        client.release();
      }
    } catch (error) {
      await pool.end().catch(() => {});
      throw new M2mError(
        'SEQUENCER_DB_OPEN_FAILED',
        `cannot open PostgreSQL at ${redact(url)}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    return new PostgresSequencerStore(pool);
  }

  /**
   * Group commit: while a transaction for a stream is in flight, batches arriving for the same
   * stream queue up and go in together in the next transaction (one counter lock, one insert,
   * one commit fsync), each keeping its own outcomes. If a combined transaction fails, its
   * batches are retried one by one, so one bad batch never fails the others.
   */
  appendBatch(
    tenantId: string,
    storeId: string,
    events: readonly PendingEvent[],
    sequencedAt: string,
    seal: (event: PendingEvent, sequenceNumber: number) => SealedFields,
  ): Promise<AppendOutcome[]> {
    const stream = `${tenantId}/${storeId}`;
    return new Promise((resolve, reject) => {
      const call: QueuedBatch = { events, sequencedAt, seal, resolve, reject };
      const queue = this.queues.get(stream);
      if (queue !== undefined) {
        queue.push(call);
        return;
      }
      this.queues.set(stream, []);
      void this.drain(tenantId, storeId, stream, [call]);
    });
  }

  private readonly queues = new Map<string, QueuedBatch[]>();

  private async drain(
    tenantId: string,
    storeId: string,
    stream: string,
    first: QueuedBatch[],
  ): Promise<void> {
    let group = first;
    while (group.length > 0) {
      try {
        const results = await this.appendGroup(tenantId, storeId, group);
        for (const [i, call] of group.entries()) call.resolve(results[i] as AppendOutcome[]);
      } catch (error) {
        if (group.length === 1) (group[0] as QueuedBatch).reject(error);
        else
          for (const call of group) {
            try {
              const [outcomes] = await this.appendGroup(tenantId, storeId, [call]);
              call.resolve(outcomes as AppendOutcome[]);
            } catch (single) {
              call.reject(single);
            }
          }
      }
      const queued = this.queues.get(stream) ?? [];
      group = queued.splice(0, queued.length);
    }
    this.queues.delete(stream);
  }

  private async appendGroup(
    tenantId: string,
    storeId: string,
    group: readonly QueuedBatch[],
  ): Promise<AppendOutcome[][]> {
    const all = group.flatMap((g) => g.events);
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        'INSERT INTO ves_stream_heads (tenant_id, store_id, head) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING',
        [tenantId, storeId],
      );
      const locked = await client.query(
        'SELECT head FROM ves_stream_heads WHERE tenant_id = $1 AND store_id = $2 FOR UPDATE',
        [tenantId, storeId],
      );
      let head = Number((locked.rows[0] as Row).head);
      const byEventId = new Map<string, StoredEvent>();
      const byCommandId = new Map<string, StoredEvent>();
      const existing = await client.query(
        'SELECT * FROM ves_events WHERE event_id = ANY($1::uuid[])',
        [all.map((e) => e.eventId)],
      );
      for (const row of existing.rows as Row[]) {
        const e = eventFromRow(row);
        byEventId.set(e.eventId, e);
      }
      const commandIds = all.flatMap((e) => (e.commandId === null ? [] : [e.commandId]));
      if (commandIds.length > 0) {
        const byCommand = await client.query(
          'SELECT * FROM ves_events WHERE tenant_id = $1 AND store_id = $2 AND command_id = ANY($3::uuid[])',
          [tenantId, storeId, commandIds],
        );
        for (const row of byCommand.rows as Row[]) {
          const e = eventFromRow(row);
          if (e.commandId !== null) byCommandId.set(e.commandId, e);
        }
      }
      const fresh: StoredEvent[] = [];
      const results = group.map((call) => {
        const plan = planBatch(
          call.events,
          byEventId,
          byCommandId,
          head,
          buildStored(tenantId, storeId, call.sequencedAt, call.seal),
        );
        for (const e of plan.fresh) {
          byEventId.set(e.eventId, e);
          if (e.commandId !== null) byCommandId.set(e.commandId, e);
        }
        head += plan.fresh.length;
        fresh.push(...plan.fresh);
        return plan.outcomes;
      });
      if (fresh.length > 0) await client.query(insertEvents(fresh));
      if (fresh.length > 0)
        await client.query(
          'UPDATE ves_stream_heads SET head = $1 WHERE tenant_id = $2 AND store_id = $3',
          [head, tenantId, storeId],
        );
      await client.query('COMMIT');
      return results;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  async head(tenantId: string, storeId: string): Promise<number> {
    const r = await this.pool.query(
      'SELECT head FROM ves_stream_heads WHERE tenant_id = $1 AND store_id = $2',
      [tenantId, storeId],
    );
    return r.rows.length === 0 ? 0 : Number((r.rows[0] as Row).head);
  }

  async events(tenantId: string, storeId: string, from: number, limit: number) {
    const r = await this.pool.query(
      'SELECT * FROM ves_events WHERE tenant_id = $1 AND store_id = $2 AND sequence_number >= $3 ORDER BY sequence_number LIMIT $4',
      [tenantId, storeId, from, limit],
    );
    return (r.rows as Row[]).map(eventFromRow);
  }

  async entityHistory(
    tenantId: string,
    storeId: string,
    entityType: string,
    entityId: string,
    offset: number,
    limit: number,
  ) {
    const r = await this.pool.query(
      'SELECT * FROM ves_events WHERE tenant_id = $1 AND store_id = $2 AND entity_type = $3 AND entity_id = $4 ORDER BY sequence_number LIMIT $5 OFFSET $6',
      [tenantId, storeId, entityType, entityId, limit, offset],
    );
    const count = await this.pool.query(
      'SELECT COUNT(*) AS n FROM ves_events WHERE tenant_id = $1 AND store_id = $2 AND entity_type = $3 AND entity_id = $4',
      [tenantId, storeId, entityType, entityId],
    );
    return { events: (r.rows as Row[]).map(eventFromRow), total: Number((count.rows[0] as Row).n) };
  }

  async eventById(eventId: string) {
    const r = await this.pool.query('SELECT * FROM ves_events WHERE event_id = $1', [eventId]);
    return r.rows.length === 0 ? undefined : eventFromRow(r.rows[0] as Row);
  }

  async putAgentKey(key: AgentKeyRecord): Promise<'created' | 'exists'> {
    const r = await this.pool.query(
      'INSERT INTO ves_agent_keys (tenant_id, agent_id, key_id, public_key, status, valid_from, valid_to, revoked_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING',
      [
        key.tenantId,
        key.agentId,
        key.keyId,
        key.publicKey,
        key.status,
        key.validFrom,
        key.validTo,
        key.revokedAt,
        key.createdAt,
      ],
    );
    return r.rowCount === 1 ? 'created' : 'exists';
  }

  async getAgentKey(tenantId: string, agentId: string, keyId: number) {
    const r = await this.pool.query(
      'SELECT * FROM ves_agent_keys WHERE tenant_id = $1 AND agent_id = $2 AND key_id = $3',
      [tenantId, agentId, keyId],
    );
    return r.rows.length === 0 ? undefined : keyFromRow(r.rows[0] as Row);
  }

  async listAgentKeys(tenantId: string, agentId: string) {
    const r = await this.pool.query(
      'SELECT * FROM ves_agent_keys WHERE tenant_id = $1 AND agent_id = $2 ORDER BY key_id',
      [tenantId, agentId],
    );
    return (r.rows as Row[]).map(keyFromRow);
  }

  async revokeAgentKey(tenantId: string, agentId: string, keyId: number, at: string) {
    const r = await this.pool.query(
      "UPDATE ves_agent_keys SET status = 'revoked', revoked_at = COALESCE(revoked_at, $1) WHERE tenant_id = $2 AND agent_id = $3 AND key_id = $4",
      [at, tenantId, agentId, keyId],
    );
    return r.rowCount === 1;
  }

  async insertCommitment(c: CommitmentRecord): Promise<'created' | 'conflict'> {
    const r = await this.pool.query(
      'INSERT INTO ves_commitments (batch_id, tenant_id, store_id, sequence_start, sequence_end, event_count, events_root, prev_events_root, prev_state_root, new_state_root, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING',
      [
        c.batchId,
        c.tenantId,
        c.storeId,
        c.sequenceStart,
        c.sequenceEnd,
        c.eventCount,
        c.eventsRoot,
        c.prevEventsRoot,
        c.prevStateRoot,
        c.newStateRoot,
        c.createdAt,
      ],
    );
    return r.rowCount === 1 ? 'created' : 'conflict';
  }

  async getCommitment(batchId: string) {
    const r = await this.pool.query('SELECT * FROM ves_commitments WHERE batch_id = $1', [batchId]);
    return r.rows.length === 0 ? undefined : commitmentFromRow(r.rows[0] as Row);
  }

  async listCommitments(tenantId: string, storeId: string) {
    const r = await this.pool.query(
      'SELECT * FROM ves_commitments WHERE tenant_id = $1 AND store_id = $2 ORDER BY sequence_start, sequence_end',
      [tenantId, storeId],
    );
    return (r.rows as Row[]).map(commitmentFromRow);
  }

  async insertComplianceProof(p: ComplianceProofRecord) {
    await this.pool.query(
      'INSERT INTO ves_compliance_proofs (proof_id, event_id, tenant_id, store_id, proof_type, proof_version, policy_id, policy_params, policy_hash, proof_hash, proof_b64, witness_commitment_hex, public_inputs, submitted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)',
      [
        p.proofId,
        p.eventId,
        p.tenantId,
        p.storeId,
        p.proofType,
        p.proofVersion,
        p.policyId,
        p.policyParamsJson,
        p.policyHash,
        p.proofHash,
        p.proofB64,
        p.witnessCommitmentHex,
        p.publicInputsJson,
        p.submittedAt,
      ],
    );
  }

  async getComplianceProof(proofId: string) {
    const r = await this.pool.query('SELECT * FROM ves_compliance_proofs WHERE proof_id = $1', [
      proofId,
    ]);
    return r.rows.length === 0 ? undefined : proofFromRow(r.rows[0] as Row);
  }

  async listComplianceProofs(eventId: string) {
    const r = await this.pool.query(
      'SELECT * FROM ves_compliance_proofs WHERE event_id = $1 ORDER BY submitted_at, proof_id',
      [eventId],
    );
    return (r.rows as Row[]).map(proofFromRow);
  }

  async ping() {
    await this.pool.query('SELECT 1');
  }

  async close() {
    await this.pool.end();
  }
}

/**
 * All new rows of a group in one statement: one array per column through unnest, under one
 * prepared statement name (parsed and planned once per connection, whatever the row count),
 * instead of a multi-row VALUES list with 18 parameters per row.
 */
const ENVELOPE_COLUMN = EVENT_COLUMNS.split(', ').indexOf('envelope');
const insertText = (envelopes: string) =>
  `INSERT INTO ves_events (${EVENT_COLUMNS}) SELECT * FROM unnest(${EVENT_COLUMN_TYPES.map(
    (type, i) => (i === ENVELOPE_COLUMN ? envelopes : `$${i + 1}::${type}[]`),
  ).join(', ')})`;
/**
 * The envelopes (~1 KB of JSON each, full of quotes) travel as one text joined by U+0001 and are
 * split by PostgreSQL: no array-literal escaping on either side. JSON.stringify never emits a raw
 * U+0001, so it cannot occur inside an envelope; the generic statement covers any that would.
 */
const ENVELOPE_SEPARATOR = '\u0001';
const INSERT_EVENTS_SPLIT = insertText(`string_to_array($${ENVELOPE_COLUMN + 1}::text, E'\\x01')`);
const INSERT_EVENTS = insertText(`$${ENVELOPE_COLUMN + 1}::text[]`);

function insertEvents(rows: readonly StoredEvent[]): pg.QueryConfig {
  const columns: (string | number | null)[][] = EVENT_COLUMN_TYPES.map(() => []);
  for (const row of rows) {
    const values = eventValues(row);
    for (let j = 0; j < values.length; j++) (columns[j] as unknown[]).push(values[j]);
  }
  const envelopes = columns[ENVELOPE_COLUMN] as string[];
  if (envelopes.every((e) => e.length > 0 && !e.includes(ENVELOPE_SEPARATOR)))
    return {
      name: 'ves_insert_events_split',
      text: INSERT_EVENTS_SPLIT,
      values: columns.map((c, j) =>
        j === ENVELOPE_COLUMN ? (c as string[]).join(ENVELOPE_SEPARATOR) : arrayLiteral(c),
      ),
    };
  return { name: 'ves_insert_events', text: INSERT_EVENTS, values: columns.map(arrayLiteral) };
}

/** No control characters and no surrogates: JSON.stringify then escapes only `"` and `\`. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const NEEDS_GENERIC_ESCAPE = /[\u0000-\u001f\ud800-\udfff]/;

/**
 * A PostgreSQL array literal, `{"a","b\\"c",NULL,1}`: elements double-quoted with `"` and `\`
 * backslash-escaped, as pg's own serializer writes them. For strings without control characters
 * or surrogates JSON.stringify produces exactly that quoting natively, several times faster than
 * pg's two regex passes on the ~1 KB envelope of every event; other strings take the generic path.
 */
export function arrayLiteral(values: readonly (string | number | null)[]): string {
  const parts = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) parts[i] = 'NULL';
    else if (typeof v === 'number') parts[i] = String(v);
    else if (!NEEDS_GENERIC_ESCAPE.test(v)) parts[i] = JSON.stringify(v);
    else parts[i] = `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  }
  return `{${parts.join(',')}}`;
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
