import {
  type CompliancePublicInputs,
  POLICIES,
  type PolicyId,
  proveCompliance,
} from '../compliance/compliance.js';
import { M2mError } from '../errors.js';
import type { InputData } from '../exec/data.js';
import type { ExecutionPlan } from '../plan/schema.js';
import { planProgramId } from '../plan-proof/native.js';
import { provePlan } from '../plan-proof/prove.js';
import type { Backend, ProofEnvelope } from '../proof/envelope.js';
import { diagnoseBackends } from './doctor.js';
import { callNativeProver, type NativeCallOptions } from './native-process.js';

/** Resource figures of one proving run (seed story 25.4). */
export interface ProvingMetadata {
  provingTimeMs: number;
  cyclesUsed: number;
  memoryUsed: number;
}

export interface ProveOutput {
  proof: ProofEnvelope;
  publicOutputs: Record<string, string>;
  metadata: ProvingMetadata;
}

/** A prover for one statement on one backend. */
export interface Prover<PublicInputs, PrivateInputs> {
  readonly backend: Backend;
  /** The program the proofs are for (its registry id). */
  readonly programId: string;
  prove(publicInputs: PublicInputs, privateInputs: PrivateInputs): Promise<ProveOutput>;
}

/** Proving limits: the prover process is killed at the deadline and held to the memory cap. */
export interface ProverConfig {
  timeoutMs?: number;
  maxMemoryMb?: number;
  binary?: string;
}

export type ComplianceProver = Prover<CompliancePublicInputs, { amount: string | bigint }>;

/** Backend check shared by the factories: `any` and `miden` run here; others say why not. */
async function assertBackendHere(backend: Backend | 'any'): Promise<void> {
  if (backend === 'any' || backend === 'miden') return;
  const status = (await diagnoseBackends()).find((s) => s.backend === backend);
  throw new M2mError(
    'PROVER_BACKEND_UNAVAILABLE',
    `backend ${backend} cannot prove here: ${status?.detail ?? 'unknown backend'}`,
  );
}

export type PlanProver = Prover<{ plan: ExecutionPlan; planHash: string }, { data: InputData }>;

/**
 * Selects a backend for plan-execution proofs. The program id is the registry id of the plan
 * compiler and its runtime; each proof also carries the MAST root of the plan's own program.
 */
export async function createPlanProver(
  backend: Backend | 'any' = 'any',
  config: ProverConfig = {},
): Promise<PlanProver> {
  await assertBackendHere(backend);
  const options: NativeCallOptions = { ...config };
  return {
    backend: 'miden',
    programId: planProgramId(),
    async prove(validated, { data }) {
      const { envelope } = await provePlan(validated, data, options);
      return {
        proof: envelope,
        publicOutputs: envelope.publicOutputs,
        metadata: envelope.metadata,
      };
    },
  };
}

/**
 * Selects a backend for a compliance statement. `any` takes the first usable backend; a named
 * backend that cannot run here fails with PROVER_BACKEND_UNAVAILABLE and the reason.
 */
export async function createComplianceProver(
  policy: PolicyId,
  backend: Backend | 'any' = 'any',
  config: ProverConfig = {},
): Promise<ComplianceProver> {
  await assertBackendHere(backend);
  const options: NativeCallOptions = { ...config };
  const { response } = await callNativeProver<{ programs: Record<string, { programId: string }> }>(
    'info',
    {},
    { ...options, timeoutMs: 10_000 },
  );
  const programId = response.programs[policy]?.programId;
  if (programId === undefined)
    throw new M2mError(
      'PROVER_BACKEND_UNAVAILABLE',
      `the native prover has no program for ${policy}`,
    );
  return {
    backend: 'miden',
    programId,
    async prove(publicInputs, { amount }) {
      if (publicInputs.policyId !== policy) {
        throw new M2mError(
          'STARK_INVALID_PUBLIC_INPUTS',
          `this prover proves ${policy} (${POLICIES[policy].relation}); the inputs name ${publicInputs.policyId}`,
        );
      }
      const { envelope } = await proveCompliance(publicInputs, amount, options);
      return {
        proof: envelope,
        publicOutputs: envelope.publicOutputs,
        metadata: envelope.metadata,
      };
    },
  };
}
