import {
  type CompliancePublicInputs,
  POLICIES,
  type PolicyId,
  proveCompliance,
} from '../compliance/compliance.js';
import { M2mError } from '../errors.js';
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

/**
 * Selects a backend for a compliance statement. `any` takes the first usable backend; a named
 * backend that cannot run here fails with PROVER_BACKEND_UNAVAILABLE and the reason.
 * Plan-execution provers are not built yet.
 */
export async function createComplianceProver(
  policy: PolicyId,
  backend: Backend | 'any' = 'any',
  config: ProverConfig = {},
): Promise<ComplianceProver> {
  if (backend !== 'any' && backend !== 'miden') {
    const status = (await diagnoseBackends()).find((s) => s.backend === backend);
    throw new M2mError(
      'PROVER_BACKEND_UNAVAILABLE',
      `backend ${backend} cannot prove here: ${status?.detail ?? 'unknown backend'}`,
    );
  }
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
