import { isM2mError, M2mError } from '../../zkvm/errors.js';
import type { CanonicalRecord } from '../../zkvm/exec/values.js';
import { assertValidPlan } from '../../zkvm/plan/validate.js';
import { planOutputHashPoseidon } from '../../zkvm/plan-proof/commitments.js';
import type { ProofEnvelope } from '../../zkvm/proof/envelope.js';
import { ProgramRegistry } from '../../zkvm/registry/registry.js';
import { ZKVerifier } from '../../zkvm/verifier/verifier.js';
import {
  decryptJobOutput,
  envelopeFromRef,
  type JobResult,
  parseJobResult,
} from '../dvm/result.js';
import { createProofFetcher, type ProofFetcher } from '../storage/fetch.js';
import type { CustomerJob } from './store.js';

/** The customer's verdict on one job result (kind 6900). */
export interface JobVerdict {
  valid: boolean;
  /** Stable code of the first failed check (absent when valid). */
  code?: string;
  reason?: string;
  requestId: string;
  resultId: string | undefined;
  provider: string | undefined;
  backend?: string;
  programId?: string;
  proofHash?: string;
  planHash: string;
  dataRoot: string;
  outputHash?: string;
  /** Claimed by the provider (the envelope's metadata). */
  provingTimeMs?: number;
  cyclesUsed?: number;
  /** Time spent checking the result here (parse, decrypt, output hash, proof). */
  verifyMs: number;
  /** From the request being signed to this verdict. */
  elapsedMs: number;
  /** The delivered output records (valid results only). */
  output?: unknown;
}

const missingKey = (job: CustomerJob): never => {
  throw new M2mError(
    'KEY_REQUIRED',
    `job ${job.requestId} is private: its output is encrypted to ${job.customer}; pass that customer's --key`,
  );
};

export interface VerifyOptions {
  /**
   * Fetches a proof given by reference (`proof-ref`). Default: a fetcher with no configuration,
   * which uses the servers and gateways the reference itself names.
   */
  fetchProof?: ProofFetcher | undefined;
}

let defaultFetcher: ProofFetcher | undefined;

const hrtimeMs = (from: bigint): number => Number(process.hrtime.bigint() - from) / 1e6;

/**
 * Checks a job result against what the customer knows, never trusting the provider: the event
 * form (signature, tags agreeing with the inline envelope), that it answers this request and comes
 * from an addressed provider, and then the proof with the ZKVerifier (program registry and
 * min-program-version, plan hash, job request hash, the data root computed from the customer's own
 * data, and the output hash computed from the delivered output). Never throws for a bad result:
 * every failure is a verdict with a code. Only a missing native verifier throws (PROVER_*).
 */
export async function verifyJobResult(
  job: CustomerJob,
  event: unknown,
  customerSecretKey: Uint8Array | undefined,
  options: VerifyOptions = {},
): Promise<JobVerdict> {
  const started = process.hrtime.bigint();
  const base: JobVerdict = {
    valid: false,
    requestId: job.requestId,
    resultId: (event as { id?: unknown })?.id as string | undefined,
    provider: (event as { pubkey?: unknown })?.pubkey as string | undefined,
    planHash: job.planHash,
    dataRoot: job.dataRoot,
    verifyMs: 0,
    elapsedMs: 0,
  };
  const finish = (verdict: Partial<JobVerdict>): JobVerdict => ({
    ...base,
    ...verdict,
    verifyMs: hrtimeMs(started),
    elapsedMs: Date.now() - job.request.created_at * 1000,
  });
  const reject = (code: string, reason: string) => finish({ valid: false, code, reason });

  let result: JobResult;
  try {
    result = parseJobResult(event);
  } catch (error) {
    if (!isM2mError(error)) throw error;
    return reject('RESULT_MALFORMED', `${error.code}: ${error.message}`);
  }
  Object.assign(base, {
    resultId: result.id,
    provider: result.pubkey,
    backend: result.backend,
    programId: result.programId,
    provingTimeMs: result.provingTimeMs,
    cyclesUsed: result.cyclesUsed,
  });
  if (result.request.id !== job.requestId)
    return reject(
      'REQUEST_MISMATCH',
      `the result answers request ${result.request.id}, not ${job.requestId}`,
    );
  if (job.providers.length > 0 && !job.providers.includes(result.pubkey))
    return reject(
      'PROVIDER_MISMATCH',
      `the result is signed by ${result.pubkey}, but the request addressed ${job.providers.join(', ')}`,
    );
  if (job.backend !== 'any' && result.backend !== job.backend)
    return reject(
      'BACKEND_MISMATCH',
      `the request asked for ${job.backend}, the proof is from ${result.backend}`,
    );
  let envelope: ProofEnvelope;
  if (result.proof.type === 'inline') envelope = result.proof.envelope;
  else {
    defaultFetcher ??= createProofFetcher();
    const fetchProof = options.fetchProof ?? defaultFetcher;
    let bytes: Uint8Array;
    try {
      bytes = await fetchProof(result.proof.uri, result.proof.sha256);
    } catch (error) {
      if (!isM2mError(error)) throw error;
      return reject(
        error.code === 'STORAGE_HASH_MISMATCH' ? 'PROOF_REF_MISMATCH' : 'PROOF_UNAVAILABLE',
        `the proof at ${result.proof.uri}: ${error.code}: ${error.message}`,
      );
    }
    try {
      envelope = envelopeFromRef(result, bytes);
    } catch (error) {
      if (!isM2mError(error)) throw error;
      return reject('PROOF_REF_MISMATCH', `${error.code}: ${error.message}`);
    }
  }
  Object.assign(base, { proofHash: envelope.proofHash });

  let output: CanonicalRecord[];
  let outputHash: string;
  try {
    const text =
      result.encrypted && customerSecretKey !== undefined
        ? decryptJobOutput(result, customerSecretKey)
        : result.encrypted
          ? missingKey(job)
          : result.output;
    const parsed: unknown = JSON.parse(text);
    if (!Array.isArray(parsed) || parsed.some((r) => r === null || typeof r !== 'object'))
      return reject('OUTPUT_MALFORMED', 'the delivered output is not a JSON array of records');
    output = parsed as CanonicalRecord[];
    const validated = assertValidPlan(job.planText);
    outputHash = planOutputHashPoseidon(validated.plan, validated.planHash, output);
  } catch (error) {
    if (!isM2mError(error) || error.code === 'KEY_REQUIRED') throw error;
    return reject('OUTPUT_MALFORMED', `the delivered output: ${error.code}: ${error.message}`);
  }

  const registry = new ProgramRegistry();
  try {
    const verifier = new ZKVerifier(
      registry,
      job.minProgramVersion === undefined ? {} : { minProgramVersion: job.minProgramVersion },
    );
    const verdict = await verifier.verify(envelope, {
      kind: 'plan',
      jobRequestHash: job.jobRequestHash,
      planHash: job.planHash,
      dataRoot: job.dataRoot,
      outputHash,
    });
    if (!verdict.valid)
      return finish({
        valid: false,
        code: verdict.code ?? 'PROOF_INVALID',
        reason: verdict.reason ?? 'proof rejected',
        outputHash,
      });
    return finish({ valid: true, outputHash, output });
  } finally {
    registry.close();
  }
}
