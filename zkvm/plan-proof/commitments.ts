import { M2mError } from '../errors.js';
import { type InputData, loadInput } from '../exec/data.js';
import type { CanonicalRecord, Rec } from '../exec/values.js';
import { parseDecimal } from '../numeric/decimal.js';
import type { DataInputStep, ExecutionPlan } from '../plan/schema.js';
import { type ValueType, valueTypeOf } from '../plan/typecheck.js';
import { compilePlan } from './compile.js';
import { digestToHex, encodeRecords, POSEIDON2_PREFIX } from './encode.js';
import { blobDigests, hashFelts } from './native.js';

/**
 * The Poseidon2 commitments a plan proof states, computed from data a customer holds: the data
 * root of the inputs and the output hash of the records the provider delivered. Comparing them
 * with the proof's statement ties the proof to that data.
 */
export function planDataRootPoseidon(plan: ExecutionPlan, data: InputData): string {
  const blobs = plan.steps
    .filter((s): s is DataInputStep => s.type === 'data-input')
    .map((step) => {
      if (data[step.id] === undefined)
        throw new M2mError('EXEC_MISSING_INPUT', `no data for data-input step "${step.id}"`, {
          stepId: step.id,
        });
      return encodeRecords(loadInput(step, data[step.id]), inputTypes(step));
    });
  return POSEIDON2_PREFIX + digestToHex(hashFelts(blobDigests(blobs)));
}

/** Output hash of delivered output records (their canonical JSON form, as `plan run` prints). */
export function planOutputHashPoseidon(
  plan: ExecutionPlan,
  planHash: string,
  output: readonly CanonicalRecord[],
): string {
  const types = compilePlan(plan, planHash).outputTypes;
  const typed = output.map((record) => {
    const out: Rec = {};
    for (const [name, type] of types) {
      const value = record[name];
      if (type === 'num') {
        const num = typeof value === 'string' ? parseDecimal(value) : undefined;
        if (num === undefined)
          throw new M2mError('DATA_SCHEMA_MISMATCH', `output field "${name}" is not a number`);
        out[name] = num;
      } else if (value === undefined || typeof value !== (type === 'bool' ? 'boolean' : 'string')) {
        throw new M2mError('DATA_SCHEMA_MISMATCH', `output field "${name}" is not a ${type}`);
      } else out[name] = value;
    }
    return out;
  });
  return POSEIDON2_PREFIX + digestToHex(hashFelts(encodeRecords(typed, types)));
}

const inputTypes = (step: DataInputStep): Map<string, ValueType> =>
  new Map(Object.entries(step.schema.fields).map(([name, t]) => [name, valueTypeOf(t)]));
