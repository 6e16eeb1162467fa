/**
 * VES compliance proofs backed by the project's STARK compliance backend
 * (zkvm/compliance/compliance.ts). The sequencer derives the canonical public inputs from the
 * stored event (ids, sequence number, payload hashes, signing hash) and the policy; agents prove
 * against them off-line and submit the proof as base64 of the project's binary proof envelope
 * (zkvm/proof/envelope.ts `encodeEnvelope`). Verification recomputes the inputs, never trusts
 * the submitted ones.
 */
import { createHash, randomUUID } from 'node:crypto';
import { canonicalJson } from '../../zkvm/commitment/digest.js';
import {
  type CompliancePublicInputs,
  POLICIES,
  policyHash,
  policyIdOf,
  verifyCompliance,
} from '../../zkvm/compliance/compliance.js';
import { M2mError } from '../../zkvm/errors.js';
import { decodeEnvelope, type ProofEnvelope } from '../../zkvm/proof/envelope.js';
import { ApiFailure } from './http.js';
import type { ComplianceProofRecord, SequencerStore, StoredEvent } from './store.js';

const bare = (hex: string) => hex.replace(/^0x/i, '').toLowerCase();

function policyOf(body: Record<string, unknown>): {
  policyId: keyof typeof POLICIES;
  policyParams: Record<string, string>;
} {
  if (typeof body.policyId !== 'string' || body.policyId.length > 64)
    throw new ApiFailure('MISSING_REQUIRED_FIELD', 'policyId is required (at most 64 chars)', {
      reason: 'missing_policy',
    });
  let policyId: keyof typeof POLICIES;
  try {
    policyId = policyIdOf(body.policyId);
  } catch (error) {
    throw new ApiFailure('INVALID_FIELD_VALUE', (error as M2mError).message, {
      reason: 'unsupported_policy',
    });
  }
  const raw = (body.policyParams ?? {}) as Record<string, unknown>;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ApiFailure('INVALID_FIELD_VALUE', 'policyParams must be an object', {
      reason: 'invalid_policy_params',
    });
  const param = POLICIES[policyId].param;
  const value = raw[param];
  const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof text !== 'string' || !/^(0|[1-9]\d{0,19})$/.test(text) || BigInt(text) >= 2n ** 64n)
    throw new ApiFailure(
      'INVALID_FIELD_VALUE',
      `policyParams.${param} must be an unsigned 64-bit integer (smallest unit)`,
      { reason: 'invalid_policy_params' },
    );
  return { policyId, policyParams: { [param]: text } };
}

export function canonicalInputs(
  event: StoredEvent,
  policyId: keyof typeof POLICIES,
  policyParams: Record<string, string>,
): CompliancePublicInputs {
  const envelope = JSON.parse(event.envelopeJson) as Record<string, string>;
  return {
    eventId: event.eventId,
    tenantId: event.tenantId,
    storeId: event.storeId,
    sequenceNumber: event.sequenceNumber,
    payloadKind: event.payloadKind,
    payloadPlainHash: bare(envelope.payload_plain_hash ?? ''),
    payloadCipherHash: bare(envelope.payload_cipher_hash ?? ''),
    eventSigningHash: event.eventSigningHash,
    policyId,
    policyParams,
    policyHash: policyHash(policyId, policyParams),
  };
}

export const inputsHash = (inputs: CompliancePublicInputs): string =>
  createHash('sha256').update(canonicalJson(inputs)).digest('hex');

export function complianceInputs(event: StoredEvent, body: unknown): Record<string, unknown> {
  const { policyId, policyParams } = policyOf(asObject(body));
  const inputs = canonicalInputs(event, policyId, policyParams);
  return { event_id: event.eventId, public_inputs: inputs, public_inputs_hash: inputsHash(inputs) };
}

function asObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new ApiFailure('INVALID_REQUEST_BODY', 'body must be a JSON object', {
      reason: 'malformed_request',
    });
  return body as Record<string, unknown>;
}

function decodeProof(proofB64: unknown): ProofEnvelope {
  if (typeof proofB64 !== 'string' || proofB64.length === 0)
    throw new ApiFailure('MISSING_REQUIRED_FIELD', 'proofB64 is required', {
      reason: 'missing_proof',
    });
  try {
    return decodeEnvelope(new Uint8Array(Buffer.from(proofB64, 'base64')));
  } catch (error) {
    throw new ApiFailure(
      'INVALID_FIELD_VALUE',
      `proofB64 must be base64 of an m2m proof envelope: ${(error as Error).message}`,
      { reason: 'malformed_proof' },
    );
  }
}

function witnessHex(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  // The OpenAPI form (hex, optional 0x) or the prover's own "poseidon2:<hex>".
  if (typeof value === 'string' && /^(0x|poseidon2:)?[0-9a-fA-F]{64}$/.test(value))
    return value.slice(-64).toLowerCase();
  if (Array.isArray(value) && value.length === 4 && value.every((v) => Number.isSafeInteger(v)))
    return value
      .map((limb: number) => BigInt(limb).toString(16).padStart(16, '0'))
      .join('')
      .toLowerCase();
  throw new ApiFailure(
    'INVALID_FIELD_VALUE',
    'witnessCommitment must be 32 bytes of hex or 4 u64 limbs',
    { reason: 'invalid_witness_commitment' },
  );
}

export async function submitComplianceProof(
  store: SequencerStore,
  event: StoredEvent,
  body: unknown,
): Promise<ComplianceProofRecord> {
  const b = asObject(body);
  if (typeof b.proofType !== 'string' || b.proofType.length === 0 || b.proofType.length > 32)
    throw new ApiFailure('MISSING_REQUIRED_FIELD', 'proofType is required (at most 32 chars)', {
      reason: 'missing_proof_type',
    });
  const { policyId, policyParams } = policyOf(b);
  const envelope = decodeProof(b.proofB64);
  const inputs = canonicalInputs(event, policyId, policyParams);
  if (b.publicInputs !== undefined && canonicalJson(b.publicInputs) !== canonicalJson(inputs))
    throw new ApiFailure(
      'INVALID_FIELD_VALUE',
      'publicInputs differ from the sequencer canonical inputs for this event and policy',
      { reason: 'public_inputs_mismatch' },
    );
  const witness = witnessHex(b.witnessCommitment);
  const envelopeWitness = envelope.publicInputs.witnessCommitment;
  if (b.proofType.toLowerCase() === 'stark' && witness === null)
    throw new ApiFailure('MISSING_REQUIRED_FIELD', 'STARK proofs need witnessCommitment', {
      reason: 'missing_witness_commitment',
    });
  if (
    witness !== null &&
    envelopeWitness !== undefined &&
    envelopeWitness.slice(-64).toLowerCase() !== witness
  )
    throw new ApiFailure(
      'INVALID_FIELD_VALUE',
      'witnessCommitment does not match the proof envelope',
      { reason: 'witness_commitment_mismatch' },
    );
  const proofVersion = typeof b.proofVersion === 'number' ? b.proofVersion : 1;
  const record: ComplianceProofRecord = {
    proofId: randomUUID(),
    eventId: event.eventId,
    tenantId: event.tenantId,
    storeId: event.storeId,
    proofType: b.proofType,
    proofVersion,
    policyId,
    policyParamsJson: JSON.stringify(policyParams),
    policyHash: inputs.policyHash,
    proofHash: envelope.proofHash,
    proofB64: b.proofB64 as string,
    witnessCommitmentHex: witness,
    publicInputsJson: JSON.stringify(inputs),
    submittedAt: new Date().toISOString(),
  };
  // Idempotent: the same proof for the same event and policy is stored once.
  const prior = (await store.listComplianceProofs(event.eventId)).find(
    (p) => p.proofHash === record.proofHash && p.policyHash === record.policyHash,
  );
  if (prior !== undefined) return prior;
  await store.insertComplianceProof(record);
  return record;
}

export function proofSummaryJson(p: ComplianceProofRecord, withBytes = false) {
  return {
    proof_id: p.proofId,
    event_id: p.eventId,
    tenant_id: p.tenantId,
    store_id: p.storeId,
    proof_type: p.proofType,
    proof_version: p.proofVersion,
    policy_id: p.policyId,
    policy_params: JSON.parse(p.policyParamsJson) as unknown,
    policy_hash: p.policyHash,
    proof_hash: p.proofHash,
    witness_commitment: null,
    witness_commitment_hex: p.witnessCommitmentHex,
    public_inputs: p.publicInputsJson === null ? null : (JSON.parse(p.publicInputsJson) as unknown),
    submitted_at: p.submittedAt,
    ...(withBytes ? { proof_b64: p.proofB64 } : {}),
  };
}

export async function verifyStoredProof(
  p: ComplianceProofRecord,
  event: StoredEvent,
): Promise<Record<string, unknown>> {
  const policyParams = JSON.parse(p.policyParamsJson) as Record<string, string>;
  const canonical = canonicalInputs(event, policyIdOf(p.policyId), policyParams);
  const canonicalHash = inputsHash(canonical);
  const storedHash =
    p.publicInputsJson === null
      ? null
      : inputsHash(JSON.parse(p.publicInputsJson) as CompliancePublicInputs);
  const envelope = decodeEnvelope(new Uint8Array(Buffer.from(p.proofB64, 'base64')));
  const proofHashMatch = envelope.proofHash === p.proofHash;
  let starkValid: boolean | null = null;
  let starkError: string | null = null;
  let starkMs: number | null = null;
  try {
    const verdict = await verifyCompliance(envelope, canonical);
    starkValid = verdict.valid;
    starkError = verdict.reason ?? null;
    starkMs = Math.round(verdict.verifyTimeMs);
  } catch (error) {
    starkValid = false;
    starkError = error instanceof M2mError ? `${error.code}: ${error.message}` : String(error);
  }
  const publicInputsMatch = storedHash === null || storedHash === canonicalHash;
  const valid = proofHashMatch && publicInputsMatch && starkValid === true;
  return {
    proof_id: p.proofId,
    event_id: p.eventId,
    tenant_id: p.tenantId,
    store_id: p.storeId,
    proof_type: p.proofType,
    proof_version: p.proofVersion,
    policy_id: p.policyId,
    policy_hash: p.policyHash,
    proof_hash: p.proofHash,
    proof_hash_match: proofHashMatch,
    public_inputs_hash: storedHash,
    canonical_public_inputs_hash: canonicalHash,
    public_inputs_match: publicInputsMatch,
    witness_commitment: null,
    witness_commitment_hex: p.witnessCommitmentHex,
    stark_valid: starkValid,
    stark_error: starkError,
    stark_verification_time_ms: starkMs,
    valid,
    reason: valid
      ? null
      : !proofHashMatch
        ? 'proof hash mismatch'
        : !publicInputsMatch
          ? 'public inputs mismatch'
          : (starkError ?? 'STARK verification failed'),
  };
}
