import { canonicalJson, type Sha256Digest } from '../commitment/digest.js';
import { isM2mError, M2mError } from '../errors.js';
import { buildExecutionDAG, type ExecutionDAG, reachableFrom } from '../plan/dag.js';
import type { ExecutionPlan, ExecutionStep } from '../plan/schema.js';
import { COST, sortComparisons } from './costs.js';
import { type InputData, loadInput, planDataRoot, recordsRoot } from './data.js';
import { type CompileContext, type Compiled, compileExpr } from './expr.js';
import { Meter } from './meter.js';
import { assignAll, runAggregate, runFilter, runLoop, runTransform } from './steps.js';
import {
  type CanonicalRecord,
  compareValues,
  type Rec,
  sizeOfRecord,
  toCanonical,
  type Value,
} from './values.js';

/** A plan that passed validation (see assertValidPlan). */
export interface ValidatedPlan {
  plan: ExecutionPlan;
  planHash: string;
}

export interface ExecutionResult {
  planHash: string;
  /** Merkle root over the plan's data-input commitments (see planDataRoot). */
  dataRoot: Sha256Digest;
  output: CanonicalRecord[];
  /** Merkle root over the output records' canonical JSON. */
  outputHash: Sha256Digest;
  cyclesUsed: number;
  peakMemoryBytes: number;
  outputBytes: number;
  /** Steps that actually ran, in the order they ran. */
  executedSteps: string[];
}

export interface ExecuteOptions {
  /** Called after each step with the running cycle count (CLI progress). */
  onStep?: (stepId: string, cyclesSoFar: number) => void;
  /** Called with each step's records as it finishes (the plan prover builds its hints). */
  onRecords?: (stepId: string, records: readonly Rec[]) => void;
}

/**
 * Runs a validated plan over input data. Deterministic: the same plan and data give the same
 * output, hash, cycles and peak memory on every run and every machine.
 * Evaluation is demand driven from the output step; a branch runs only its chosen arm.
 */
export function executePlan(
  validated: ValidatedPlan,
  data: InputData,
  options: ExecuteOptions = {},
): ExecutionResult {
  const { plan } = validated;
  const dag = buildExecutionDAG(plan);
  const meter = new Meter(plan.limits);
  const results = new Map<string, Rec[]>();
  const sizes = new Map<string, number>();
  const live = reachableFrom(dag, plan.output.step);
  const pendingConsumers = new Map(
    dag.ids.map((id) => [id, (dag.dependents.get(id) ?? []).filter((d) => live.has(d)).length]),
  );
  const executed: string[] = [];

  const ctx: CompileContext = {
    meter,
    resolveRef: (step, field) => ((results.get(step) as Rec[])[0] as Rec)[field] as Value,
  };

  const run = (id: string): Rec[] => {
    const done = results.get(id);
    if (done !== undefined) return done;
    const step = dag.steps.get(id) as ExecutionStep;
    for (const dep of dependenciesToRun(step, dag, run, ctx, meter)) run(dep);
    meter.stepId = id;
    let records: Rec[];
    try {
      records = runStep(step, results, data, ctx, meter);
    } catch (error) {
      throw annotate(error, id);
    }
    const size = records.reduce((n, r) => n + sizeOfRecord(r), 0);
    meter.allocate(size);
    results.set(id, records);
    sizes.set(id, size);
    executed.push(id);
    for (const from of new Set((dag.dependencies.get(id) ?? []).map((d) => d.from))) {
      const left = (pendingConsumers.get(from) ?? 0) - 1;
      pendingConsumers.set(from, left);
      if (left === 0 && from !== plan.output.step) meter.release(sizes.get(from) ?? 0);
    }
    options.onStep?.(id, meter.cycles);
    options.onRecords?.(id, records);
    return records;
  };

  meter.stepId = plan.output.step;
  let records = run(plan.output.step);
  meter.stepId = 'output';
  records = shapeOutput(records, plan, meter);
  const output = records.map(toCanonical);
  const outputBytes = Buffer.byteLength(canonicalJson(output), 'utf8');
  if (outputBytes > plan.limits.maxOutputBytes) {
    throw new M2mError(
      'EXEC_LIMIT_OUTPUT',
      `output is ${outputBytes} bytes, over limits.maxOutputBytes = ${plan.limits.maxOutputBytes}`,
      { stepId: plan.output.step, details: { outputBytes } },
    );
  }
  const outputHash = recordsRoot(output, meter);
  return {
    planHash: validated.planHash,
    dataRoot: planDataRoot(plan),
    output,
    outputHash,
    cyclesUsed: meter.cycles,
    peakMemoryBytes: meter.peakBytes,
    outputBytes,
    executedSteps: executed,
  };
}

/** Which steps must run before this one. For a branch, evaluates the condition to pick one arm. */
function dependenciesToRun(
  step: ExecutionStep,
  dag: ExecutionDAG,
  run: (id: string) => Rec[],
  ctx: CompileContext,
  meter: Meter,
): string[] {
  const deps = [...new Set((dag.dependencies.get(step.id) ?? []).map((d) => d.from))];
  if (step.type !== 'branch') return deps;
  const refs = (dag.dependencies.get(step.id) ?? [])
    .filter((d) => d.kind === 'ref')
    .map((d) => d.from);
  for (const ref of refs) run(ref);
  meter.stepId = step.id;
  meter.charge(COST.branch);
  let chosen: boolean;
  try {
    chosen = compileExpr(step.condition, ctx)(undefined) === true;
  } catch (error) {
    throw annotate(error, step.id);
  }
  branchChoice.set(step, chosen);
  return [chosen ? step.then : step.else];
}

const branchChoice = new WeakMap<ExecutionStep, boolean>();

function runStep(
  step: ExecutionStep,
  results: Map<string, Rec[]>,
  data: InputData,
  ctx: CompileContext,
  meter: Meter,
): Rec[] {
  const inputRecords = (): Rec[] => {
    const ids =
      typeof (step as { input: string | string[] }).input === 'string'
        ? [(step as { input: string }).input]
        : (step as { input: string[] }).input;
    return ids.length === 1
      ? (results.get(ids[0] as string) as Rec[])
      : ids.flatMap((id) => results.get(id) as Rec[]);
  };
  const compileAssign = (
    assign: Record<string, import('../plan/schema.js').Expr>,
  ): [string, Compiled][] =>
    Object.entries(assign).map(([name, expr]) => [name, compileExpr(expr, ctx)]);
  switch (step.type) {
    case 'data-input':
      return loadInput(step, data[step.id], meter);
    case 'filter':
      return runFilter(inputRecords(), compileExpr(step.predicate, ctx), meter);
    case 'transform':
      return runTransform(
        inputRecords(),
        step.operation,
        step.operation.op === 'map' ? compileAssign(step.operation.assign) : [],
        meter,
        step.id,
      );
    case 'aggregate':
      return runAggregate(inputRecords(), step, meter);
    case 'compute':
      return [assignAll(undefined, compileAssign(step.assign), meter)];
    case 'loop':
      return runLoop(
        inputRecords(),
        step,
        compileExpr(step.while, ctx),
        compileAssign(step.body),
        meter,
      );
    case 'branch':
      return results.get(branchChoice.get(step) ? step.then : step.else) as Rec[];
  }
}

function shapeOutput(records: Rec[], plan: ExecutionPlan, meter: Meter): Rec[] {
  const { sortBy, limit } = plan.output;
  let out = records;
  if (sortBy !== undefined && sortBy.length > 0) {
    meter.charge(COST.sortCompare * sortComparisons(out.length));
    out = out.slice().sort((a, b) => {
      for (const key of sortBy) {
        const c = compareValues(a[key.field] as Value, b[key.field] as Value);
        if (c !== 0) return key.direction === 'desc' ? -c : c;
      }
      return 0;
    });
  }
  if (limit !== undefined) out = out.slice(0, limit);
  meter.charge(COST.record * out.length);
  return out;
}

/** Adds the step id to errors from numeric code that does not know it. */
function annotate(error: unknown, stepId: string): unknown {
  if (!isM2mError(error)) return error;
  if (error.stepId !== undefined) return error;
  return new M2mError(error.code, `step "${stepId}": ${error.message}`, {
    stepId,
    details: error.details,
    cause: error,
  });
}
