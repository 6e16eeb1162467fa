import { isM2mError } from '../../zkvm/errors.js';
import type { CanonicalRecord } from '../../zkvm/exec/values.js';
import { assertValidPlan } from '../../zkvm/plan/validate.js';
import { planOutputHashPoseidon } from '../../zkvm/plan-proof/commitments.js';
import { decodeEnvelope, type ProofEnvelope } from '../../zkvm/proof/envelope.js';
import { ProgramRegistry } from '../../zkvm/registry/registry.js';
import { ZKVerifier } from '../../zkvm/verifier/verifier.js';

/** What a provider submits to be paid: the proof envelope and, optionally, the delivered output. */
export interface ProofSubmission {
  /** The binary proof envelope (`encodeEnvelope`). */
  envelope: Uint8Array;
  /** The delivered output records; when given, the proof's output hash must be theirs. */
  output?: unknown;
}

export interface ProofVerdict {
  valid: boolean;
  code?: string;
  reason?: string;
}

/** What the payment's proof must match; fixed by the buyer when the PREPARE is sent. */
export interface ProofExpectation {
  jobRequestHash: string;
  planHash?: string;
  dataRoot?: string;
  outputHash?: string;
  minProgramVersion?: string;
}

/**
 * Decides whether a submission earns the payment. It returns a verdict for every bad proof and
 * throws only when it cannot decide (the native verifier missing): the escrow then answers 503
 * and changes nothing, so its own fault never slashes an honest provider.
 */
export type ProofCheck = (
  expect: ProofExpectation,
  submission: ProofSubmission,
) => Promise<ProofVerdict>;

const invalid = (code: string, reason: string): ProofVerdict => ({ valid: false, code, reason });

/**
 * The default check: the ZKVerifier (program registry, min-program-version, job request hash,
 * plan hash, data root) over the decoded envelope, with the output hash computed here from the
 * delivered output when there is one. The lead may pass `verifyJobResult`-based checks instead.
 */
export function zkProofCheck(options: { registryPath?: string } = {}): ProofCheck {
  return async (expect, submission) => {
    let envelope: ProofEnvelope;
    try {
      envelope = decodeEnvelope(submission.envelope);
    } catch (error) {
      if (!isM2mError(error)) throw error;
      return invalid(error.code, error.message);
    }
    let outputHash = expect.outputHash;
    if (submission.output !== undefined) {
      try {
        const planText = envelope.publicInputs.plan;
        if (planText === undefined) return invalid('PLAN_MISSING', 'the envelope carries no plan');
        const validated = assertValidPlan(planText);
        if (expect.planHash !== undefined && validated.planHash !== expect.planHash)
          return invalid('PLAN_HASH_MISMATCH', `the proof is for plan ${validated.planHash}`);
        if (!Array.isArray(submission.output))
          return invalid('OUTPUT_MALFORMED', 'the output is not an array of records');
        const computed = planOutputHashPoseidon(
          validated.plan,
          validated.planHash,
          submission.output as CanonicalRecord[],
        );
        if (outputHash !== undefined && computed !== outputHash)
          return invalid('OUTPUT_HASH_MISMATCH', `the delivered output hashes to ${computed}`);
        outputHash = computed;
      } catch (error) {
        if (!isM2mError(error)) throw error;
        return invalid('OUTPUT_MALFORMED', `${error.code}: ${error.message}`);
      }
    }
    const registry = new ProgramRegistry(
      options.registryPath === undefined ? {} : { path: options.registryPath },
    );
    try {
      const verifier = new ZKVerifier(
        registry,
        expect.minProgramVersion === undefined
          ? {}
          : { minProgramVersion: expect.minProgramVersion },
      );
      const verdict = await verifier.verify(envelope, {
        kind: 'plan',
        jobRequestHash: expect.jobRequestHash,
        ...(expect.planHash === undefined ? {} : { planHash: expect.planHash }),
        ...(expect.dataRoot === undefined ? {} : { dataRoot: expect.dataRoot }),
        ...(outputHash === undefined ? {} : { outputHash }),
      });
      return verdict.valid
        ? { valid: true }
        : invalid(verdict.code ?? 'PROOF_INVALID', verdict.reason ?? 'proof rejected');
    } finally {
      registry.close();
    }
  };
}
