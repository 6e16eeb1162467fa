import type { z } from 'zod';
import { isM2mError, M2mError } from '../errors.js';
import {
  buildExecutionDAG,
  findCycles,
  reachableFrom,
  stepDependencies,
  topologicalOrder,
} from './dag.js';
import { computePlanHash } from './hash.js';
import { IssueList, type PlanIssue } from './issues.js';
import { ExecutionPlan } from './schema.js';
import {
  formatPath,
  type PathSegment,
  type PlanSource,
  parsePlanText,
  planSourceFromValue,
} from './source.js';
import { inferShapes, type Shape } from './typecheck.js';

/** Bounds a node enforces on plan limits. A provider may configure tighter ones. */
export interface LimitBounds {
  maxCycles: number;
  maxMemoryBytes: number;
  maxOutputBytes: number;
  maxSteps: number;
  maxLoopIterations: number;
}

export const DEFAULT_LIMIT_BOUNDS: LimitBounds = {
  maxCycles: 10_000_000_000,
  maxMemoryBytes: 4 * 1024 ** 3,
  maxOutputBytes: 64 * 1024 ** 2,
  maxSteps: 256,
  maxLoopIterations: 1_000_000,
};

export interface PlanValidationResult {
  valid: boolean;
  errors: PlanIssue[];
  warnings: PlanIssue[];
  /** Topologically sorted step ids (empty when the graph is broken). */
  executionOrder: string[];
  /** sha256 over the RFC 8785 canonical JSON of the plan document ('' if not JSON). */
  planHash: string;
  /** The typed plan, present when valid. */
  plan?: ExecutionPlan;
  /** Inferred record shape of each step, present when valid. */
  shapes?: Map<string, Shape>;
}

export interface ValidateOptions {
  file?: string;
  bounds?: Partial<LimitBounds>;
}

/** Parses (text) or takes (object) a plan and runs every check. Never throws for bad plans. */
export function validatePlan(
  input: string | unknown,
  options: ValidateOptions = {},
): PlanValidationResult {
  let source: PlanSource;
  try {
    source =
      typeof input === 'string'
        ? parsePlanText(input, options.file)
        : planSourceFromValue(input, options.file);
  } catch (error) {
    if (!isM2mError(error)) throw error;
    return invalid(
      [{ code: error.code, message: error.message, path: [], location: error.location }],
      '',
    );
  }
  return validateSource(source, options);
}

export function validateSource(
  source: PlanSource,
  options: ValidateOptions = {},
): PlanValidationResult {
  const bounds = { ...DEFAULT_LIMIT_BOUNDS, ...options.bounds };
  let planHash = '';
  try {
    planHash = computePlanHash(source.value);
  } catch {
    // Not canonicalisable: the schema check below reports why.
  }
  const locate = (issues: PlanIssue[]) =>
    issues.map((issue) => ({ ...issue, location: issue.location ?? source.locate(issue.path) }));

  const parsed = ExecutionPlan.safeParse(source.value);
  if (!parsed.success) return invalid(locate(schemaIssues(parsed.error, source)), planHash);
  const plan = parsed.data;

  const errors = new IssueList();
  const warnings = new IssueList();
  checkIds(plan, errors);
  checkLimits(plan, bounds, errors);
  if (errors.length > 0) return invalid(locate(errors.items), planHash);

  const dag = buildExecutionDAG(plan);
  for (const cycle of findCycles(dag)) {
    const first = cycle[0] as string;
    errors.add(
      'PLAN_CYCLE',
      `steps form a cycle: ${cycle.join(' -> ')}`,
      ['steps', dag.index.get(first) as number],
      first,
    );
  }
  const order = errors.length === 0 ? topologicalOrder(dag) : undefined;
  if (order === undefined) return invalid(locate(errors.items), planHash);

  const shapes = inferShapes(plan, dag, order, errors);
  const used = reachableFrom(dag, plan.output.step);
  for (const id of dag.ids) {
    if (!used.has(id)) {
      warnings.add(
        'PLAN_UNUSED_STEP',
        `step "${id}" does not contribute to the output and will not run`,
        ['steps', dag.index.get(id) as number],
        id,
      );
    }
  }
  if (errors.length > 0)
    return {
      ...invalid(locate(errors.items), planHash),
      warnings: locate(warnings.items),
      executionOrder: order,
    };
  return {
    valid: true,
    errors: [],
    warnings: locate(warnings.items),
    executionOrder: order,
    planHash,
    plan,
    shapes,
  };
}

/** Throws the first error as an M2mError; returns the valid result otherwise. */
export function assertValidPlan(
  input: string | unknown,
  options: ValidateOptions = {},
): PlanValidationResult & { plan: ExecutionPlan; shapes: Map<string, Shape> } {
  const result = validatePlan(input, options);
  const first = result.errors[0];
  if (!result.valid || result.plan === undefined || result.shapes === undefined) {
    throw new M2mError(first?.code ?? 'PLAN_INVALID', first?.message ?? 'plan is invalid', {
      stepId: first?.stepId,
      location: first?.location,
      details: { errors: result.errors },
    });
  }
  return result as PlanValidationResult & { plan: ExecutionPlan; shapes: Map<string, Shape> };
}

function invalid(errors: PlanIssue[], planHash: string): PlanValidationResult {
  return { valid: false, errors, warnings: [], executionOrder: [], planHash };
}

function checkIds(plan: ExecutionPlan, errors: IssueList): void {
  const firstIndex = new Map<string, number>();
  plan.steps.forEach((step, i) => {
    const earlier = firstIndex.get(step.id);
    if (earlier !== undefined) {
      errors.add(
        'PLAN_DUPLICATE_STEP_ID',
        `step id "${step.id}" is used by steps[${earlier}] and steps[${i}]`,
        ['steps', i, 'id'],
        step.id,
      );
    } else {
      firstIndex.set(step.id, i);
    }
  });
  plan.steps.forEach((step, i) => {
    for (const dep of stepDependencies(step)) {
      if (!firstIndex.has(dep.from)) {
        errors.add(
          'PLAN_DANGLING_REFERENCE',
          `step "${step.id}" refers to step "${dep.from}", which does not exist`,
          ['steps', i, ...dep.path],
          step.id,
        );
      } else if (dep.from === step.id && firstIndex.get(step.id) === i) {
        errors.add(
          'PLAN_CYCLE',
          `step "${step.id}" depends on itself`,
          ['steps', i, ...dep.path],
          step.id,
        );
      }
    }
  });
  if (!firstIndex.has(plan.output.step)) {
    errors.add(
      'PLAN_OUTPUT_STEP_MISSING',
      `output.step "${plan.output.step}" is not a step of this plan`,
      ['output', 'step'],
    );
  }
}

function checkLimits(plan: ExecutionPlan, bounds: LimitBounds, errors: IssueList): void {
  for (const key of ['maxCycles', 'maxMemoryBytes', 'maxOutputBytes'] as const) {
    if (plan.limits[key] > bounds[key]) {
      errors.add(
        'PLAN_LIMIT_OUT_OF_BOUNDS',
        `limits.${key} = ${plan.limits[key]} exceeds this node's bound ${bounds[key]}`,
        ['limits', key],
      );
    }
  }
  if (plan.steps.length > bounds.maxSteps) {
    errors.add(
      'PLAN_LIMIT_OUT_OF_BOUNDS',
      `plan has ${plan.steps.length} steps; the bound is ${bounds.maxSteps}`,
      ['steps'],
    );
  }
  plan.steps.forEach((step, i) => {
    if (step.type === 'loop' && step.maxIterations > bounds.maxLoopIterations) {
      errors.add(
        'PLAN_LIMIT_OUT_OF_BOUNDS',
        `step "${step.id}": maxIterations ${step.maxIterations} exceeds the bound ${bounds.maxLoopIterations}`,
        ['steps', i, 'maxIterations'],
        step.id,
      );
    }
  });
}

/** Maps zod issues to plan issues with stable codes and the step they belong to. */
function schemaIssues(error: z.ZodError, source: PlanSource): PlanIssue[] {
  const out: PlanIssue[] = [];
  const valueAt = (path: readonly PathSegment[]): unknown =>
    path.reduce<unknown>(
      (node, key) =>
        node !== null && typeof node === 'object'
          ? (node as Record<string | number, unknown>)[key]
          : undefined,
      source.value,
    );
  const stepIdAt = (path: readonly PathSegment[]): string | undefined => {
    if (path[0] !== 'steps' || typeof path[1] !== 'number') return undefined;
    const id = (valueAt(path.slice(0, 2)) as { id?: unknown } | undefined)?.id;
    return typeof id === 'string' ? id : undefined;
  };
  for (const issue of error.issues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    const stepId = stepIdAt(path);
    const where = `${stepId === undefined ? '' : `step "${stepId}": `}${formatPath(path) || '(plan)'}`;
    const push = (code: string, message: string, at: PathSegment[] = path, key?: string) =>
      out.push({
        code,
        message: `${where}: ${message}`,
        path: at,
        stepId,
        location: key === undefined ? undefined : source.locate(at, key),
      });
    // Whatever zod's complaint (type, union, discriminator, enum, literal), an absent key is
    // reported as missing, at the object that lacks it.
    if (issue.code !== 'unrecognized_keys' && path.length > 0 && valueAt(path) === undefined) {
      push(
        'PLAN_MISSING_FIELD',
        `required key "${String(path.at(-1))}" is missing`,
        path.slice(0, -1),
      );
      continue;
    }
    switch (issue.code) {
      case 'invalid_type':
        push('PLAN_WRONG_TYPE', `expected ${issue.expected}, got ${describeValue(valueAt(path))}`);
        break;
      case 'unrecognized_keys':
        for (const key of issue.keys) push('PLAN_UNKNOWN_KEY', `unknown key "${key}"`, path, key);
        break;
      case 'invalid_union': {
        const discriminator = (issue as { discriminator?: string }).discriminator;
        const options = (issue as { options?: unknown[] }).options;
        const got = JSON.stringify(valueAt(path));
        if (discriminator === 'type')
          push(
            'PLAN_UNKNOWN_STEP_TYPE',
            `unknown step type ${got}; expected one of ${options?.join(', ')}`,
          );
        else if (discriminator === 'op' && path.at(-2) === 'operation')
          push(
            'PLAN_UNKNOWN_OPERATION',
            `unknown transform operation ${got}; expected one of ${options?.join(', ')}`,
          );
        else if (discriminator === 'op')
          push(
            'PLAN_UNKNOWN_OPERATOR',
            `unknown expression operator ${got}; expected one of ${options?.join(', ')}`,
          );
        else
          push(
            'PLAN_WRONG_TYPE',
            `${describeValue(valueAt(path))} does not match any allowed form`,
          );
        break;
      }
      case 'invalid_value':
        if (issue.values.every((v) => typeof v === 'string') && typeof valueAt(path) !== 'string')
          push(
            'PLAN_WRONG_TYPE',
            `expected one of ${issue.values.join(', ')}, got ${describeValue(valueAt(path))}`,
          );
        else if (path.length === 1 && path[0] === 'version')
          push(
            'PLAN_UNSUPPORTED_VERSION',
            `version ${JSON.stringify(valueAt(path))} is not supported; this node reads "1.0"`,
          );
        else push('PLAN_INVALID_VALUE', issue.message);
        break;
      case 'invalid_format':
        push('PLAN_INVALID_FORMAT', issue.message);
        break;
      case 'invalid_key':
        push(
          'PLAN_INVALID_FORMAT',
          `invalid key: ${issue.issues.map((i) => i.message).join('; ')}`,
        );
        break;
      case 'too_small':
      case 'too_big':
        push('PLAN_OUT_OF_RANGE', issue.message);
        break;
      default:
        push('PLAN_INVALID_VALUE', issue.message);
    }
  }
  return out;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'string')
    return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return typeof value === 'object' ? 'object' : `${typeof value} ${String(value)}`;
}
