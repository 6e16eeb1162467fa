/**
 * One storage contract for the embedded sequencer, implemented by SQLite (embedded default) and
 * PostgreSQL. `appendBatch` is the only write path for events: it runs in one transaction that
 * holds the per-(tenant, store) counter, so sequence numbers are gap-free and duplicate-free
 * however many writers or server processes share the database.
 */

/** An event that passed validation and signature checks, not yet sequenced. */
export interface PendingEvent {
  eventId: string;
  commandId: string | null;
  sourceAgentId: string;
  agentKeyId: number;
  entityType: string;
  entityId: string;
  eventType: string;
  createdAt: string;
  payloadKind: number;
  /** The envelope exactly as accepted (JSON text), returned by reads. */
  envelopeJson: string;
  /** Hex, 32 bytes. */
  eventSigningHash: string;
  /** Hex, 64 bytes. */
  agentSignature: string;
}

/**
 * Fields fixed once a sequence number is known: the Merkle leaf and the receipt hash. The
 * receipt signature is not stored: Ed25519 (RFC 8032) is deterministic, so it is computed after
 * the commit, off the stream lock, and again identically whenever a receipt is served.
 */
export interface SealedFields {
  leafHash: string;
  receiptHash: string;
}

export interface StoredEvent extends PendingEvent, SealedFields {
  tenantId: string;
  storeId: string;
  sequenceNumber: number;
  sequencedAt: string;
}

export type AppendOutcome =
  | { kind: 'sequenced'; event: StoredEvent }
  /** Same event_id and signed content already sequenced (or the same command_id): the original. */
  | { kind: 'duplicate'; by: 'event_id' | 'command_id'; event: StoredEvent; eventId: string }
  /** Same event_id already sequenced with different signed content. */
  | { kind: 'conflict'; eventId: string; existingSequence: number };

export interface AgentKeyRecord {
  tenantId: string;
  agentId: string;
  keyId: number;
  /** Hex, 32 bytes. */
  publicKey: string;
  status: 'active' | 'revoked';
  validFrom: string | null;
  validTo: string | null;
  revokedAt: string | null;
  createdAt: string;
}

export interface CommitmentRecord {
  batchId: string;
  tenantId: string;
  storeId: string;
  sequenceStart: number;
  sequenceEnd: number;
  eventCount: number;
  eventsRoot: string;
  prevEventsRoot: string;
  prevStateRoot: string;
  newStateRoot: string;
  createdAt: string;
}

export interface ComplianceProofRecord {
  proofId: string;
  eventId: string;
  tenantId: string;
  storeId: string;
  proofType: string;
  proofVersion: number;
  policyId: string;
  policyParamsJson: string;
  policyHash: string;
  proofHash: string;
  proofB64: string;
  witnessCommitmentHex: string | null;
  publicInputsJson: string | null;
  submittedAt: string;
}

export interface SequencerStore {
  readonly kind: 'sqlite' | 'postgres';
  /**
   * Sequences `events` for one stream in one transaction. `seal` is called inside it for each
   * new event with its number, so leaf and receipt are stored with the row.
   */
  appendBatch(
    tenantId: string,
    storeId: string,
    events: readonly PendingEvent[],
    sequencedAt: string,
    seal: (event: PendingEvent, sequenceNumber: number) => SealedFields,
  ): Promise<AppendOutcome[]>;
  head(tenantId: string, storeId: string): Promise<number>;
  /** Events with sequence_number >= from, ascending, at most `limit`. */
  events(tenantId: string, storeId: string, from: number, limit: number): Promise<StoredEvent[]>;
  entityHistory(
    tenantId: string,
    storeId: string,
    entityType: string,
    entityId: string,
    offset: number,
    limit: number,
  ): Promise<{ events: StoredEvent[]; total: number }>;
  eventById(eventId: string): Promise<StoredEvent | undefined>;

  putAgentKey(key: AgentKeyRecord): Promise<'created' | 'exists'>;
  getAgentKey(
    tenantId: string,
    agentId: string,
    keyId: number,
  ): Promise<AgentKeyRecord | undefined>;
  listAgentKeys(tenantId: string, agentId: string): Promise<AgentKeyRecord[]>;
  revokeAgentKey(tenantId: string, agentId: string, keyId: number, at: string): Promise<boolean>;

  /** 'conflict' when a commitment for the same stream already starts at sequence_start. */
  insertCommitment(commitment: CommitmentRecord): Promise<'created' | 'conflict'>;
  getCommitment(batchId: string): Promise<CommitmentRecord | undefined>;
  listCommitments(tenantId: string, storeId: string): Promise<CommitmentRecord[]>;

  insertComplianceProof(proof: ComplianceProofRecord): Promise<void>;
  getComplianceProof(proofId: string): Promise<ComplianceProofRecord | undefined>;
  listComplianceProofs(eventId: string): Promise<ComplianceProofRecord[]>;

  /** Throws when the database does not answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The dedupe decision shared by both stores, run inside the batch transaction after the stream
 * counter is held: existing rows come from the database, earlier rows of the batch from `fresh`.
 */
export function planBatch(
  events: readonly PendingEvent[],
  existingByEventId: ReadonlyMap<string, StoredEvent>,
  existingByCommandId: ReadonlyMap<string, StoredEvent>,
  head: number,
  build: (event: PendingEvent, sequenceNumber: number) => StoredEvent,
): { outcomes: AppendOutcome[]; fresh: StoredEvent[] } {
  const outcomes: AppendOutcome[] = [];
  const fresh: StoredEvent[] = [];
  const batchByEventId = new Map<string, StoredEvent>();
  const batchByCommandId = new Map<string, StoredEvent>();
  let next = head;
  for (const event of events) {
    const prior = existingByEventId.get(event.eventId) ?? batchByEventId.get(event.eventId);
    if (prior !== undefined) {
      const same =
        prior.eventSigningHash === event.eventSigningHash &&
        prior.agentSignature === event.agentSignature;
      outcomes.push(
        same
          ? { kind: 'duplicate', by: 'event_id', event: prior, eventId: event.eventId }
          : { kind: 'conflict', eventId: event.eventId, existingSequence: prior.sequenceNumber },
      );
      continue;
    }
    if (event.commandId !== null) {
      const byCommand =
        existingByCommandId.get(event.commandId) ?? batchByCommandId.get(event.commandId);
      if (byCommand !== undefined) {
        outcomes.push({
          kind: 'duplicate',
          by: 'command_id',
          event: byCommand,
          eventId: event.eventId,
        });
        continue;
      }
    }
    next += 1;
    const stored = build(event, next);
    fresh.push(stored);
    batchByEventId.set(event.eventId, stored);
    if (event.commandId !== null) batchByCommandId.set(event.commandId, stored);
    outcomes.push({ kind: 'sequenced', event: stored });
  }
  return { outcomes, fresh };
}
