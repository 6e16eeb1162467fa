import {
  type ExecutionPlan,
  type ExecutionStep,
  stepExpressions,
  stepInputs,
  walkExpr,
} from './schema.js';
import type { PathSegment } from './source.js';

/** One edge of the plan graph: `from` must run before the step that holds it. */
export interface Dependency {
  from: string;
  /** Path of the reference inside the step, for error locations. */
  path: PathSegment[];
  kind: 'input' | 'ref';
}

export interface ExecutionDAG {
  /** Step ids in declaration order. */
  ids: string[];
  steps: Map<string, ExecutionStep>;
  /** Declaration index of each step (ties in the topological order break on it). */
  index: Map<string, number>;
  dependencies: Map<string, Dependency[]>;
  dependents: Map<string, string[]>;
}

/** Dependencies of one step: record inputs first, then `ref`s in expression order. */
export function stepDependencies(step: ExecutionStep): Dependency[] {
  const deps: Dependency[] = [];
  if (step.type === 'branch') {
    deps.push(
      { from: step.then, path: ['then'], kind: 'input' },
      { from: step.else, path: ['else'], kind: 'input' },
    );
  } else if ('input' in step) {
    const inputs = stepInputs(step);
    inputs.forEach((from, i) => {
      deps.push({
        from,
        path: typeof step.input === 'string' ? ['input'] : ['input', i],
        kind: 'input',
      });
    });
  }
  for (const { expr, path } of stepExpressions(step)) {
    walkExpr(expr, (node, nodePath) => {
      if (node.op === 'ref')
        deps.push({ from: node.step, path: [...path, ...nodePath, 'step'], kind: 'ref' });
    });
  }
  return deps;
}

/** Builds the graph. Assumes ids are unique and every dependency exists (see validate). */
export function buildExecutionDAG(plan: ExecutionPlan): ExecutionDAG {
  const ids = plan.steps.map((s) => s.id);
  const steps = new Map(plan.steps.map((s) => [s.id, s]));
  const index = new Map(ids.map((id, i) => [id, i]));
  const dependencies = new Map<string, Dependency[]>();
  const dependents = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const step of plan.steps) {
    const deps = stepDependencies(step);
    dependencies.set(step.id, deps);
    for (const from of new Set(deps.map((d) => d.from))) dependents.get(from)?.push(step.id);
  }
  return { ids, steps, index, dependencies, dependents };
}

const uniqueSources = (dag: ExecutionDAG, id: string): string[] => [
  ...new Set((dag.dependencies.get(id) ?? []).map((d) => d.from)),
];

/**
 * Every elementary cycle reachable by depth-first search, each as a list of step ids starting at
 * its earliest-declared step and ending where it started (`a, b, a`). Deterministic.
 */
export function findCycles(dag: ExecutionDAG): string[][] {
  const state = new Map<string, 'active' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const visit = (id: string): void => {
    state.set(id, 'active');
    stack.push(id);
    for (const from of uniqueSources(dag, id)) {
      if (!dag.steps.has(from)) continue;
      const s = state.get(from);
      if (s === 'active') {
        // The cycle runs along dependency edges; report it in execution direction.
        const members = stack.slice(stack.indexOf(from)).reverse();
        const start = members.reduce((best, m) =>
          (dag.index.get(m) ?? 0) < (dag.index.get(best) ?? 0) ? m : best,
        );
        const rotated = [
          ...members.slice(members.indexOf(start)),
          ...members.slice(0, members.indexOf(start)),
        ];
        const key = rotated.join('>');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push([...rotated, start]);
        }
      } else if (s === undefined) {
        visit(from);
      }
    }
    stack.pop();
    state.set(id, 'done');
  };
  for (const id of dag.ids) if (!state.has(id)) visit(id);
  return cycles;
}

/**
 * Kahn's algorithm; among ready steps the earliest declared goes first, so the order is a
 * function of the plan alone. Returns undefined when the graph has a cycle.
 */
export function topologicalOrder(dag: ExecutionDAG): string[] | undefined {
  const pending = new Map(
    dag.ids.map((id) => [id, uniqueSources(dag, id).filter((f) => dag.steps.has(f)).length]),
  );
  const ready = dag.ids.filter((id) => pending.get(id) === 0);
  const order: string[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => (dag.index.get(a) ?? 0) - (dag.index.get(b) ?? 0));
    const id = ready.shift() as string;
    order.push(id);
    for (const next of dag.dependents.get(id) ?? []) {
      const left = (pending.get(next) ?? 0) - 1;
      pending.set(next, left);
      if (left === 0) ready.push(next);
    }
  }
  return order.length === dag.ids.length ? order : undefined;
}

/** Steps the output depends on (transitively), including the output step. */
export function reachableFrom(dag: ExecutionDAG, root: string): Set<string> {
  const seen = new Set<string>();
  const todo = [root];
  while (todo.length > 0) {
    const id = todo.pop() as string;
    if (seen.has(id) || !dag.steps.has(id)) continue;
    seen.add(id);
    todo.push(...uniqueSources(dag, id));
  }
  return seen;
}
