import { canonicalJson } from '../commitment/digest.js';
import { M2mError } from '../errors.js';
import type { InputData } from '../exec/data.js';
import { type ExecutionResult, executePlan } from '../exec/executor.js';
import type { Rec } from '../exec/values.js';
import type { ExecutionPlan } from '../plan/schema.js';
import { createEnvelope, type ProofEnvelope } from '../proof/envelope.js';
import { callNativeProver, type NativeCallOptions } from '../prover/native-process.js';
import { compilePlan } from './compile.js';
import { digestToHex, encodeRecords, POSEIDON2_PREFIX, sha256Felts } from './encode.js';
import { blobDigests, hashFelts, planProgramId } from './native.js';
import { type AdviceEntry, buildWitness } from './witness.js';

/** Public statement of a plan proof (what the envelope's publicInputs/publicOutputs carry). */
/** The prover refuses programs longer than this (2^24 VM cycles, minutes of proving). */
export const MAX_PLAN_CYCLES = 1 << 24;

export interface PlanStatement {
  jobRequestHash: string;
  planHash: string;
  /** poseidon2:<hex> over the data-input blob digests (see encode.ts). */
  dataRoot: string;
  /** poseidon2:<hex> of the output records' blob. */
  outputHash: string;
  /** MAST root of the compiled program (poseidon2:<hex>). */
  programHash: string;
}

export interface PlanProof {
  envelope: ProofEnvelope;
  statement: PlanStatement;
  /** The reference executor's run of the same plan and data (output, cycles, memory). */
  execution: ExecutionResult;
  /** VM figures: main trace cycles, padded trace length, rows of each trace part. */
  vmCycles: number;
  traceLength: number;
  traceRows: TraceRows;
}

/**
 * Unpadded rows of each trace part. The chiplets share one segment: the padded trace length is
 * the next power of two of max(main, range, hash + bitwise + memory + 1).
 */
export interface TraceRows {
  main: number;
  range: number;
  hash: number;
  bitwise: number;
  memory: number;
}

export interface PlanProveResponse {
  programHash: string;
  stackOutputs: string[];
  proof: string;
  cycles: number;
  traceLength: number;
  traceRows: TraceRows;
  peakMemoryBytes?: number;
  provingTimeMs: number;
  securityBits: number;
}

/** Stack inputs of a plan program: the plan hash (8 u32 felts), then the data root (4 felts). */
export function planStackInputs(planHash: string, dataRootFelts: readonly bigint[]): string[] {
  return [...sha256Felts(planHash), ...dataRootFelts].map(String);
}

/** Everything a plan proof needs before the prover runs: program, reference run, witness. */
export function preparePlanProof(
  validated: { plan: ExecutionPlan; planHash: string },
  data: InputData,
) {
  const { plan, planHash } = validated;
  const compiled = compilePlan(plan, planHash);
  const records = new Map<string, readonly Rec[]>();
  const execution = executePlan(validated, data, {
    onRecords: (id, recs) => records.set(id, recs),
  });
  const witness = buildWitness(plan, compiled, data, records);
  const dataRoot = hashFelts(blobDigests(witness.blobs));
  const expectedOutput = hashFelts(encodeRecords(witness.output, compiled.outputTypes));
  const stackInputs = planStackInputs(planHash, dataRoot);
  return { compiled, execution, witness, dataRoot, expectedOutput, stackInputs };
}

/**
 * Proves a validated plan over its input data on the Miden backend: runs the reference executor
 * (which enforces the plan's limits and gives the hints), compiles the plan, and proves the
 * compiled program in the m2m-prover child process (killed at `timeoutMs`, held to
 * `maxMemoryMb`). The VM's output hash must equal the hash of the reference output, so the proof
 * can only ever attest the result the reference executor computed.
 */
export async function provePlan(
  validated: { plan: ExecutionPlan; planHash: string },
  data: InputData,
  options: NativeCallOptions = {},
): Promise<PlanProof> {
  const { plan, planHash } = validated;
  const { compiled, execution, witness, dataRoot, expectedOutput, stackInputs } = preparePlanProof(
    validated,
    data,
  );
  const response = await proveProgram(compiled.masm, stackInputs, witness.advice, options);
  const outputFelts = response.stackOutputs.slice(0, 4).map(BigInt);
  if (outputFelts.some((f, i) => f !== expectedOutput[i])) {
    throw new M2mError(
      'PLAN_PROOF_MISMATCH',
      'the proven output differs from the reference executor output; this is a bug in the plan compiler',
    );
  }
  const statement: PlanStatement = {
    jobRequestHash: plan.jobRequestHash,
    planHash,
    dataRoot: POSEIDON2_PREFIX + digestToHex(dataRoot),
    outputHash: POSEIDON2_PREFIX + digestToHex(expectedOutput),
    programHash: POSEIDON2_PREFIX + response.programHash.replace(/^poseidon2:/, ''),
  };
  const envelope = createEnvelope({
    kind: 'plan',
    backend: 'miden',
    programId: planProgramId(),
    publicInputs: {
      jobRequestHash: statement.jobRequestHash,
      planHash: statement.planHash,
      dataRoot: statement.dataRoot,
      programHash: statement.programHash,
      plan: canonicalJson(plan),
    },
    publicOutputs: { outputHash: statement.outputHash },
    metadata: {
      provingTimeMs: Math.round(response.provingTimeMs),
      cyclesUsed: response.cycles,
      memoryUsed: response.peakMemoryBytes ?? 0,
      securityBits: response.securityBits,
    },
    proof: new Uint8Array(Buffer.from(response.proof, 'hex')),
  });
  return {
    envelope,
    statement,
    execution,
    vmCycles: response.cycles,
    traceLength: response.traceLength,
    traceRows: response.traceRows,
  };
}

/** Proves one compiled plan program with the given public stack inputs and advice. */
export const proveProgram = (
  masm: string,
  stackInputs: readonly string[],
  advice: readonly AdviceEntry[],
  options: NativeCallOptions = {},
): Promise<PlanProveResponse> => callProgram('plan-prove', masm, stackInputs, advice, options);

export interface PlanRunResponse {
  programHash: string;
  stackOutputs: string[];
  cycles: number;
  traceLength: number;
  traceRows: TraceRows;
}

/** Executes a compiled plan program without proving (cycle counts, hint checks in tests). */
export const runProgram = (
  masm: string,
  stackInputs: readonly string[],
  advice: readonly AdviceEntry[],
  options: NativeCallOptions = {},
): Promise<PlanRunResponse> => callProgram('plan-run', masm, stackInputs, advice, options);

async function callProgram<T>(
  command: 'plan-run' | 'plan-prove',
  masm: string,
  stackInputs: readonly string[],
  advice: readonly AdviceEntry[],
  options: NativeCallOptions,
): Promise<T> {
  const request = {
    masm,
    stackInputs,
    adviceMap: advice.map((e) => ({
      key: [e.key, e.key, e.key, e.key].map(String),
      values: e.values.map(String),
    })),
    maxCycles: MAX_PLAN_CYCLES,
  };
  return (await callNativeProver<T>(command, request, options)).response;
}
