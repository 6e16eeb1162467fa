import semver from 'semver';
import { isM2mError } from '../../zkvm/errors.js';
import type { InputData } from '../../zkvm/exec/data.js';
import { type ExecutionResult, executePlan } from '../../zkvm/exec/executor.js';
import type { ExecutionPlan } from '../../zkvm/plan/schema.js';
import { assertValidPlan } from '../../zkvm/plan/validate.js';
import { PLAN_COMPILER_VERSION } from '../../zkvm/plan-proof/native.js';
import { preparePlanProof, runProgram } from '../../zkvm/plan-proof/prove.js';
import { unsupportedOperations } from '../../zkvm/plan-proof/support.js';
import type { Backend } from '../../zkvm/proof/envelope.js';
import { type JobRequest, jobBodyOf, requirementsOf } from '../dvm/request.js';
import { jobDataOf, planTextOf } from '../market/data-input.js';
import type { ProviderConfig } from './config.js';
import {
  boundFromReference,
  describeEstimate,
  fromTraceLength,
  type ProvingEstimate,
} from './estimate.js';

/** Why a request is refused; the code starts the 7000 `error` reason (`CODE: why`). */
export const REFUSAL = {
  badRequest: 'PROVIDER_BAD_REQUEST',
  backend: 'PROVIDER_BACKEND_UNAVAILABLE',
  version: 'PROVIDER_VERSION_UNAVAILABLE',
  bid: 'PROVIDER_BID_TOO_LOW',
  plan: 'PROVIDER_PLAN_INVALID',
  unsupported: 'PROVIDER_PLAN_UNSUPPORTED',
  data: 'PROVIDER_DATA_INVALID',
  deadline: 'PROVIDER_TIME_TOO_SHORT',
  overLimit: 'PROVIDER_TIME_OVER_LIMIT',
  unavailable: 'PROVIDER_UNAVAILABLE',
} as const;

export interface Refusal {
  accept: false;
  code: string;
  reason: string;
}

export interface Acceptance {
  accept: true;
  estimate: ProvingEstimate;
  /** The prover is stopped after this long: the request's max-proving-time, capped by ours. */
  timeoutSec: number;
}

export type Decision = Acceptance | Refusal;

/** The plan and data of an accepted job, checked. */
export interface LoadedJob {
  validated: { plan: ExecutionPlan; planHash: string };
  data: InputData;
}

const refuse = (code: string, reason: string): Refusal => ({ accept: false, code, reason });

const because = (error: unknown): string =>
  isM2mError(error) ? `${error.code}: ${error.message}` : String(error);

/**
 * Decrypts (when private), reads and validates a request's plan and data, or says why not. The
 * same checks run before accepting and again before proving (after a restart too).
 */
export function loadJob(request: JobRequest, config: ProviderConfig): LoadedJob | Refusal {
  let body: ReturnType<typeof jobBodyOf>;
  let planText: string;
  try {
    body = jobBodyOf(request, config.secretKey);
    planText = planTextOf(body);
  } catch (error) {
    if (!isM2mError(error)) throw error;
    return refuse(REFUSAL.badRequest, because(error));
  }
  let validated: LoadedJob['validated'];
  try {
    validated = assertValidPlan(planText, {
      file: 'plan',
      bounds: { maxCycles: config.maxPlanCycles },
    });
  } catch (error) {
    if (!isM2mError(error)) throw error;
    return refuse(REFUSAL.plan, because(error));
  }
  if (body.plan.planHash !== undefined && body.plan.planHash !== validated.planHash)
    return refuse(
      REFUSAL.plan,
      `the plan hashes to ${validated.planHash}, but the request's plan-hash param says ${body.plan.planHash}`,
    );
  const unsupported = unsupportedOperations(validated.plan);
  if (unsupported.length > 0)
    return refuse(
      REFUSAL.unsupported,
      `the miden backend cannot prove ${unsupported.map((u) => `step "${u.stepId}": ${u.operation}`).join('; ')}`,
    );
  try {
    return { validated, data: jobDataOf(body, validated.plan) };
  } catch (error) {
    if (!isM2mError(error)) throw error;
    return refuse(REFUSAL.data, because(error));
  }
}

/**
 * Accept or refuse: backend, program version and bid from the clear tags first, then the plan
 * and data (validated, run once by the reference executor), then the proving-time estimate
 * against the request's max-proving-time and this provider's own limit (see estimate.ts).
 */
export async function decide(
  request: JobRequest,
  config: ProviderConfig,
  usableBackends: readonly Backend[],
): Promise<Decision> {
  const req = requirementsOf(request);
  // Plan proofs exist on miden only; `any` is served when miden is.
  const wanted: Backend = req.backend === 'any' ? 'miden' : req.backend;
  if (!usableBackends.includes(wanted) || wanted !== 'miden')
    return refuse(
      REFUSAL.backend,
      `this provider proves plans with ${usableBackends.filter((b) => b === 'miden').join(', ') || 'no backend'}; the request asks for ${req.backend}`,
    );
  if (
    req.minProgramVersion !== undefined &&
    semver.gt(req.minProgramVersion, PLAN_COMPILER_VERSION)
  )
    return refuse(
      REFUSAL.version,
      `min-program-version ${req.minProgramVersion} is above this provider's plan compiler ${PLAN_COMPILER_VERSION}`,
    );
  if (req.bidMsats < config.priceMsats)
    return refuse(
      REFUSAL.bid,
      `bid ${req.bidMsats} msats is below this provider's price of ${config.priceMsats} msats per job`,
    );
  const loaded = loadJob(request, config);
  if ('accept' in loaded) return loaded;
  let execution: ExecutionResult;
  try {
    execution = executePlan(loaded.validated, loaded.data);
  } catch (error) {
    if (!isM2mError(error)) throw error;
    return refuse(REFUSAL.data, `the plan does not run on this data: ${because(error)}`);
  }
  const limit = Math.min(req.maxProvingTimeSec, config.maxProvingTimeSec);
  let estimate = boundFromReference(execution.cyclesUsed, config.estimate);
  if (estimate.seconds > limit && config.estimate.refine) {
    try {
      const prepared = preparePlanProof(loaded.validated, loaded.data);
      const run = await runProgram(
        prepared.compiled.masm,
        prepared.stackInputs,
        prepared.witness.advice,
        { timeoutMs: 60_000 },
      );
      estimate = fromTraceLength(run.traceLength, execution.cyclesUsed, config.estimate);
    } catch (error) {
      if (!isM2mError(error)) throw error;
      return error.code.startsWith('PROVER_')
        ? refuse(REFUSAL.unavailable, `cannot estimate the proving time: ${because(error)}`)
        : refuse(REFUSAL.unsupported, `the plan does not run in the VM: ${because(error)}`);
    }
  }
  if (estimate.seconds > config.maxProvingTimeSec)
    return refuse(
      REFUSAL.overLimit,
      `the proof would take ${describeEstimate(estimate)}; this provider proves for at most ${config.maxProvingTimeSec} s`,
    );
  if (estimate.seconds > req.maxProvingTimeSec)
    return refuse(
      REFUSAL.deadline,
      `max-proving-time ${req.maxProvingTimeSec} s is below the estimated proving time ${describeEstimate(estimate)}`,
    );
  return { accept: true, estimate, timeoutSec: limit };
}
