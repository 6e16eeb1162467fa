/**
 * Batch commitments over a stream's sequence range (VES spec §10, §12): events_root is the
 * padded Merkle root of the range's leaves; commitments chain per stream, each starting right
 * after the previous one (the first at sequence 1) and carrying prev_events_root. The state
 * root is this project's definition (VES leaves it to the application): a hash chain over the
 * committed batches,
 *   new_state_root = SHA256("VES_STATE_V1" || prev_state_root || stream_id ||
 *                           U64_BE(sequence_start) || U64_BE(sequence_end) || events_root)
 * with prev_state_root = 32 zero bytes for the first batch of a stream.
 */
import { randomUUID } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { bytesToHex, hex0x, hexToBytes } from '../ves/hash.js';
import {
  u64be,
  vesInclusionProof,
  vesMerkleRoot,
  vesRootFromProof,
  vesStreamId,
} from '../ves/merkle.js';
import { ApiFailure } from './http.js';
import type { CommitmentRecord, SequencerStore } from './store.js';

export const DOMAIN_STATE = utf8ToBytes('VES_STATE_V1');
const ZERO32 = new Uint8Array(32);
export const MAX_COMMITMENT_EVENTS = 100_000;

export function stateRoot(
  prevStateRoot: Uint8Array,
  tenantId: string,
  storeId: string,
  sequenceStart: number,
  sequenceEnd: number,
  eventsRoot: Uint8Array,
): Uint8Array {
  return sha256(
    concatBytes(
      DOMAIN_STATE,
      prevStateRoot,
      vesStreamId(tenantId, storeId),
      u64be(sequenceStart),
      u64be(sequenceEnd),
      eventsRoot,
    ),
  );
}

/** Leaf hashes of [start, end], checked to be complete and contiguous. */
async function rangeLeaves(
  store: SequencerStore,
  tenantId: string,
  storeId: string,
  start: number,
  end: number,
): Promise<Uint8Array[]> {
  const leaves: Uint8Array[] = [];
  let from = start;
  while (from <= end) {
    const page = await store.events(tenantId, storeId, from, Math.min(5000, end - from + 1));
    if (page.length === 0) break;
    for (const e of page) {
      if (e.sequenceNumber !== from)
        throw new ApiFailure('SEQUENCE_GAP', `sequence ${from} is missing from the stream`);
      leaves.push(hexToBytes(e.leafHash, 32));
      from += 1;
    }
  }
  if (leaves.length !== end - start + 1)
    throw new ApiFailure(
      'INVALID_FIELD_VALUE',
      `sequence range ${start}..${end} is not fully sequenced yet`,
      { reason: 'range_not_sequenced' },
    );
  return leaves;
}

export async function createCommitment(
  store: SequencerStore,
  tenantId: string,
  storeId: string,
  sequenceStart: number,
  sequenceEnd: number,
): Promise<CommitmentRecord> {
  if (sequenceStart < 1 || sequenceEnd < sequenceStart)
    throw new ApiFailure('INVALID_FIELD_VALUE', 'need 1 <= sequence_start <= sequence_end', {
      reason: 'invalid_range',
    });
  if (sequenceEnd - sequenceStart + 1 > MAX_COMMITMENT_EVENTS)
    throw new ApiFailure(
      'BATCH_TOO_LARGE',
      `a commitment covers at most ${MAX_COMMITMENT_EVENTS} events`,
      { reason: 'range_too_large', limit: MAX_COMMITMENT_EVENTS },
    );
  const existing = await store.listCommitments(tenantId, storeId);
  const same = existing.find(
    (c) => c.sequenceStart === sequenceStart && c.sequenceEnd === sequenceEnd,
  );
  if (same !== undefined)
    throw new ApiFailure('ALREADY_EXISTS', 'a commitment for this range already exists', {
      reason: 'commitment_exists',
      batch_id: same.batchId,
    });
  const previous = existing.at(-1);
  const expectedStart = previous === undefined ? 1 : previous.sequenceEnd + 1;
  if (sequenceStart !== expectedStart)
    throw new ApiFailure(
      'ALREADY_EXISTS',
      `commitments chain per stream: the next one must start at ${expectedStart}`,
      { reason: 'range_not_chained', expected_sequence_start: expectedStart },
      sequenceStart < expectedStart ? 409 : 400,
    );
  const leaves = await rangeLeaves(store, tenantId, storeId, sequenceStart, sequenceEnd);
  const eventsRoot = vesMerkleRoot(leaves);
  const prevState = previous === undefined ? ZERO32 : hexToBytes(previous.newStateRoot, 32);
  const record: CommitmentRecord = {
    batchId: randomUUID(),
    tenantId,
    storeId,
    sequenceStart,
    sequenceEnd,
    eventCount: leaves.length,
    eventsRoot: bytesToHex(eventsRoot),
    prevEventsRoot: previous === undefined ? bytesToHex(ZERO32) : previous.eventsRoot,
    prevStateRoot: bytesToHex(prevState),
    newStateRoot: bytesToHex(
      stateRoot(prevState, tenantId, storeId, sequenceStart, sequenceEnd, eventsRoot),
    ),
    createdAt: new Date().toISOString(),
  };
  if ((await store.insertCommitment(record)) === 'conflict')
    throw new ApiFailure('ALREADY_EXISTS', 'a commitment starting here was created concurrently', {
      reason: 'commitment_exists',
    });
  return record;
}

/** `BatchCommitment` on the wire, plus the chaining and state-root fields. */
export function commitmentJson(c: CommitmentRecord): Record<string, unknown> {
  const h = (hex: string) => hex0x(hexToBytes(hex, 32));
  return {
    batch_id: c.batchId,
    tenant_id: c.tenantId,
    store_id: c.storeId,
    sequence_start: c.sequenceStart,
    sequence_end: c.sequenceEnd,
    events_root: h(c.eventsRoot),
    event_count: c.eventCount,
    created_at: c.createdAt,
    anchor_status: 'pending',
    stream_id: hex0x(vesStreamId(c.tenantId, c.storeId)),
    prev_events_root: h(c.prevEventsRoot),
    prev_state_root: h(c.prevStateRoot),
    new_state_root: h(c.newStateRoot),
  };
}

export async function inclusionProof(
  store: SequencerStore,
  commitment: CommitmentRecord,
  sequenceNumber: number,
): Promise<Record<string, unknown>> {
  if (sequenceNumber < commitment.sequenceStart || sequenceNumber > commitment.sequenceEnd)
    throw new ApiFailure(
      'EVENT_NOT_FOUND',
      `sequence ${sequenceNumber} is outside batch ${commitment.batchId} (${commitment.sequenceStart}..${commitment.sequenceEnd})`,
      { reason: 'sequence_not_in_batch' },
    );
  const leaves = await rangeLeaves(
    store,
    commitment.tenantId,
    commitment.storeId,
    commitment.sequenceStart,
    commitment.sequenceEnd,
  );
  const proof = vesInclusionProof(leaves, sequenceNumber - commitment.sequenceStart);
  if (bytesToHex(proof.root) !== commitment.eventsRoot)
    throw new ApiFailure('INVARIANT_VIOLATION', 'stored events no longer match the commitment', {
      reason: 'root_mismatch',
    });
  return {
    leaf_hash: hex0x(proof.leafHash),
    leaf_index: proof.leafIndex,
    proof_path: proof.proofPath.map(hex0x),
    merkle_root: hex0x(proof.root),
    batch_id: commitment.batchId,
    sequence_number: sequenceNumber,
  };
}

/** `POST /v1/ves/proofs/verify`: recompute the root from leaf + path, compare. */
export function verifyProofRequest(body: unknown): { valid: boolean; merkle_root: string } {
  const fail = (field: string, why: string): never => {
    throw new ApiFailure('INVALID_FIELD_VALUE', `${field} ${why}`, {
      reason: 'invalid_proof_request',
      field,
    });
  };
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return fail('body', 'must be an object');
  const b = body as Record<string, unknown>;
  const hash = (v: unknown, field: string): Uint8Array =>
    typeof v === 'string' && /^(0x)?[0-9a-fA-F]{64}$/.test(v)
      ? hexToBytes(v, 32)
      : fail(field, 'must be 32 bytes of hex');
  const leaf = hash(b.leaf_hash, 'leaf_hash');
  const root = hash(b.merkle_root, 'merkle_root');
  const index = b.leaf_index;
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0)
    return fail('leaf_index', 'must be a non-negative integer');
  const rawPath = b.proof_path;
  if (!Array.isArray(rawPath) || rawPath.length > 64)
    return fail('proof_path', 'must be an array of at most 64 hashes');
  const path = rawPath.map((p: unknown, i) => hash(p, `proof_path[${i}]`));
  // A leaf index that does not fit the path length cannot be a member of that tree.
  if (path.length < 53 && index >= 2 ** path.length)
    return { valid: false, merkle_root: hex0x(leaf) };
  const computed = vesRootFromProof(leaf, index, path);
  return { valid: bytesToHex(computed) === bytesToHex(root), merkle_root: hex0x(computed) };
}
