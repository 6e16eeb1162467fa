import { coerceInput } from '../../zkvm/exec/data.js';
import { type ExecutionResult, executePlan } from '../../zkvm/exec/executor.js';
import type {
  DataInputStep,
  ExecutionPlan,
  ExecutionStep,
  FieldType,
} from '../../zkvm/plan/schema.js';
import { assertValidPlan } from '../../zkvm/plan/validate.js';

export const JOB = `sha256:${'ab'.repeat(32)}`;

/** A data-input step committed to `records`. */
export function input(
  id: string,
  fields: Record<string, FieldType>,
  records: unknown[],
): { step: DataInputStep; records: unknown[] } {
  const step: DataInputStep = {
    type: 'data-input',
    id,
    dataCommitment: `sha256:${'00'.repeat(32)}`,
    schema: { fields },
    source: { type: 'parameter' },
  };
  step.dataCommitment = coerceInput(step, records).root;
  return { step, records };
}

export function plan(
  steps: unknown[],
  output: string | Record<string, unknown>,
  limits: Partial<ExecutionPlan['limits']> = {},
): ExecutionPlan {
  return {
    version: '1.0',
    id: 'test',
    jobRequestHash: JOB,
    steps: steps as ExecutionStep[],
    output: (typeof output === 'string' ? { step: output } : output) as ExecutionPlan['output'],
    limits: {
      maxCycles: 10_000_000,
      maxMemoryBytes: 64 * 1024 * 1024,
      maxOutputBytes: 1024 * 1024,
      ...limits,
    },
  };
}

/** Validates and runs; inputs supply both the data-input steps and their records. */
export function run(
  inputs: { step: DataInputStep; records: unknown[] }[],
  steps: unknown[],
  output: string | Record<string, unknown>,
  limits?: Partial<ExecutionPlan['limits']>,
): ExecutionResult {
  const p = plan([...inputs.map((i) => i.step), ...steps], output, limits);
  const data = Object.fromEntries(inputs.map((i) => [i.step.id, i.records]));
  return executePlan(assertValidPlan(p), data);
}

export const f = (name: string) => ({ op: 'field', name });
export const lit = (value: number | string | boolean) => ({ op: 'lit', value });
export const ref = (step: string, field: string) => ({ op: 'ref', step, field });
export const op = (name: string, ...args: unknown[]) => ({ op: name, args });
