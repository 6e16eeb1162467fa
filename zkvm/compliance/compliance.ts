import { createHash, randomUUID } from 'node:crypto';
import { canonicalJson } from '../commitment/digest.js';
import { M2mError } from '../errors.js';
import { createEnvelope, type ProofEnvelope } from '../proof/envelope.js';
import { callNativeProver, type NativeCallOptions } from '../prover/native-process.js';

/**
 * Compliance proofs (seed design): prove that a private amount satisfies a policy, bound to the
 * public inputs of one VES event. `aml.threshold`: amount < threshold. `order_total.cap`:
 * amount <= cap. Proving and verifying run in the native prover (guest/m2m-stark).
 */
export const POLICIES = {
  'aml.threshold': { param: 'threshold', relation: 'amount < threshold' },
  'order_total.cap': { param: 'cap', relation: 'amount <= cap' },
} as const;
export type PolicyId = keyof typeof POLICIES;

export const POLICY_HASH_DOMAIN = 'STATESET_VES_COMPLIANCE_POLICY_HASH_V1';

export interface CompliancePublicInputs {
  eventId: string;
  tenantId: string;
  storeId: string;
  sequenceNumber: number;
  payloadKind: number;
  payloadPlainHash: string;
  payloadCipherHash: string;
  eventSigningHash: string;
  policyId: PolicyId;
  policyParams: Record<string, string>;
  policyHash: string;
}

export function policyIdOf(text: string): PolicyId {
  if (!(text in POLICIES)) {
    throw new M2mError(
      'STARK_UNSUPPORTED_POLICY',
      `policy "${text}" is not supported; use ${Object.keys(POLICIES).join(' or ')}`,
    );
  }
  return text as PolicyId;
}

/** sha256(domain || JCS({policyId, policyParams})), lowercase hex (seed design). */
export function policyHash(policyId: PolicyId, policyParams: Record<string, string>): string {
  return createHash('sha256')
    .update(POLICY_HASH_DOMAIN)
    .update(canonicalJson({ policyId, policyParams }))
    .digest('hex');
}

const u64Text = (value: string | bigint, what: string): string => {
  const text = String(value);
  if (!/^(0|[1-9]\d*)$/.test(text) || BigInt(text) >= 2n ** 64n) {
    throw new M2mError(
      'STARK_INVALID_AMOUNT',
      `${what} must be an unsigned 64-bit integer in the asset's smallest unit, got "${text}"`,
    );
  }
  return text;
};

/** Development public inputs with fresh ids and random hashes (`m2m stark gen-inputs`). */
export function generatePublicInputs(
  policy: PolicyId,
  limit: string | bigint,
  overrides: Partial<CompliancePublicInputs> = {},
): CompliancePublicInputs {
  const hex = () => createHash('sha256').update(randomUUID()).digest('hex');
  const policyParams = { [POLICIES[policy].param]: u64Text(limit, 'limit') };
  return {
    eventId: randomUUID(),
    tenantId: randomUUID(),
    storeId: randomUUID(),
    sequenceNumber: 1,
    payloadKind: 1,
    payloadPlainHash: hex(),
    payloadCipherHash: hex(),
    eventSigningHash: hex(),
    policyId: policy,
    policyParams,
    policyHash: policyHash(policy, policyParams),
    ...overrides,
  };
}

interface ProveResponse {
  programId: string;
  proof: string;
  proofHash: string;
  proofSizeBytes: number;
  provingTimeMs: number;
  publicInputsHash: string;
  witnessCommitment: string;
  policyId: string;
  policyLimit: string;
  securityBits: number;
  conjecturedSecurityBits: number;
}

export interface ComplianceProof {
  envelope: ProofEnvelope;
  publicInputs: CompliancePublicInputs;
}

/** Proves amount vs policy for one event. A false statement fails with STARK_POLICY_VIOLATION. */
export async function proveCompliance(
  publicInputs: CompliancePublicInputs,
  amount: string | bigint,
  options: NativeCallOptions = {},
): Promise<ComplianceProof> {
  const { response } = await callNativeProver<ProveResponse>(
    'compliance-prove',
    { publicInputs, amount: u64Text(amount, 'amount') },
    options,
  ).catch((error: unknown) => {
    throw error instanceof M2mError && !error.code.startsWith('PROVER_')
      ? new M2mError(`STARK_${error.code}`, error.message)
      : error;
  });
  const envelope = createEnvelope({
    kind: 'compliance',
    backend: 'miden',
    programId: response.programId,
    publicInputs: {
      publicInputsHash: response.publicInputsHash,
      policyId: response.policyId,
      policyLimit: response.policyLimit,
      witnessCommitment: response.witnessCommitment,
    },
    publicOutputs: {},
    metadata: {
      provingTimeMs: Math.round(response.provingTimeMs),
      cyclesUsed: 0,
      memoryUsed: 0,
      securityBits: response.securityBits,
    },
    proof: new Uint8Array(Buffer.from(response.proof, 'base64')),
  });
  if (envelope.proofHash !== response.proofHash) {
    throw new M2mError(
      'STARK_PROOF_HASH_MISMATCH',
      'the prover reported a proof hash that does not match its proof bytes',
    );
  }
  return { envelope, publicInputs };
}

export interface ComplianceVerdict {
  valid: boolean;
  reason?: string;
  programId?: string;
  publicInputsHash?: string;
  verifyTimeMs: number;
}

/** Verifies a compliance proof against the public inputs the verifier trusts. Never throws for a bad proof. */
export async function verifyCompliance(
  envelope: ProofEnvelope,
  publicInputs: CompliancePublicInputs,
  options: NativeCallOptions = {},
): Promise<ComplianceVerdict> {
  const started = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - started) / 1e6;
  if (envelope.kind !== 'compliance')
    return {
      valid: false,
      reason: `expected a compliance proof, got a ${envelope.kind} proof`,
      verifyTimeMs: elapsed(),
    };
  try {
    const { response } = await callNativeProver<{ programId: string; publicInputsHash: string }>(
      'compliance-verify',
      {
        publicInputs,
        witnessCommitment: envelope.publicInputs.witnessCommitment,
        proof: Buffer.from(envelope.proof).toString('base64'),
        proofHash: envelope.proofHash,
        programId: envelope.programId,
        publicInputsHash: envelope.publicInputs.publicInputsHash,
      },
      options,
    );
    return {
      valid: true,
      programId: response.programId,
      publicInputsHash: response.publicInputsHash,
      verifyTimeMs: elapsed(),
    };
  } catch (error) {
    if (
      error instanceof M2mError &&
      !['PROVER_UNAVAILABLE', 'PROVER_CRASHED', 'PROVER_TIMEOUT', 'PROVER_MEMORY_LIMIT'].includes(
        error.code,
      )
    ) {
      return { valid: false, reason: `${error.code}: ${error.message}`, verifyTimeMs: elapsed() };
    }
    throw error;
  }
}

export interface BatchMember {
  publicInputs: CompliancePublicInputs;
  witnessCommitment: string;
}

export interface ComplianceBatchProof {
  envelope: ProofEnvelope;
  members: BatchMember[];
}

interface BatchProveResponse extends ProveResponse {
  batchSize: number;
  batchDigest: string;
  events: { publicInputsHash: string; witnessCommitment: string }[];
}

/** One proof that every event's private amount satisfies its own policy. */
export async function proveComplianceBatch(
  events: { publicInputs: CompliancePublicInputs; amount: string | bigint }[],
  options: NativeCallOptions = {},
): Promise<ComplianceBatchProof> {
  const request = {
    events: events.map((e, i) => ({
      publicInputs: e.publicInputs,
      amount: u64Text(e.amount, `events[${i}].amount`),
    })),
  };
  const { response } = await callNativeProver<BatchProveResponse>(
    'compliance-batch-prove',
    request,
    options,
  ).catch((error: unknown) => {
    throw error instanceof M2mError && !error.code.startsWith('PROVER_')
      ? new M2mError(`STARK_${error.code}`, error.message)
      : error;
  });
  const envelope = createEnvelope({
    kind: 'compliance-batch',
    backend: 'miden',
    programId: response.programId,
    publicInputs: { batchDigest: response.batchDigest, batchSize: String(response.batchSize) },
    publicOutputs: {},
    metadata: {
      provingTimeMs: Math.round(response.provingTimeMs),
      cyclesUsed: 0,
      memoryUsed: 0,
      securityBits: response.securityBits,
    },
    proof: new Uint8Array(Buffer.from(response.proof, 'base64')),
  });
  const members = events.map((e, i) => ({
    publicInputs: e.publicInputs,
    witnessCommitment: response.events[i]?.witnessCommitment ?? '',
  }));
  return { envelope, members };
}

export async function verifyComplianceBatch(
  envelope: ProofEnvelope,
  members: BatchMember[],
  options: NativeCallOptions = {},
): Promise<ComplianceVerdict> {
  const started = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - started) / 1e6;
  if (envelope.kind !== 'compliance-batch')
    return {
      valid: false,
      reason: `expected a batch proof, got a ${envelope.kind} proof`,
      verifyTimeMs: elapsed(),
    };
  try {
    const { response } = await callNativeProver<{ programId: string }>(
      'compliance-batch-verify',
      {
        events: members,
        proof: Buffer.from(envelope.proof).toString('base64'),
        proofHash: envelope.proofHash,
        programId: envelope.programId,
        batchDigest: envelope.publicInputs.batchDigest,
      },
      options,
    );
    return { valid: true, programId: response.programId, verifyTimeMs: elapsed() };
  } catch (error) {
    if (error instanceof M2mError && !error.code.startsWith('PROVER_'))
      return { valid: false, reason: `${error.code}: ${error.message}`, verifyTimeMs: elapsed() };
    throw error;
  }
}
