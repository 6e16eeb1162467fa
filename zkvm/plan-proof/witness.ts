import { M2mError } from '../errors.js';
import { type InputData, loadInput } from '../exec/data.js';
import { compareValues, type Rec, type Value } from '../exec/values.js';
import { compareNum } from '../numeric/decimal.js';
import type { AggregateStep, DataInputStep, ExecutionPlan, OutputConfig } from '../plan/schema.js';
import { stepInputs } from '../plan/schema.js';
import { BLOB_KEY_BASE, type CompiledPlan, OUTPUT_KEY } from './compile.js';
import { encodeRecords, type Felt } from './encode.js';
import { sortedEntries } from './layout.js';

/**
 * The prover's private inputs to a compiled plan: the data blobs and the hints, as advice-map
 * entries. Hints come from the reference executor's records of each step, so the VM checks the
 * very run whose output the provider reports.
 */
export interface AdviceEntry {
  key: Felt;
  values: Felt[];
}

export interface PlanWitness {
  advice: AdviceEntry[];
  /** Blob per data-input step, in plan order (their digests make the data root). */
  blobs: Felt[][];
  /** The output records after ordering and limit, typed (what the output hash covers). */
  output: Rec[];
}

/** Step id -> records, as the reference executor produced them (see ExecuteOptions.onRecords). */
export type StepRecords = ReadonlyMap<string, readonly Rec[]>;

export function buildWitness(
  plan: ExecutionPlan,
  compiled: CompiledPlan,
  data: InputData,
  records: StepRecords,
): PlanWitness {
  const advice: AdviceEntry[] = [];
  const blobs = compiled.dataInputs.map((id, j) => {
    const step = plan.steps.find((s) => s.id === id) as DataInputStep;
    if (data[id] === undefined)
      throw new M2mError(
        'EXEC_MISSING_INPUT',
        `no data for data-input step "${id}": a plan proof commits to every input`,
        { stepId: id },
      );
    const typed = records.get(id) ?? loadInput(step, data[id]);
    const blob = encodeRecords(typed, compiled.inputTypes.get(id) as never);
    advice.push({ key: BigInt(BLOB_KEY_BASE + j), values: blob });
    return blob;
  });
  for (const [id, key] of compiled.aggregateKeys) {
    const step = plan.steps.find((s) => s.id === id) as AggregateStep;
    const inputs = stepInputs(step).map((i) => records.get(i));
    if (inputs.some((r) => r === undefined)) continue; // not executed (a branch arm not taken)
    advice.push({ key: BigInt(key), values: aggregateHints(step, inputs.flat() as Rec[]) });
  }
  for (const [id, key] of compiled.parseKeys) {
    const parsed = records.get(id);
    if (parsed !== undefined) advice.push({ key: BigInt(key), values: [BigInt(parsed.length)] });
  }
  const produced = records.get(plan.output.step);
  if (produced === undefined)
    throw new M2mError('PLAN_PROOF_WITNESS', `the output step "${plan.output.step}" did not run`);
  const order = outputOrder(produced, plan.output);
  if (plan.output.sortBy !== undefined && plan.output.sortBy.length > 0) {
    const positions: Felt[] = new Array(produced.length);
    order.forEach((recordIndex, position) => {
      positions[recordIndex] = BigInt(position);
    });
    advice.push({ key: BigInt(OUTPUT_KEY), values: positions });
  }
  const limited = order.slice(0, plan.output.limit ?? order.length);
  return { advice, blobs, output: limited.map((i) => produced[i] as Rec) };
}

/** Hints of one aggregate: see the aggregate code in compile.ts for the order they are read. */
function aggregateHints(step: AggregateStep, input: Rec[]): Felt[] {
  const groupBy = step.groupBy ?? [];
  const medians = sortedEntries(step.aggregations)
    .map(([, a]) => a)
    .filter((a) => a.fn === 'median');
  const keyOf = (r: Rec) => groupBy.map((f) => r[f] as Value);
  const compareKeys = (a: Value[], b: Value[]) => {
    for (let i = 0; i < a.length; i++) {
      const c = compareValues(a[i] as Value, b[i] as Value);
      if (c !== 0) return c;
    }
    return 0;
  };
  // Distinct keys in sorted order; group g of a record by binary search.
  const keys = input.map(keyOf).sort(compareKeys);
  const distinct: Value[][] = [];
  for (const k of keys) {
    const last = distinct[distinct.length - 1];
    if (last === undefined || compareKeys(last, k) !== 0) distinct.push(k);
  }
  const groupOf = (r: Rec): number => {
    const k = keyOf(r);
    let lo = 0;
    let hi = distinct.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareKeys(distinct[mid] as Value[], k) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const groups = groupBy.length === 0 ? input.map(() => 0) : input.map(groupOf);
  const groupCount = groupBy.length === 0 ? 1 : distinct.length;
  const members: number[][] = Array.from({ length: groupCount }, () => []);
  groups.forEach((g, i) => {
    (members[g] as number[]).push(i);
  });
  const ranks = medians.map((agg) => {
    const rank = new Array<number>(input.length);
    for (const list of members) {
      const sorted = list
        .slice()
        .sort((a, b) =>
          compareNum(
            (input[a] as Rec)[agg.field as string] as bigint,
            (input[b] as Rec)[agg.field as string] as bigint,
          ),
        );
      sorted.forEach((recordIndex, position) => {
        rank[recordIndex] = position;
      });
    }
    return rank;
  });
  const hints: Felt[] = [];
  if (groupBy.length > 0) hints.push(BigInt(groupCount));
  for (const list of members) for (const _ of medians) hints.push(BigInt(list.length));
  groups.forEach((g, i) => {
    if (groupBy.length > 0) hints.push(BigInt(g));
    for (const rank of ranks) hints.push(BigInt(rank[i] as number));
  });
  return hints;
}

/** Record indices in output order: the reference's stable sort by `sortBy`. */
function outputOrder(records: readonly Rec[], output: OutputConfig): number[] {
  const order = records.map((_, i) => i);
  const sortBy = output.sortBy ?? [];
  if (sortBy.length === 0) return order;
  return order.sort((ia, ib) => {
    const a = records[ia] as Rec;
    const b = records[ib] as Rec;
    for (const key of sortBy) {
      const c = compareValues(a[key.field] as Value, b[key.field] as Value);
      if (c !== 0) return key.direction === 'desc' ? -c : c;
    }
    return ia - ib;
  });
}
