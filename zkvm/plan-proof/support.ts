import { M2mError } from '../errors.js';
import type { ExecutionPlan } from '../plan/schema.js';

/**
 * What the Miden plan compiler cannot prove yet, by construct: `parse` of CSV and `serialize` to
 * JSON (m2m::plan::text has the JSON reader and the CSV writer, not the other two).
 */
const PROVABLE_FORMATS = { parse: 'json', serialize: 'csv' } as const;

export interface UnsupportedUse {
  stepId: string;
  operation: string;
}

/** Every use of an operation the Miden backend does not prove, in step order. */
export function unsupportedOperations(plan: ExecutionPlan): UnsupportedUse[] {
  const found: UnsupportedUse[] = [];
  for (const step of plan.steps) {
    if (step.type === 'transform') {
      const op = step.operation;
      if ((op.op === 'parse' || op.op === 'serialize') && PROVABLE_FORMATS[op.op] !== op.format)
        found.push({ stepId: step.id, operation: `transform ${op.op} (format ${op.format})` });
    }
  }
  return found;
}

/** Refuses a plan the backend cannot prove, naming every unsupported operation. */
export function assertProvable(plan: ExecutionPlan): void {
  const found = unsupportedOperations(plan);
  if (found.length === 0) return;
  const list = found.map((u) => `step "${u.stepId}": ${u.operation}`).join('; ');
  throw new M2mError(
    'BACKEND_UNSUPPORTED_OPERATION',
    `the miden backend cannot prove this plan: ${list}. Run it without a proof (m2m plan run) or rewrite those steps.`,
    { details: { unsupported: found } },
  );
}
