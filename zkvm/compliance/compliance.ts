import { createHash, randomUUID } from 'node:crypto';
import { canonicalJson } from '../commitment/digest.js';
import { M2mError } from '../errors.js';
import { createEnvelope, type ProofEnvelope } from '../proof/envelope.js';
import { verifyInProcess } from '../prover/native-addon.js';
import { callNativeProver, type NativeCallOptions } from '../prover/native-process.js';

/**
 * Compliance proofs (seed design): prove that a private amount satisfies a policy, bound to the
 * public inputs of one VES event. `aml.threshold`: amount < threshold. `order_total.cap`:
 * amount <= cap. Proving runs in the native prover's child process (guest/m2m-stark); verifying
 * runs in process, through the napi addon (guest/m2m-stark-node).
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

/** Statement errors from the prover get the STARK_ prefix; PROVER_* (infrastructure) pass through. */
function starkError(error: unknown): never {
  throw error instanceof M2mError && !error.code.startsWith('PROVER_')
    ? new M2mError(`STARK_${error.code}`, error.message)
    : error;
}

interface ProveResponse {
  programId: string;
  proof: string;
  proofHash: string;
  proofSizeBytes: number;
  provingTimeMs: number;
  /** VM cycles of the proven execution (main trace length). */
  cycles: number;
  /** Padded trace length the STARK commits to. */
  traceLength: number;
  publicInputsHash: string;
  witnessCommitment: string;
  policyId: string;
  policyLimit: string;
  securityBits: number;
  conjecturedSecurityBits: number;
  /** Peak resident memory of the prover process. */
  peakMemoryBytes?: number;
}

/** Wraps a prover response in an envelope; the reported proof hash must match the bytes. */
function envelopeOf(
  kind: ProofEnvelope['kind'],
  response: ProveResponse,
  publicInputs: Record<string, string>,
): ProofEnvelope {
  const envelope = createEnvelope({
    kind,
    backend: 'miden',
    programId: response.programId,
    publicInputs,
    publicOutputs: {},
    metadata: {
      provingTimeMs: Math.round(response.provingTimeMs),
      cyclesUsed: response.cycles,
      memoryUsed: response.peakMemoryBytes ?? 0,
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
  return envelope;
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
  ).catch(starkError);
  const envelope = envelopeOf('compliance', response, {
    publicInputsHash: response.publicInputsHash,
    policyId: response.policyId,
    policyLimit: response.policyLimit,
    witnessCommitment: response.witnessCommitment,
  });
  return { envelope, publicInputs };
}

export interface ComplianceVerdict {
  valid: boolean;
  reason?: string;
  programId?: string;
  publicInputsHash?: string;
  verifyTimeMs: number;
  /** True when the proof was checked in this process (the napi addon), not by a child process. */
  inProcess?: boolean;
}

/**
 * Runs one in-process verify command (the napi addon). A rejected proof is a verdict, never a
 * throw; only PROVER_* (the addon missing or broken) is thrown.
 */
function verifyWith(
  envelope: ProofEnvelope,
  kind: ProofEnvelope['kind'],
  command: string,
  request: unknown,
): ComplianceVerdict {
  const started = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - started) / 1e6;
  if (envelope.kind !== kind) {
    return {
      valid: false,
      reason: `expected a ${kind} proof, got a ${envelope.kind} proof`,
      verifyTimeMs: elapsed(),
    };
  }
  try {
    const response = verifyInProcess<{ programId: string; publicInputsHash?: string }>(
      command,
      request,
    );
    return {
      valid: true,
      programId: response.programId,
      ...(response.publicInputsHash === undefined
        ? {}
        : { publicInputsHash: response.publicInputsHash }),
      verifyTimeMs: elapsed(),
      inProcess: true,
    };
  } catch (error) {
    if (error instanceof M2mError && !error.code.startsWith('PROVER_')) {
      return {
        valid: false,
        reason: `${error.code}: ${error.message}`,
        verifyTimeMs: elapsed(),
        inProcess: true,
      };
    }
    throw error;
  }
}

/** Verifies a compliance proof against the public inputs the verifier trusts, in process. */
export async function verifyCompliance(
  envelope: ProofEnvelope,
  publicInputs: CompliancePublicInputs,
): Promise<ComplianceVerdict> {
  return verifyWith(envelope, 'compliance', 'compliance-verify', {
    publicInputs,
    witnessCommitment: envelope.publicInputs.witnessCommitment,
    proof: Buffer.from(envelope.proof).toString('base64'),
    proofHash: envelope.proofHash,
    programId: envelope.programId,
    publicInputsHash: envelope.publicInputs.publicInputsHash,
  });
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
  ).catch(starkError);
  const envelope = envelopeOf('compliance-batch', response, {
    batchDigest: response.batchDigest,
    batchSize: String(response.batchSize),
  });
  const members = events.map((e, i) => ({
    publicInputs: e.publicInputs,
    witnessCommitment: response.events[i]?.witnessCommitment ?? '',
  }));
  return { envelope, members };
}

/** Verifies a batch proof in process; same rules as verifyCompliance. */
export async function verifyComplianceBatch(
  envelope: ProofEnvelope,
  members: BatchMember[],
): Promise<ComplianceVerdict> {
  return verifyWith(envelope, 'compliance-batch', 'compliance-batch-verify', {
    events: members,
    proof: Buffer.from(envelope.proof).toString('base64'),
    proofHash: envelope.proofHash,
    programId: envelope.programId,
    batchDigest: envelope.publicInputs.batchDigest,
  });
}
