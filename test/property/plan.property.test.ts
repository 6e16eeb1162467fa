import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { M2mError } from '../../zkvm/errors.js';
import { type InputData, planDataRoot, recordsRoot } from '../../zkvm/exec/data.js';
import { type ExecutionResult, executePlan } from '../../zkvm/exec/executor.js';
import { computePlanHash } from '../../zkvm/plan/hash.js';
import { assertValidPlan, DEFAULT_LIMIT_BOUNDS, validatePlan } from '../../zkvm/plan/validate.js';
import {
  deleteAt,
  type ExamplePlan,
  expressionPaths,
  genDagScenario,
  genExecScenario,
  getAt,
  isObject,
  type JsonObject,
  leafPaths,
  loadExamplePlans,
  type Path,
  Picker,
  rawDependencies,
  setAt,
  shuffleKeys,
  walkJson,
} from '../support/arbitraries.js';

const ERROR_CODE = /^[A-Z][A-Z0-9_]+$/;
const PLAN_CODE = /^PLAN_[A-Z_]+$/;
const examples = loadExamplePlans();

// ---------------------------------------------------------------- (a) executor determinism

type Outcome = { ok: true; result: ExecutionResult } | { ok: false; error: unknown };

function attempt(run: () => ExecutionResult): Outcome {
  try {
    return { ok: true, result: run() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Everything observable about one execution, in a form toEqual compares exactly. */
function observe(outcome: Outcome): unknown {
  if (!outcome.ok) {
    const e = outcome.error;
    return e instanceof M2mError
      ? { code: e.code, message: e.message, stepId: e.stepId, details: e.details }
      : { foreign: String(e) };
  }
  const r = outcome.result;
  return {
    output: r.output,
    outputHash: r.outputHash,
    cyclesUsed: r.cyclesUsed,
    peakMemoryBytes: r.peakMemoryBytes,
    outputBytes: r.outputBytes,
    executedSteps: r.executedSteps,
    dataRoot: r.dataRoot,
    planHash: r.planHash,
  };
}

function expectTypedFailure(outcome: Outcome): void {
  if (outcome.ok) return;
  const error = outcome.error;
  if (!(error instanceof M2mError)) {
    throw new Error(
      `executePlan threw a non-M2mError: ${String((error as Error)?.stack ?? error)}`,
    );
  }
  expect(error.code).toMatch(ERROR_CODE);
  expect(error.message.length).toBeGreaterThan(0);
}

describe('executor determinism over random valid plans', () => {
  it('runs every generated plan identically (twice, on a deep clone, from JSON text) and fails only with typed errors', () => {
    let succeeded = 0;
    let failed = 0;
    const numRuns = 150;
    fc.assert(
      fc.property(fc.gen(), (g) => {
        const { plan, data } = genExecScenario(new Picker(g));
        const validation = validatePlan(plan);
        expect(validation.errors).toEqual([]);
        expect(validation.valid).toBe(true);

        const validated = assertValidPlan(plan);
        const first = attempt(() => executePlan(validated, data));
        expectTypedFailure(first);
        if (first.ok) {
          succeeded++;
          const r = first.result;
          expect(recordsRoot(r.output)).toBe(r.outputHash);
          expect(r.planHash).toBe(computePlanHash(plan));
          expect(r.dataRoot).toBe(planDataRoot(validated.plan));
          expect(r.cyclesUsed).toBeLessThanOrEqual(validated.plan.limits.maxCycles);
          expect(r.peakMemoryBytes).toBeLessThanOrEqual(validated.plan.limits.maxMemoryBytes);
          expect(r.outputBytes).toBeLessThanOrEqual(validated.plan.limits.maxOutputBytes);
          const limit = validated.plan.output.limit;
          if (limit !== undefined) expect(r.output.length).toBeLessThanOrEqual(limit);
        } else {
          failed++;
        }
        const expected = observe(first);
        // Same validated object again: no state may leak from one run into the next.
        expect(observe(attempt(() => executePlan(validated, data)))).toEqual(expected);
        // Fresh validation of a deep clone of plan and data.
        const clonedPlan = structuredClone(plan);
        const clonedData = structuredClone(data) as InputData;
        expect(
          observe(attempt(() => executePlan(assertValidPlan(clonedPlan), clonedData))),
        ).toEqual(expected);
        // The plan as JSON text, the data through a JSON round trip.
        const fromText = assertValidPlan(JSON.stringify(plan), { file: 'generated.json' });
        const textData = JSON.parse(JSON.stringify(data)) as InputData;
        expect(observe(attempt(() => executePlan(fromText, textData)))).toEqual(expected);
      }),
      { numRuns },
    );
    // The generator must exercise real executions, not only early failures.
    expect(succeeded).toBeGreaterThan(numRuns / 3);
    expect(succeeded + failed).toBe(numRuns);
  });

  it('never lets a non-M2mError escape on the example plans with randomly perturbed data', () => {
    fc.assert(
      fc.property(fc.gen(), (g) => {
        const p = new Picker(g);
        const example = p.pick(examples);
        const data = structuredClone(example.data) as Record<string, unknown[]>;
        // Perturb one value of one record; the commitment check or the typed coercion must catch it.
        const stepIds = Object.keys(data).filter((k) => (data[k]?.length ?? 0) > 0);
        if (stepIds.length > 0) {
          const records = data[p.pick(stepIds)] as Record<string, unknown>[];
          const record = p.pick(records);
          const key = p.pick(Object.keys(record));
          record[key] = p.pick([null, 1.5, '1.5', true, 'x', [], {}, 1e300, -0, '1e-9', undefined]);
        }
        const validated = assertValidPlan(example.text, { file: example.file });
        const outcome = attempt(() => executePlan(validated, data));
        expectTypedFailure(outcome);
        if (!outcome.ok) expect((outcome.error as M2mError).code).toMatch(/^DATA_/);
      }),
      { numRuns: 60 },
    );
  });
});

// ---------------------------------------------------------------- (b) topological order

/** The order documented in dag.ts: Kahn's algorithm, the earliest-declared ready step first. */
function oracleOrder(declared: string[], deps: Map<string, Set<string>>): string[] {
  const placed = new Set<string>();
  const order: string[] = [];
  while (order.length < declared.length) {
    const next = declared.find(
      (id) => !placed.has(id) && [...(deps.get(id) ?? [])].every((d) => placed.has(d)),
    );
    if (next === undefined) throw new Error('oracle: cycle');
    placed.add(next);
    order.push(next);
  }
  return order;
}

describe('validatePlan execution order', () => {
  it('is a topological order of every random DAG, stable across calls and spellings', () => {
    fc.assert(
      fc.property(fc.gen(), (g) => {
        const { plan, deps } = genDagScenario(new Picker(g));
        const declared = (plan.steps as JsonObject[]).map((s) => s.id as string);
        // The generator's own bookkeeping agrees with an independent reading of the steps.
        for (const step of plan.steps as JsonObject[])
          expect(new Set(rawDependencies(step))).toEqual(deps.get(step.id as string));

        const result = validatePlan(plan);
        expect(result.errors).toEqual([]);
        const order = result.executionOrder;
        expect(order).toHaveLength(declared.length);
        expect(new Set(order)).toEqual(new Set(declared));
        const position = new Map(order.map((id, i) => [id, i]));
        for (const [id, before] of deps) {
          for (const dep of before) {
            expect(position.get(dep) as number, `${dep} must run before ${id}`).toBeLessThan(
              position.get(id) as number,
            );
          }
        }
        expect(validatePlan(structuredClone(plan)).executionOrder).toEqual(order);
        expect(validatePlan(toYaml(plan), { file: 'dag.yaml' }).executionOrder).toEqual(order);
        expect(order).toEqual(oracleOrder(declared, deps));
      }),
      { numRuns: 300 },
    );
  });
});

// ---------------------------------------------------------------- (c) plan hash

function changedLeaf(value: unknown): unknown {
  if (typeof value === 'string') return `${value}x`;
  if (typeof value === 'number') return value + 1;
  if (typeof value === 'boolean') return !value;
  return 0;
}

function anyPlan(p: Picker): JsonObject {
  switch (p.int(0, 2)) {
    case 0:
      return structuredClone(p.pick(examples).value);
    case 1:
      return genDagScenario(p).plan;
    default:
      return genExecScenario(p).plan;
  }
}

describe('plan hash', () => {
  it('of each example plan file equals the hash of its parsed document', () => {
    for (const example of examples) {
      const result = validatePlan(example.text, { file: example.file });
      expect(result.valid, example.name).toBe(true);
      expect(result.planHash).toBe(computePlanHash(example.value));
      expect(result.planHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
  });

  it('ignores key order and YAML vs JSON spelling, and changes with any single leaf', () => {
    fc.assert(
      fc.property(fc.gen(), (g) => {
        const p = new Picker(g);
        const plan = anyPlan(p);
        const hash = validatePlan(plan).planHash;
        expect(hash).toMatch(/^sha256:[0-9a-f]{64}$/);
        expect(hash).toBe(computePlanHash(plan));

        const shuffled = shuffleKeys(plan, p);
        expect(validatePlan(shuffled).planHash).toBe(hash);
        const yamlText = toYaml(shuffled, {
          collectionStyle: p.pick(['any', 'block', 'flow'] as const),
          indent: p.int(2, 4),
        });
        expect(validatePlan(yamlText, { file: 'plan.yaml' }).planHash).toBe(hash);
        const jsonText = JSON.stringify(shuffleKeys(plan, p), null, p.pick([0, 1, 2, '\t']));
        expect(validatePlan(jsonText, { file: 'plan.json' }).planHash).toBe(hash);
        expect(validatePlan(jsonText).planHash).toBe(hash);

        const path = p.pick(leafPaths(plan));
        const changed = structuredClone(plan);
        setAt(changed, path, changedLeaf(getAt(plan, path)));
        const changedHash = validatePlan(changed).planHash;
        expect(changedHash, `changing ${JSON.stringify(path)}`).toMatch(/^sha256:/);
        expect(changedHash, `changing ${JSON.stringify(path)}`).not.toBe(hash);
        expect(validatePlan(toYaml(shuffleKeys(changed, p)), { file: 'x.yaml' }).planHash).toBe(
          changedHash,
        );
      }),
      { numRuns: 150 },
    );
  });
});

// ---------------------------------------------------------------- (d) invalid plans

interface Mutation {
  kind: string;
  /** The code this class of mistake must be reported with. */
  expected: string;
  describe: string;
  apply: (plan: JsonObject) => void;
  /** Where the issue must point (its `path`), when that is unambiguous. */
  at?: Path;
}

const RECORD_KEYS = new Set(['fields', 'assign', 'body', 'aggregations', 'mapping']);
const STEP_REQUIRED: Record<string, string[]> = {
  'data-input': ['type', 'id', 'dataCommitment', 'schema', 'source'],
  transform: ['type', 'id', 'input', 'operation'],
  filter: ['type', 'id', 'input', 'predicate'],
  aggregate: ['type', 'id', 'input', 'aggregations'],
  compute: ['type', 'id', 'assign'],
  branch: ['type', 'id', 'condition', 'then', 'else'],
  loop: ['type', 'id', 'input', 'maxIterations', 'while', 'body'],
};
const OPERATION_REQUIRED: Record<string, string[]> = {
  map: ['op', 'assign'],
  select: ['op', 'fields'],
  rename: ['op', 'mapping'],
  parse: ['op', 'format', 'field', 'schema'],
  serialize: ['op', 'format', 'field'],
};
function exprRequired(expr: JsonObject): string[] {
  switch (expr.op) {
    case 'field':
      return ['op', 'name'];
    case 'ref':
      return ['op', 'step', 'field'];
    case 'lit':
    case 'dec':
      return ['op', 'value'];
    case 'round':
      return ['op', 'args', 'digits'];
    default:
      return ['op', 'args'];
  }
}

/** Every single-point mistake we know how to make in this plan, each with its expected code. */
function mutationsOf(plan: JsonObject): Mutation[] {
  const out: Mutation[] = [];
  const steps = plan.steps as JsonObject[];
  const ids = steps.map((s) => s.id as string);
  const add = (
    kind: string,
    expected: string,
    describe: string,
    apply: Mutation['apply'],
    at?: Path,
  ) => out.push({ kind, expected, describe, apply, ...(at === undefined ? {} : { at }) });
  const del = (path: Path) =>
    add(
      'delete-required',
      'PLAN_MISSING_FIELD',
      `delete ${path.join('.')}`,
      (p) => deleteAt(p, path),
      path.slice(0, -1),
    );
  /** The issue points at the changed value, except where noted (cycles, duplicates, keys). */
  const set = (kind: string, expected: string, path: Path, value: unknown) => {
    const at =
      kind === 'cycle' || kind === 'duplicate-id'
        ? undefined
        : kind === 'unknown-key'
          ? path.slice(0, -1)
          : path;
    add(
      kind,
      expected,
      `${path.join('.')} = ${JSON.stringify(value)}`,
      (p) => setAt(p, path, structuredClone(value)),
      at,
    );
  };
  const exprs = expressionPaths(plan);

  // Missing required keys.
  for (const key of ['version', 'id', 'jobRequestHash', 'steps', 'output', 'limits']) del([key]);
  for (const key of ['maxCycles', 'maxMemoryBytes', 'maxOutputBytes']) del(['limits', key]);
  del(['output', 'step']);
  steps.forEach((step, i) => {
    for (const key of STEP_REQUIRED[step.type as string] ?? []) del(['steps', i, key]);
    if (step.type === 'data-input') {
      del(['steps', i, 'source', 'type']);
      del(['steps', i, 'schema', 'fields']);
    }
    if (step.type === 'aggregate')
      for (const name of Object.keys(step.aggregations as JsonObject))
        del(['steps', i, 'aggregations', name, 'fn']);
    if (step.type === 'transform') {
      const op = (step.operation as JsonObject).op as string;
      for (const key of OPERATION_REQUIRED[op] ?? []) del(['steps', i, 'operation', key]);
    }
  });
  for (const path of exprs)
    for (const key of exprRequired(getAt(plan, path) as JsonObject)) del([...path, key]);

  // Values of the wrong JSON type.
  const wrong = (path: Path, value: unknown) => set('wrong-type', 'PLAN_WRONG_TYPE', path, value);
  wrong(['id'], 42);
  wrong(['jobRequestHash'], 7);
  wrong(['steps'], 'steps');
  wrong(['output'], ['x']);
  wrong(['limits'], 'x');
  wrong(['limits', 'maxCycles'], 'many');
  wrong(['limits', 'maxMemoryBytes'], true);
  wrong(['output', 'step'], 3);
  if ((plan.output as JsonObject).sortBy !== undefined) wrong(['output', 'sortBy'], {});
  steps.forEach((step, i) => {
    wrong(['steps', i, 'id'], 12);
    if ('input' in step) wrong(['steps', i, 'input'], true);
    for (const key of ['predicate', 'condition', 'while'])
      if (key in step) wrong(['steps', i, key], 5);
    for (const key of ['assign', 'body', 'aggregations'])
      if (key in step) wrong(['steps', i, key], ['x']);
    if ('maxIterations' in step) wrong(['steps', i, 'maxIterations'], '3');
    if (step.type === 'data-input') wrong(['steps', i, 'schema'], 'x');
  });
  for (const path of exprs) {
    const expr = getAt(plan, path) as JsonObject;
    if ('args' in expr) wrong([...path, 'args'], 'x');
    if (expr.op === 'field') wrong([...path, 'name'], 7);
    if (expr.op === 'round') wrong([...path, 'digits'], 'two');
  }

  // Unknown step types, operators and transform operations.
  steps.forEach((_, i) => {
    set('unknown-step-type', 'PLAN_UNKNOWN_STEP_TYPE', ['steps', i, 'type'], 'frobnicate');
  });
  for (const path of exprs)
    set('unknown-operator', 'PLAN_UNKNOWN_OPERATOR', [...path, 'op'], 'frobnicate');
  steps.forEach((step, i) => {
    if (step.type === 'transform')
      set(
        'unknown-operation',
        'PLAN_UNKNOWN_OPERATION',
        ['steps', i, 'operation', 'op'],
        'explode',
      );
  });

  // Unknown keys in every strict object (not in name -> value records).
  walkJson(plan, (node, path) => {
    if (isObject(node) && !RECORD_KEYS.has(String(path.at(-1))))
      set('unknown-key', 'PLAN_UNKNOWN_KEY', [...path, 'zzUnknownKey'], true);
  });

  // References to steps.
  const dangling = (path: Path) =>
    set('dangling-reference', 'PLAN_DANGLING_REFERENCE', path, 'noSuchStep');
  steps.forEach((step, i) => {
    if (typeof step.input === 'string') dangling(['steps', i, 'input']);
    if (Array.isArray(step.input)) {
      step.input.forEach((_, k) => {
        dangling(['steps', i, 'input', k]);
      });
    }
    if (step.type === 'branch') {
      dangling(['steps', i, 'then']);
      dangling(['steps', i, 'else']);
    }
  });
  const refs = exprs.filter((path) => (getAt(plan, path) as JsonObject).op === 'ref');
  for (const path of refs) dangling([...path, 'step']);

  // Cycles: point a step's input (or ref) at a step that already depends on it, or at itself.
  const dependents = (id: string): Set<string> => {
    const found = new Set<string>();
    const todo = [id];
    while (todo.length > 0) {
      const current = todo.pop() as string;
      for (const s of steps) {
        if (rawDependencies(s).includes(current) && !found.has(s.id as string)) {
          found.add(s.id as string);
          todo.push(s.id as string);
        }
      }
    }
    return found;
  };
  steps.forEach((step, i) => {
    const targets = [step.id as string, ...dependents(step.id as string)];
    if ('input' in step)
      for (const target of targets) set('cycle', 'PLAN_CYCLE', ['steps', i, 'input'], target);
    for (const path of refs.filter((r) => r[1] === i))
      for (const target of targets) set('cycle', 'PLAN_CYCLE', [...path, 'step'], target);
  });

  // Duplicate ids.
  ids.forEach((id, i) => {
    ids.forEach((_, j) => {
      if (i !== j) set('duplicate-id', 'PLAN_DUPLICATE_STEP_ID', ['steps', j, 'id'], id);
    });
  });

  // Limits above the node's bounds.
  for (const key of ['maxCycles', 'maxMemoryBytes', 'maxOutputBytes'] as const)
    set('limit', 'PLAN_LIMIT_OUT_OF_BOUNDS', ['limits', key], DEFAULT_LIMIT_BOUNDS[key] + 1);
  steps.forEach((step, i) => {
    if (step.type === 'loop')
      set(
        'limit',
        'PLAN_LIMIT_OUT_OF_BOUNDS',
        ['steps', i, 'maxIterations'],
        DEFAULT_LIMIT_BOUNDS.maxLoopIterations + 1,
      );
  });

  set('output-missing', 'PLAN_OUTPUT_STEP_MISSING', ['output', 'step'], 'noSuchStep');
  set('version', 'PLAN_UNSUPPORTED_VERSION', ['version'], '2.0');

  // References to record fields that do not exist.
  const unknownField = (path: Path) =>
    set('unknown-field', 'PLAN_UNKNOWN_RECORD_FIELD', path, 'noSuchField');
  for (const path of exprs) {
    const expr = getAt(plan, path) as JsonObject;
    if (expr.op === 'field') unknownField([...path, 'name']);
    if (expr.op === 'ref') unknownField([...path, 'field']);
  }
  steps.forEach((step, i) => {
    if (step.type === 'aggregate') {
      for (const [name, agg] of Object.entries(step.aggregations as JsonObject))
        if ((agg as JsonObject).field !== undefined)
          unknownField(['steps', i, 'aggregations', name, 'field']);
      (step.groupBy as string[] | undefined)?.forEach((_, k) => {
        unknownField(['steps', i, 'groupBy', k]);
      });
    }
    const operation = step.operation as JsonObject | undefined;
    if (operation?.op === 'select')
      (operation.fields as string[]).forEach((_, k) => {
        unknownField(['steps', i, 'operation', 'fields', k]);
      });
    if (operation?.op === 'parse') unknownField(['steps', i, 'operation', 'field']);
  });
  ((plan.output as JsonObject).sortBy as JsonObject[] | undefined)?.forEach((_, k) => {
    unknownField(['output', 'sortBy', k, 'field']);
  });
  return out;
}

const mutationsByExample = new Map<string, Mutation[]>(
  examples.map((e) => [e.name, mutationsOf(e.value)]),
);

/** Small, printable cases (fast-check prints counterexamples): example name + mutation index. */
const mutationArb = fc.record({
  example: fc.constantFrom(...examples.map((e) => e.name)),
  pick: fc.nat(),
  flowYaml: fc.boolean(),
});

function resolve(c: { example: string; pick: number }): {
  example: ExamplePlan;
  mutation: Mutation;
  plan: JsonObject;
} {
  const example = examples.find((e) => e.name === c.example) as ExamplePlan;
  const all = mutationsByExample.get(c.example) as Mutation[];
  const mutation = all[c.pick % all.length] as Mutation;
  const plan = structuredClone(example.value);
  mutation.apply(plan);
  return { example, mutation, plan };
}

describe('invalid plans', () => {
  it('the mutation catalogue covers every class of mistake on the examples', () => {
    const kinds = new Set([...mutationsByExample.values()].flat().map((m) => m.kind));
    expect([...kinds].sort()).toEqual(
      [
        'cycle',
        'dangling-reference',
        'delete-required',
        'duplicate-id',
        'limit',
        'output-missing',
        'unknown-field',
        'unknown-key',
        'unknown-operation',
        'unknown-operator',
        'unknown-step-type',
        'version',
        'wrong-type',
      ].sort(),
    );
  });

  it('every mutated example is rejected with PLAN_* codes, messages, and text locations', () => {
    fc.assert(
      fc.property(mutationArb, (c) => {
        const { mutation, plan } = resolve(c);
        const fromObject = validatePlan(plan);
        expect(fromObject.valid, mutation.describe).toBe(false);
        expect(fromObject.errors.length, mutation.describe).toBeGreaterThan(0);
        for (const error of fromObject.errors) {
          expect(error.code, mutation.describe).toMatch(PLAN_CODE);
          expect(error.message.length, mutation.describe).toBeGreaterThan(0);
          if (error.stepId !== undefined)
            expect(error.message, mutation.describe).toContain(error.stepId);
        }
        const codes = fromObject.errors.map((e) => e.code);
        const texts: Array<[string, string]> = [
          ['plan.yaml', toYaml(plan, { collectionStyle: c.flowYaml ? 'flow' : 'block' })],
          ['plan.json', JSON.stringify(plan, null, 2)],
        ];
        for (const [file, text] of texts) {
          const fromText = validatePlan(text, { file });
          expect(fromText.valid, `${file}: ${mutation.describe}`).toBe(false);
          expect(fromText.errors.map((e) => e.code)).toEqual(codes);
          for (const error of fromText.errors) {
            expect(error.message.length).toBeGreaterThan(0);
            expect(error.location, `${file}: ${mutation.describe}: ${error.code}`).toBeDefined();
            expect(error.location?.file).toBe(file);
            expect(error.location?.line).toBeGreaterThanOrEqual(1);
            expect(error.location?.column).toBeGreaterThanOrEqual(1);
          }
        }
      }),
      { numRuns: 400 },
    );
  });

  const kinds = [...new Set([...mutationsByExample.values()].flat().map((m) => m.kind))].sort();
  it.each(kinds)(
    'a mistake of class %s is reported with its own stable code at its path',
    (kind) => {
      const cases = examples.flatMap((example) =>
        (mutationsByExample.get(example.name) as Mutation[])
          .map((mutation, index) => ({ example: example.name, pick: index, kind: mutation.kind }))
          .filter((c) => c.kind === kind),
      );
      fc.assert(
        fc.property(fc.constantFrom(...cases), (c) => {
          const { example, mutation, plan } = resolve(c);
          const result = validatePlan(plan);
          const what = `${example.name}: ${mutation.describe} -> ${JSON.stringify(result.errors.map((e) => [e.code, e.path, e.message]))}`;
          expect(
            result.errors.map((e) => e.code),
            what,
          ).toContain(mutation.expected);
          if (mutation.at !== undefined) {
            const paths = result.errors
              .filter((e) => e.code === mutation.expected)
              .map((e) => JSON.stringify(e.path));
            expect(paths, what).toContain(JSON.stringify(mutation.at));
          }
        }),
        { numRuns: Math.min(150, cases.length * 2) },
      );
    },
  );
});
