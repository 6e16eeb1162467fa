import { M2mError } from '../errors.js';
import { type ExecutionPlan, stepExpressions, walkExpr } from '../plan/schema.js';

/** What the Miden plan compiler cannot prove yet, by construct. */
/** Text conversions would need a number formatter and parser inside the VM. */
const UNSUPPORTED_EXPR_OPS = new Set(['toString', 'toNumber']);

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
      if (op.op === 'parse' || op.op === 'serialize')
        found.push({ stepId: step.id, operation: `transform ${op.op} (format ${op.format})` });
    }
    for (const { expr } of stepExpressions(step)) {
      walkExpr(expr, (node) => {
        if (UNSUPPORTED_EXPR_OPS.has(node.op))
          found.push({ stepId: step.id, operation: `expression op "${node.op}"` });
      });
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
