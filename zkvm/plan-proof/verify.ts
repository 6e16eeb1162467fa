import { M2mError } from '../errors.js';
import { validatePlan } from '../plan/validate.js';
import type { ProofEnvelope } from '../proof/envelope.js';
import { verifyInProcess } from '../prover/native-addon.js';
import { compilePlan } from './compile.js';
import { hexToDigest } from './encode.js';
import { planStackInputs } from './prove.js';

/** What the verifier already knows about the job; each given field must match the proof. */
export interface PlanExpectation {
  planHash?: string;
  dataRoot?: string;
  outputHash?: string;
}

export interface PlanVerdict {
  valid: boolean;
  code?: string;
  reason?: string;
  outputHash?: string;
  programHash?: string;
  securityBits?: number;
  verifyTimeMs: number;
}

const compiledCache = new Map<string, string>();

function masmFor(planText: string): { masm: string; planHash: string; jobRequestHash: string } {
  const result = validatePlan(planText);
  if (!result.valid || result.plan === undefined) {
    const first = result.errors[0];
    throw new M2mError(
      'PLAN_INVALID',
      `the proof's plan does not validate: ${first?.code}: ${first?.message}`,
    );
  }
  let masm = compiledCache.get(result.planHash);
  if (masm === undefined) {
    masm = compilePlan(result.plan, result.planHash).masm;
    compiledCache.set(result.planHash, masm);
    if (compiledCache.size > 64) compiledCache.delete(compiledCache.keys().next().value as string);
  }
  return { masm, planHash: result.planHash, jobRequestHash: result.plan.jobRequestHash };
}

/**
 * Verifies a plan proof in process: recompiles the plan the envelope carries (after checking it
 * hashes to the stated plan hash), and checks the STARK against the recompiled program's MAST root
 * with the public plan hash, data root and output hash. A rejected proof is a verdict; only a
 * missing or broken native verifier throws (PROVER_*).
 */
export function verifyPlanProof(
  envelope: ProofEnvelope,
  expected: PlanExpectation = {},
): PlanVerdict {
  const started = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - started) / 1e6;
  const reject = (code: string, reason: string): PlanVerdict => ({
    valid: false,
    code,
    reason,
    verifyTimeMs: elapsed(),
  });
  if (envelope.kind !== 'plan')
    return reject('PROOF_KIND_MISMATCH', `expected a plan proof, got a ${envelope.kind} proof`);
  const { plan: planText, planHash, dataRoot, programHash } = envelope.publicInputs;
  const outputHash = envelope.publicOutputs.outputHash;
  if (planText === undefined || planHash === undefined || dataRoot === undefined)
    return reject('PROOF_MALFORMED', 'a plan proof needs publicInputs plan, planHash and dataRoot');
  if (outputHash === undefined)
    return reject('PROOF_MALFORMED', 'a plan proof needs publicOutputs.outputHash');
  for (const [name, want, got] of [
    ['plan hash', expected.planHash, planHash],
    ['data root', expected.dataRoot, dataRoot],
    ['output hash', expected.outputHash, outputHash],
  ] as const) {
    if (want !== undefined && want !== got)
      return reject('STATEMENT_MISMATCH', `proof is for ${name} ${got}, expected ${want}`);
  }
  let compiled: ReturnType<typeof masmFor>;
  let stackInputs: string[];
  let stackOutputs: string[];
  try {
    compiled = masmFor(planText);
    stackInputs = planStackInputs(planHash, hexToDigest(dataRoot));
    stackOutputs = [...hexToDigest(outputHash), ...new Array<bigint>(12).fill(0n)].map(String);
  } catch (error) {
    if (error instanceof M2mError)
      return reject(
        error.code === 'PLAN_INVALID' ? 'PLAN_INVALID' : 'PROOF_MALFORMED',
        error.message,
      );
    throw error;
  }
  if (compiled.planHash !== planHash)
    return reject(
      'PLAN_HASH_MISMATCH',
      `the proof's plan hashes to ${compiled.planHash}, not the stated ${planHash}`,
    );
  if (compiled.jobRequestHash !== envelope.publicInputs.jobRequestHash)
    return reject(
      'JOB_HASH_MISMATCH',
      `the proof's plan is for job ${compiled.jobRequestHash}, the envelope says ${envelope.publicInputs.jobRequestHash}`,
    );
  try {
    const response = verifyInProcess<{ programHash: string; securityBits: number }>('plan-verify', {
      masm: compiled.masm,
      stackInputs,
      stackOutputs,
      proof: Buffer.from(envelope.proof).toString('hex'),
    });
    const recompiled = `poseidon2:${response.programHash.replace(/^poseidon2:/, '')}`;
    if (programHash !== undefined && programHash !== recompiled)
      return reject(
        'PROGRAM_HASH_MISMATCH',
        `the proof states program ${programHash}; the plan compiles to ${recompiled}`,
      );
    return {
      valid: true,
      outputHash,
      programHash: recompiled,
      securityBits: response.securityBits,
      verifyTimeMs: elapsed(),
    };
  } catch (error) {
    if (error instanceof M2mError && !error.code.startsWith('PROVER_'))
      return reject('PROOF_INVALID', `${error.code}: ${error.message}`);
    throw error;
  }
}
