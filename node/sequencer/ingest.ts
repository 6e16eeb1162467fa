/**
 * VES ingest: validate the whole batch before any write (shape, limits, agent key and its
 * validity window, payload hashes, Ed25519 signature), then sequence it in one store
 * transaction. A batch with any event failing a cryptographic or key check is refused whole
 * (422, reasons per event); exact replays come back as receipts with their original sequence
 * numbers; a different event under a known event_id is a `duplicate_event_id` rejection.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import {
  bytesToHex,
  equalBytes,
  eventSigningHash,
  hex0x,
  hexToBytes,
  payloadAad,
  payloadCipherHashOf,
  payloadPlainHash,
  ZERO_HASH,
} from '../ves/hash.js';
import type { VesReceipt } from '../ves/receipt.js';
import { fromOpenApiEnvelope } from '../ves/sign.js';
import { OpenApiVesEventEnvelope, UUID_RE, Uuid, VesEventEnvelope } from '../ves/types.js';
import { checkedEnvelope } from './envelope-check.js';
import { ApiFailure } from './http.js';
import type { SequencerMetrics } from './metrics.js';
import { sealHashes } from './seal.js';
import type { AgentKeyRecord, PendingEvent, SequencerStore, StoredEvent } from './store.js';
import type { Ed25519Pool } from './verify-pool.js';

export interface IngestLimits {
  maxBatch: number;
  maxPayloadBytes: number;
}

export interface SequencerIdentity {
  sequencerId: string;
  sign: (message: Uint8Array) => Uint8Array;
}

export interface RejectionInfo {
  event_id: string;
  reason: string;
  message: string;
}

export interface VesIngestResult {
  batchId: string;
  eventsAccepted: number;
  eventsRejected: number;
  sequenceStart: number | null;
  sequenceEnd: number | null;
  headSequence: number;
  rejections: RejectionInfo[];
  receipts: VesReceipt[];
}

const IngestShape = z.object({ agentId: z.unknown(), events: z.array(z.unknown()) }).loose();
const IngestRequest = z.object({ agentId: Uuid, events: z.array(VesEventEnvelope) });

/** The signed receipt; `signature` defaults to signing now (deterministic, same bytes each time). */
export function receiptOf(
  event: StoredEvent,
  identity: SequencerIdentity,
  signature: Uint8Array = identity.sign(hexToBytes(event.receiptHash, 32)),
): VesReceipt {
  return {
    sequencerId: identity.sequencerId,
    eventId: event.eventId,
    sequenceNumber: event.sequenceNumber,
    sequencedAt: event.sequencedAt,
    receiptHash: event.receiptHash,
    signatureAlg: 'ed25519',
    sequencerSignature: bytesToHex(signature),
  };
}

/** Key status at `now` (the sequencing time, so back-dated created_at cannot dodge a revocation). */
export function keyProblem(
  key: AgentKeyRecord | undefined,
  now: number,
): { reason: string; message: string } | undefined {
  if (key === undefined) return { reason: 'KeyNotFound', message: 'agent key is not registered' };
  if (key.status === 'revoked' && (key.revokedAt === null || Date.parse(key.revokedAt) <= now))
    return { reason: 'KeyRevoked', message: `agent key was revoked at ${key.revokedAt}` };
  if (key.validFrom !== null && Date.parse(key.validFrom) > now)
    return { reason: 'KeyNotYetValid', message: `agent key is valid only from ${key.validFrom}` };
  if (key.validTo !== null && Date.parse(key.validTo) < now)
    return { reason: 'KeyExpired', message: `agent key expired at ${key.validTo}` };
  return undefined;
}

/** Payload hashes (VES-SIG-1 §7.2 step 3); the signature (step 4) is checked by the pool. */
function payloadProblem(e: VesEventEnvelope): { reason: string; message: string } | undefined {
  try {
    const plain = hexToBytes(e.payload_plain_hash, 32);
    const cipher = hexToBytes(e.payload_cipher_hash, 32);
    if (e.payload_kind === 0) {
      if (!equalBytes(payloadPlainHash(e.payload), plain))
        return {
          reason: 'PayloadHashMismatch',
          message: 'payload_plain_hash does not match JCS(payload)',
        };
      if (!equalBytes(cipher, ZERO_HASH))
        return {
          reason: 'NonZeroCipherHash',
          message: 'plaintext event must have a zero cipher hash',
        };
    } else if (e.payload_encrypted !== undefined) {
      if (!equalBytes(payloadCipherHashOf(e.payload_encrypted, payloadAad(e, plain)), cipher))
        return {
          reason: 'CipherHashMismatch',
          message: 'payload_cipher_hash does not match the encrypted payload',
        };
    }
  } catch (error) {
    return { reason: 'MalformedEvent', message: (error as Error).message };
  }
  return undefined;
}

/**
 * Events in the OpenAPI file's reduced camelCase form (`eventId`, `signingKeyId`, `signature`,
 * `timestamp`) are mapped to the signed VES envelope they stand for (node/ves/sign.ts), so
 * both wire forms are accepted; anything else is left for the envelope schema to judge.
 */
function fromOpenApiForm(request: { agentId: unknown; events: unknown[] }): unknown {
  if (typeof request.agentId !== 'string') return request;
  const agentId = request.agentId;
  const events = request.events.map((event) => {
    if (typeof event !== 'object' || event === null || !('eventId' in event) || 'event_id' in event)
      return event;
    const camel = OpenApiVesEventEnvelope.safeParse(event);
    if (!camel.success)
      throw new ApiFailure(
        'INVALID_FIELD_VALUE',
        `invalid camelCase VES event: ${zodIssues(camel.error)
          .map((i) => `${i.path}: ${i.message}`)
          .join('; ')}`,
        {
          reason: camel.error.issues.some((i) => i.message.includes('UUID'))
            ? 'malformed_uuid'
            : 'invalid_event',
        },
      );
    try {
      return fromOpenApiEnvelope(camel.data, agentId);
    } catch (error) {
      throw new ApiFailure('INVALID_FIELD_VALUE', (error as Error).message, {
        reason: 'invalid_event',
      });
    }
  });
  return { ...request, events };
}

function zodIssues(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.slice(0, 20).map((i) => ({ path: i.path.join('.'), message: i.message }));
}

/** The hot path: every event in the snake_case form and certainly valid (envelope-check.ts). */
function checkedBatch(request: {
  agentId: unknown;
  events: unknown[];
}): VesEventEnvelope[] | undefined {
  if (typeof request.agentId !== 'string' || !UUID_RE.test(request.agentId)) return undefined;
  const events: VesEventEnvelope[] = [];
  for (const event of request.events) {
    const checked = checkedEnvelope(event);
    if (checked === undefined) return undefined;
    events.push(checked);
  }
  return events;
}

/** The reference path: camelCase events mapped, then the zod schema with its errors. */
function parseBatch(request: { agentId: unknown; events: unknown[] }): VesEventEnvelope[] {
  const parsed = IngestRequest.safeParse(fromOpenApiForm(request));
  if (!parsed.success) {
    const issues = zodIssues(parsed.error);
    const uuidIssue = parsed.error.issues.some((i) => i.message.includes('UUID'));
    throw new ApiFailure(
      'INVALID_FIELD_VALUE',
      `invalid VES event batch: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
      { reason: uuidIssue ? 'malformed_uuid' : 'invalid_event', issues },
    );
  }
  return parsed.data.events;
}

export async function ingestVesBatch(
  body: unknown,
  store: SequencerStore,
  limits: IngestLimits,
  identity: SequencerIdentity,
  metrics: SequencerMetrics,
  verifier: Ed25519Pool,
  signer: Ed25519Pool = verifier,
): Promise<VesIngestResult> {
  const shape = IngestShape.safeParse(body);
  if (!shape.success)
    throw new ApiFailure('INVALID_REQUEST_BODY', 'body must be {agentId, events: [...]}', {
      reason: 'malformed_request',
      issues: zodIssues(shape.error),
    });
  const count = shape.data.events.length;
  if (count === 0)
    throw new ApiFailure('INVALID_FIELD_VALUE', 'events must not be empty', {
      reason: 'empty_batch',
    });
  if (count > limits.maxBatch)
    throw new ApiFailure(
      'BATCH_TOO_LARGE',
      `batch of ${count} events exceeds max_events_per_batch (${limits.maxBatch})`,
      { reason: 'batch_too_large', limit: limits.maxBatch, count },
    );
  const events = checkedBatch(shape.data) ?? parseBatch(shape.data);
  const tenantId = (events[0] as VesEventEnvelope).tenant_id.toLowerCase();
  const storeId = (events[0] as VesEventEnvelope).store_id.toLowerCase();
  for (const e of events) {
    if (e.tenant_id.toLowerCase() !== tenantId || e.store_id.toLowerCase() !== storeId)
      throw new ApiFailure(
        'INVALID_FIELD_VALUE',
        'all events in a batch must share the same tenant_id and store_id',
        { reason: 'mixed_streams', event_id: e.event_id },
      );
    const payload = e.payload_kind === 0 ? e.payload : e.payload_encrypted;
    const size = Buffer.byteLength(JSON.stringify(payload ?? null));
    if (size > limits.maxPayloadBytes)
      throw new ApiFailure(
        'PAYLOAD_TOO_LARGE',
        `event ${e.event_id} payload of ${size} bytes exceeds max_event_payload_size (${limits.maxPayloadBytes})`,
        { reason: 'payload_too_large', event_id: e.event_id, limit: limits.maxPayloadBytes, size },
      );
  }

  // Keys: one lookup per distinct (agent, key id) of the batch, evaluated at sequencing time.
  const now = Date.now();
  const keys = new Map<string, AgentKeyRecord | undefined>();
  for (const e of events) {
    const id = `${e.source_agent_id.toLowerCase()}/${e.agent_key_id}`;
    if (!keys.has(id))
      keys.set(
        id,
        await store.getAgentKey(tenantId, e.source_agent_id.toLowerCase(), e.agent_key_id),
      );
  }
  const failures: RejectionInfo[] = [];
  const checked: {
    e: VesEventEnvelope;
    signingHash: Uint8Array;
    signature: Uint8Array;
    publicKey: Uint8Array;
  }[] = [];
  for (const e of events) {
    const key = keys.get(`${e.source_agent_id.toLowerCase()}/${e.agent_key_id}`);
    const keyIssue = keyProblem(key, now);
    if (keyIssue !== undefined || key === undefined) {
      failures.push({
        event_id: e.event_id,
        ...(keyIssue ?? { reason: 'KeyNotFound', message: 'agent key is not registered' }),
      });
      continue;
    }
    const issue = payloadProblem(e);
    if (issue !== undefined) {
      failures.push({ event_id: e.event_id, ...issue });
      continue;
    }
    checked.push({
      e,
      signingHash: eventSigningHash(e),
      signature: hexToBytes(e.agent_signature, 64),
      publicKey: hexToBytes(key.publicKey, 32),
    });
  }
  const valid = await verifier.verifyMany(
    checked.map((c) => ({
      signature: c.signature,
      message: c.signingHash,
      publicKey: c.publicKey,
    })),
  );
  const pending: PendingEvent[] = [];
  checked.forEach(({ e, signingHash, signature }, i) => {
    if (valid[i] !== true) {
      failures.push({
        event_id: e.event_id,
        reason: 'SignatureVerificationFailed',
        message: 'agent signature does not verify',
      });
      return;
    }
    pending.push({
      eventId: e.event_id.toLowerCase(),
      commandId: e.command_id === undefined ? null : e.command_id.toLowerCase(),
      sourceAgentId: e.source_agent_id.toLowerCase(),
      agentKeyId: e.agent_key_id,
      entityType: e.entity_type,
      entityId: e.entity_id,
      eventType: e.event_type,
      createdAt: e.created_at,
      payloadKind: e.payload_kind,
      envelopeJson: JSON.stringify(e),
      eventSigningHash: bytesToHex(signingHash),
      agentSignature: bytesToHex(signature),
    });
  });
  if (failures.length > 0) {
    for (const f of failures) metrics.rejected(f.reason);
    const first = failures[0] as RejectionInfo;
    throw new ApiFailure(
      'SIGNATURE_VERIFICATION_FAILED',
      `${failures.length} of ${events.length} events failed verification (first: ${first.reason}: ${first.message}); nothing was sequenced`,
      { reason: first.reason, rejections: failures },
      422,
    );
  }

  const sequencedAt = new Date(now).toISOString();
  const outcomes = await appendOrConflict(
    store,
    tenantId,
    storeId,
    pending,
    sequencedAt,
    (e, seq) => {
      const sealed = sealHashes(
        tenantId,
        storeId,
        e.eventId,
        seq,
        e.eventSigningHash,
        e.agentSignature,
      );
      return { leafHash: sealed.leafHash, receiptHash: sealed.receiptHash };
    },
  );

  const rejections: RejectionInfo[] = [];
  const answered: StoredEvent[] = [];
  let first: number | null = null;
  let last: number | null = null;
  let accepted = 0;
  let duplicates = 0;
  for (const o of outcomes) {
    if (o.kind === 'sequenced') {
      accepted += 1;
      first ??= o.event.sequenceNumber;
      last = o.event.sequenceNumber;
      answered.push(o.event);
    } else if (o.kind === 'duplicate') {
      duplicates += 1;
      answered.push(o.event);
    } else {
      rejections.push({
        event_id: o.eventId,
        reason: 'duplicate_event_id',
        message: `event_id was already sequenced at ${o.existingSequence} with different signed content`,
      });
    }
  }
  // Receipt signatures after the commit, in the worker threads: off the stream lock.
  const signatures = await signer.signMany(answered.map((e) => hexToBytes(e.receiptHash, 32)));
  const receipts = answered.map((e, i) => receiptOf(e, identity, signatures[i]));
  metrics.eventsIngested(accepted);
  metrics.duplicatesReturned(duplicates);
  if (rejections.length > 0) metrics.rejected('duplicate_event_id', rejections.length);
  const headSequence = last ?? (await store.head(tenantId, storeId));
  return {
    batchId: randomUUID(),
    eventsAccepted: accepted,
    eventsRejected: rejections.length,
    sequenceStart: first,
    sequenceEnd: last,
    headSequence,
    rejections,
    receipts,
  };
}

/**
 * The stream lock serializes batches of one stream; an event_id raced into another stream at the
 * same moment trips the unique constraint instead, answered 409 (retry = replay semantics).
 */
async function appendOrConflict(
  store: SequencerStore,
  ...args: Parameters<SequencerStore['appendBatch']>
): ReturnType<SequencerStore['appendBatch']> {
  try {
    return await store.appendBatch(...args);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (
      code === '23505' ||
      code === 'SQLITE_CONSTRAINT_UNIQUE' ||
      code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
    )
      throw new ApiFailure(
        'ALREADY_EXISTS',
        'an event of this batch was sequenced concurrently in another request; resend the batch',
        { reason: 'concurrent_duplicate' },
      );
    throw error;
  }
}

/** `SequencedEvent` on the wire: the signed envelope plus what the sequencer assigned. */
export function sequencedEventJson(
  e: StoredEvent,
  identity: SequencerIdentity,
): Record<string, unknown> {
  const envelope = JSON.parse(e.envelopeJson) as Record<string, unknown>;
  return {
    ...envelope,
    sequence_number: e.sequenceNumber,
    sequenced_at: e.sequencedAt,
    event_hash: hex0x(hexToBytes(e.eventSigningHash, 32)),
    leaf_hash: hex0x(hexToBytes(e.leafHash, 32)),
    sequencer_receipt: receiptOf(e, identity),
  };
}
