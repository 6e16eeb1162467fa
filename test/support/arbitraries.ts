/**
 * Generators shared by the property tests: random valid plans over random data, random plan
 * DAGs with their known dependencies, and small helpers to walk and rewrite plan documents.
 * Test-only: nothing in the project may import this file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc, { type GeneratorValue } from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { coerceInput } from '../../zkvm/exec/data.js';
import { formatDecimal, NUM_MAX, NUM_MIN } from '../../zkvm/numeric/decimal.js';
import type { DataInputStep, Expr } from '../../zkvm/plan/schema.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A well-formed digest that commits to nothing in particular. */
export const DUMMY_DIGEST = `sha256:${'ab'.repeat(32)}`;

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };
export type Path = (string | number)[];

// ---------------------------------------------------------------- example plans

export interface ExamplePlan {
  name: string;
  file: string;
  text: string;
  value: JsonObject;
  data: Record<string, unknown[]>;
}

/** Every plans/*.yaml with its data file, parsed with the `yaml` package. */
export function loadExamplePlans(): ExamplePlan[] {
  const dir = join(REPO_ROOT, 'plans');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((file) => {
      const name = file.replace(/\.yaml$/, '');
      const text = readFileSync(join(dir, file), 'utf8');
      const data = JSON.parse(readFileSync(join(dir, 'data', `${name}.json`), 'utf8')) as Record<
        string,
        unknown[]
      >;
      return { name, file, text, value: parseYaml(text) as JsonObject, data };
    });
}

// ---------------------------------------------------------------- json helpers

export const isObject = (v: unknown): v is JsonObject =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

export function getAt(root: unknown, path: Path): unknown {
  return path.reduce<unknown>(
    (node, key) =>
      node !== null && typeof node === 'object'
        ? (node as Record<string | number, unknown>)[key]
        : undefined,
    root,
  );
}

export function setAt(root: unknown, path: Path, value: unknown): void {
  const parent = getAt(root, path.slice(0, -1)) as Record<string | number, unknown>;
  parent[path[path.length - 1] as string | number] = value;
}

export function deleteAt(root: unknown, path: Path): void {
  const parent = getAt(root, path.slice(0, -1)) as Record<string | number, unknown>;
  delete parent[path[path.length - 1] as string | number];
}

/** Every node of a JSON document (objects, arrays and leaves) with its path, depth first. */
export function walkJson(
  value: unknown,
  visit: (node: unknown, path: Path) => void,
  path: Path = [],
): void {
  visit(value, path);
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      walkJson(item, visit, [...path, i]);
    });
  } else if (isObject(value)) {
    for (const [key, item] of Object.entries(value)) walkJson(item, visit, [...path, key]);
  }
}

/** Paths of every scalar leaf (string, number, boolean, null). */
export function leafPaths(value: unknown): Path[] {
  const out: Path[] = [];
  walkJson(value, (node, path) => {
    if (node === null || typeof node !== 'object') out.push(path);
  });
  return out;
}

/** Expression nodes (objects with a string `op`) outside transform `operation` headers. */
export function expressionPaths(plan: unknown): Path[] {
  const out: Path[] = [];
  walkJson(plan, (node, path) => {
    if (isObject(node) && typeof node.op === 'string' && path.at(-1) !== 'operation')
      out.push(path);
  });
  return out;
}

/**
 * Step ids a raw step depends on, read independently of the project's DAG code: record inputs,
 * branch arms and every `{op: ref}` anywhere in the step.
 */
export function rawDependencies(step: unknown): string[] {
  const deps = new Set<string>();
  if (!isObject(step)) return [];
  if (typeof step.input === 'string') deps.add(step.input);
  if (Array.isArray(step.input)) for (const i of step.input) if (typeof i === 'string') deps.add(i);
  if (step.type === 'branch') {
    if (typeof step.then === 'string') deps.add(step.then);
    if (typeof step.else === 'string') deps.add(step.else);
  }
  walkJson(step, (node) => {
    if (isObject(node) && node.op === 'ref' && typeof node.step === 'string') deps.add(node.step);
  });
  return [...deps];
}

// ---------------------------------------------------------------- random choices

/** Imperative random choices on top of fc.gen(), so generated plans still replay and shrink. */
export class Picker {
  constructor(private readonly g: GeneratorValue) {}

  int(min: number, max: number): number {
    return this.g(fc.integer, { min, max });
  }

  bigint(min: bigint, max: bigint): bigint {
    return this.g(fc.bigInt, { min, max });
  }

  bool(): boolean {
    return this.g(fc.boolean);
  }

  /** True with probability about `percent`%. */
  chance(percent: number): boolean {
    return this.int(0, 99) < percent;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(0, items.length - 1)] as T;
  }

  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  }

  subset<T>(items: readonly T[], min: number, max = items.length): T[] {
    return this.shuffle(items).slice(0, this.int(Math.min(min, items.length), max));
  }

  /** `count` distinct valid step ids of random spelling (so no order is implied by names). */
  uniqueIds(count: number): string[] {
    const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
    const rest = `${letters}0123456789_-`;
    const out = new Set<string>();
    while (out.size < count) {
      let id = letters[this.int(0, letters.length - 1)] as string;
      const length = this.int(0, 5);
      for (let i = 0; i < length; i++) id += rest[this.int(0, rest.length - 1)];
      out.add(id);
    }
    return [...out];
  }
}

/** Rebuilds every object of a JSON value with its keys in a random order (arrays keep order). */
export function shuffleKeys(value: unknown, p: Picker): unknown {
  if (Array.isArray(value)) return value.map((v) => shuffleKeys(v, p));
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of p.shuffle(Object.keys(value))) out[key] = shuffleKeys(value[key], p);
  return out;
}

// ---------------------------------------------------------------- numbers

/** Mantissas of the numeric model, biased towards zero, small values and the i64 edges. */
export const mantissaArb: fc.Arbitrary<bigint> = fc.oneof(
  { weight: 3, arbitrary: fc.bigInt({ min: NUM_MIN, max: NUM_MAX }) },
  { weight: 3, arbitrary: fc.bigInt({ min: -(10n ** 13n), max: 10n ** 13n }) },
  { weight: 2, arbitrary: fc.bigInt({ min: -3_000_000n, max: 3_000_000n }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      0n,
      1n,
      -1n,
      1_000_000n,
      -1_000_000n,
      500_000n,
      -500_000n,
      NUM_MIN,
      NUM_MAX,
      NUM_MIN + 1n,
      NUM_MAX - 1n,
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .bigInt({ min: NUM_MAX - 10n ** 7n, max: NUM_MAX })
      .chain((m) => fc.constantFrom(m, -m, -m - 1n)),
  },
);

// ---------------------------------------------------------------- typed expressions

export type VT = 'num' | 'string' | 'bool';
export type Fields = Map<string, VT>;

export interface RefField {
  step: string;
  field: string;
  type: VT;
}

export interface ExprEnv {
  /** Fields of the current record; undefined in compute steps and branch conditions. */
  record: Fields | undefined;
  refs: RefField[];
}

const STRING_LITERALS = ['', 'a', 'B', 'x y', 'KY', 'abc', 'Ünï', '😀', '10', '-2.5', 'a,"b"'];

function numberLiteral(p: Picker): Expr {
  switch (p.int(0, 2)) {
    case 0:
      return { op: 'lit', value: p.int(-20, 20) };
    case 1:
      // Quarters are exact JSON numbers in the numeric model.
      return { op: 'lit', value: p.int(-400, 400) / 4 };
    default:
      return { op: 'dec', value: formatDecimal(p.bigint(-(10n ** 12n), 10n ** 12n)) };
  }
}

function literalOf(p: Picker, type: VT): Expr {
  if (type === 'bool') return { op: 'lit', value: p.bool() };
  if (type === 'string') return { op: 'lit', value: p.pick(STRING_LITERALS) };
  return numberLiteral(p);
}

function leafOf(p: Picker, type: VT, env: ExprEnv): Expr {
  const options: Array<() => Expr> = [() => literalOf(p, type)];
  const fields = env.record
    ? [...env.record].filter(([, t]) => t === type).map(([name]) => name)
    : [];
  if (fields.length > 0) {
    const field = (): Expr => ({ op: 'field', name: p.pick(fields) });
    options.push(field, field);
  }
  const refs = env.refs.filter((r) => r.type === type);
  if (refs.length > 0) {
    options.push(() => {
      const r = p.pick(refs);
      return { op: 'ref', step: r.step, field: r.field };
    });
  }
  return p.pick(options)();
}

const VALUE_TYPES: readonly VT[] = ['num', 'string', 'bool'];

/** A random expression of the given type that the plan type checker must accept. */
export function exprOf(p: Picker, type: VT, env: ExprEnv, depth: number): Expr {
  if (depth <= 0 || p.int(0, 2) === 0) return leafOf(p, type, env);
  const sub = (t: VT): Expr => exprOf(p, t, env, depth - 1);
  const several = (t: VT): Expr[] => Array.from({ length: p.int(2, 3) }, () => sub(t));
  if (type === 'num') {
    switch (p.int(0, 13)) {
      case 0:
        return { op: 'add', args: several('num') };
      case 1:
        return { op: 'sub', args: [sub('num'), sub('num')] };
      case 2:
        return { op: 'mul', args: [sub('num'), sub('num')] };
      case 3:
        return { op: 'div', args: [sub('num'), sub('num')] };
      case 4:
        return { op: 'mod', args: [sub('num'), sub('num')] };
      case 5:
        return { op: p.pick(['neg', 'abs', 'floor', 'ceil'] as const), args: [sub('num')] };
      case 6:
        return { op: 'round', args: [sub('num')], digits: p.int(0, 6) };
      case 7:
        return { op: p.pick(['min', 'max'] as const), args: several('num') };
      case 8:
        return { op: 'if', args: [sub('bool'), sub('num'), sub('num')] };
      case 9:
        return { op: 'len', args: [sub('string')] };
      case 10:
        return { op: 'toNumber', args: [{ op: 'toString', args: [sub('num')] }] };
      default:
        return leafOf(p, type, env);
    }
  }
  if (type === 'string') {
    switch (p.int(0, 5)) {
      case 0:
        return { op: 'concat', args: several('string') };
      case 1:
        return { op: p.pick(['lower', 'upper'] as const), args: [sub('string')] };
      case 2:
        return { op: 'toString', args: [sub(p.pick(VALUE_TYPES))] };
      case 3:
        return { op: 'if', args: [sub('bool'), sub('string'), sub('string')] };
      default:
        return leafOf(p, type, env);
    }
  }
  switch (p.int(0, 6)) {
    case 0: {
      const t = p.pick(VALUE_TYPES);
      return { op: p.pick(['eq', 'ne'] as const), args: [sub(t), sub(t)] };
    }
    case 1: {
      const t = p.pick(['num', 'string'] as const);
      return { op: p.pick(['lt', 'le', 'gt', 'ge'] as const), args: [sub(t), sub(t)] };
    }
    case 2:
      return { op: p.pick(['and', 'or'] as const), args: several('bool') };
    case 3:
      return { op: 'not', args: [sub('bool')] };
    case 4:
      return { op: 'if', args: [sub('bool'), sub('bool'), sub('bool')] };
    default:
      return leafOf(p, type, env);
  }
}

// ---------------------------------------------------------------- random executable plans

export interface ExecScenario {
  plan: JsonObject;
  data: Record<string, unknown[]>;
}

interface Current {
  id: string;
  fields: Fields;
  single: boolean;
}

const SOURCE_SCHEMA = { k: 'string', a: 'decimal', b: 'integer', f: 'boolean' } as const;
const SOURCE_FIELDS: Fields = new Map([
  ['a', 'num'],
  ['b', 'num'],
  ['f', 'bool'],
  ['k', 'string'],
]);

const schemaTypeOf = (t: VT): string =>
  t === 'num' ? 'decimal' : t === 'bool' ? 'boolean' : 'string';

/** One raw input record: numbers sometimes as JSON numbers, sometimes as decimal text. */
function rawRecord(p: Picker): Record<string, unknown> {
  const m = p.chance(10)
    ? p.bigint(NUM_MAX - 10n ** 12n, NUM_MAX) * (p.bool() ? 1n : -1n)
    : p.bigint(-(10n ** 10n), 10n ** 10n);
  const text = formatDecimal(m);
  const asNumber = Number(text);
  const b = p.int(-1000, 1000);
  return {
    k: p.pick(['a', 'b', 'c', '', 'Ünï', '😀']),
    a: p.bool() && String(asNumber) === text ? asNumber : text,
    b: p.bool() ? b : String(b),
    f: p.bool(),
  };
}

/** Builds a data-input step whose commitment matches the given raw records. */
export function dataInputStep(
  id: string,
  fields: Record<string, string>,
  records: unknown[],
): JsonObject {
  const step = {
    type: 'data-input',
    id,
    dataCommitment: DUMMY_DIGEST,
    source: { type: 'parameter' },
    schema: { fields },
  };
  step.dataCommitment = coerceInput(step as DataInputStep, records).root;
  return step as unknown as JsonObject;
}

/**
 * A random plan that passes validation, over random data: one or two data inputs followed by
 * a chain of filter / map / select / rename / aggregate / loop / compute / branch /
 * serialize+parse steps, with `ref`s to single-record steps mixed into expressions.
 */
export function genExecScenario(p: Picker): ExecScenario {
  const steps: JsonObject[] = [];
  const data: Record<string, unknown[]> = {};
  const refs: RefField[] = [];
  let counter = 0;
  const fresh = (prefix: string) => `${prefix}${counter++}`;
  const add = (step: Record<string, unknown>) => steps.push(step as JsonObject);
  const offerRefs = (cur: Current) => {
    if (!cur.single) return;
    for (const [field, type] of cur.fields) refs.push({ step: cur.id, field, type });
  };

  const srcRecords = Array.from({ length: p.int(0, 8) }, () => rawRecord(p));
  data.src = srcRecords;
  add(dataInputStep('src', { ...SOURCE_SCHEMA }, srcRecords));
  let cur: Current = { id: 'src', fields: new Map(SOURCE_FIELDS), single: false };
  if (p.chance(25)) {
    const more = Array.from({ length: p.int(0, 5) }, () => rawRecord(p));
    data.src2 = more;
    add(dataInputStep('src2', { ...SOURCE_SCHEMA }, more));
    const id = fresh('both');
    add({ type: 'filter', id, input: ['src', 'src2'], predicate: { op: 'lit', value: true } });
    cur = { id, fields: cur.fields, single: false };
  }

  const recordEnv = (): ExprEnv => ({ record: cur.fields, refs });
  const noRecordEnv = (): ExprEnv => ({ record: undefined, refs });
  const names = () => [...cur.fields.keys()];

  const chainLength = p.int(1, 6);
  for (let n = 0; n < chainLength; n++) {
    // Sometimes add a single-record summary of the current records, for `ref`s further on.
    if (p.chance(30)) {
      const id = fresh('stats');
      const aggs: Record<string, unknown> = { cnt: { fn: 'count' } };
      const numeric = names().filter((f) => cur.fields.get(f) === 'num');
      if (numeric.length > 0) aggs.total = { fn: 'sum', field: p.pick(numeric) };
      add({ type: 'aggregate', id, input: cur.id, aggregations: aggs });
      offerRefs({
        id,
        fields: new Map<string, VT>([
          ['cnt', 'num'],
          ...(numeric.length > 0 ? [['total', 'num'] as [string, VT]] : []),
        ]),
        single: true,
      });
    }
    const id = fresh('s');
    const kind = p.pick([
      'filter',
      'filter',
      'map',
      'map',
      'select',
      'rename',
      'aggregate',
      'aggregate',
      'loop',
      'compute',
      'branch',
      'serialize',
    ] as const);
    switch (kind) {
      case 'filter':
        add({ type: 'filter', id, input: cur.id, predicate: exprOf(p, 'bool', recordEnv(), 3) });
        cur = { id, fields: cur.fields, single: false };
        break;
      case 'map': {
        const assign: Record<string, Expr> = {};
        const fields = new Map(cur.fields);
        const count = p.int(1, 3);
        for (let i = 0; i < count; i++) {
          const name = p.chance(40) ? p.pick(names()) : fresh('m');
          const type = p.pick(VALUE_TYPES);
          assign[name] = exprOf(p, type, recordEnv(), 3);
          fields.set(name, type);
        }
        add({ type: 'transform', id, input: cur.id, operation: { op: 'map', assign } });
        cur = { id, fields, single: cur.single };
        break;
      }
      case 'select': {
        const keep = p.subset(names(), 1);
        add({ type: 'transform', id, input: cur.id, operation: { op: 'select', fields: keep } });
        cur = {
          id,
          fields: new Map(keep.map((f) => [f, cur.fields.get(f) as VT])),
          single: cur.single,
        };
        break;
      }
      case 'rename': {
        const from = p.pick(names());
        const to = fresh('r');
        add({
          type: 'transform',
          id,
          input: cur.id,
          operation: { op: 'rename', mapping: { [from]: to } },
        });
        const fields = new Map(cur.fields);
        fields.delete(from);
        fields.set(to, cur.fields.get(from) as VT);
        cur = { id, fields, single: cur.single };
        break;
      }
      case 'aggregate': {
        const groupBy = p.subset(names(), 0, 2);
        const fields = new Map<string, VT>(groupBy.map((f) => [f, cur.fields.get(f) as VT]));
        const numeric = names().filter((f) => cur.fields.get(f) === 'num');
        const aggregations: Record<string, unknown> = {};
        const count = p.int(1, 3);
        for (let i = 0; i < count; i++) {
          const name = fresh('g');
          const fn = p.pick(
            numeric.length > 0
              ? (['count', 'sum', 'min', 'max', 'avg', 'median', 'first', 'last'] as const)
              : (['count', 'first', 'last'] as const),
          );
          if (fn === 'count') {
            aggregations[name] = p.bool() ? { fn } : { fn, field: p.pick(names()) };
            fields.set(name, 'num');
          } else if (fn === 'first' || fn === 'last') {
            const field = p.pick(names());
            aggregations[name] = { fn, field };
            fields.set(name, cur.fields.get(field) as VT);
          } else {
            aggregations[name] = { fn, field: p.pick(numeric) };
            fields.set(name, 'num');
          }
        }
        add({
          type: 'aggregate',
          id,
          input: cur.id,
          ...(groupBy.length > 0 || p.bool() ? { groupBy } : {}),
          aggregations,
        });
        cur = { id, fields, single: groupBy.length === 0 };
        break;
      }
      case 'loop': {
        const body: Record<string, Expr> = {};
        for (const name of p.subset(names(), 1, 2))
          body[name] = exprOf(p, cur.fields.get(name) as VT, recordEnv(), 2);
        add({
          type: 'loop',
          id,
          input: cur.id,
          maxIterations: p.int(1, 4),
          while: exprOf(p, 'bool', recordEnv(), 2),
          body,
        });
        cur = { id, fields: cur.fields, single: cur.single };
        break;
      }
      case 'compute': {
        const assign: Record<string, Expr> = {};
        const fields = new Map<string, VT>();
        const count = p.int(1, 3);
        for (let i = 0; i < count; i++) {
          const name = fresh('c');
          const type = p.pick(VALUE_TYPES);
          assign[name] = exprOf(p, type, noRecordEnv(), 3);
          fields.set(name, type);
        }
        add({ type: 'compute', id, assign });
        cur = { id, fields, single: true };
        break;
      }
      case 'branch': {
        const arm = fresh('arm');
        add({
          type: 'filter',
          id: arm,
          input: cur.id,
          predicate: exprOf(p, 'bool', recordEnv(), 2),
        });
        const [then, otherwise] = p.bool() ? [arm, cur.id] : [cur.id, arm];
        add({
          type: 'branch',
          id,
          condition: exprOf(p, 'bool', noRecordEnv(), 2),
          then,
          else: otherwise,
        });
        cur = { id, fields: cur.fields, single: false };
        break;
      }
      case 'serialize': {
        const format = p.pick(['json', 'csv'] as const);
        const blob = fresh('blob');
        add({
          type: 'transform',
          id,
          input: cur.id,
          operation: { op: 'serialize', format, field: blob },
        });
        const schema = Object.fromEntries(
          [...cur.fields].map(([name, type]) => [name, schemaTypeOf(type)]),
        );
        const back = fresh('parsed');
        add({
          type: 'transform',
          id: back,
          input: id,
          operation: { op: 'parse', format, field: blob, schema: { fields: schema } },
        });
        cur = { id: back, fields: cur.fields, single: false };
        break;
      }
    }
    offerRefs(cur);
  }

  const output: Record<string, unknown> = { step: cur.id };
  if (p.chance(50)) {
    output.sortBy = p
      .subset(names(), 1, 2)
      .map((field) => (p.bool() ? { field } : { field, direction: p.pick(['asc', 'desc']) }));
  }
  if (p.chance(30)) output.limit = p.int(1, 5);
  const limits = {
    maxCycles: p.chance(85) ? 1_000_000_000 : p.int(50, 3000),
    maxMemoryBytes: p.chance(90) ? 1_000_000_000 : p.int(100, 3000),
    maxOutputBytes: p.chance(90) ? 10_000_000 : p.int(10, 500),
  };
  const plan = {
    version: '1.0',
    id: 'generated',
    jobRequestHash: DUMMY_DIGEST,
    steps,
    output,
    limits,
  };
  return { plan: plan as unknown as JsonObject, data };
}

// ---------------------------------------------------------------- random DAGs

export interface DagScenario {
  plan: JsonObject;
  /** Step id -> ids it must run after (inputs, branch arms, refs), as generated. */
  deps: Map<string, Set<string>>;
}

/**
 * Random plans whose steps all have the record shape {a: num, k: string}, so any wiring type
 * checks. Each step refers only to earlier-generated steps; the declaration order is then
 * shuffled.
 */
export function genDagScenario(p: Picker): DagScenario {
  const count = p.int(1, 14);
  const ids = p.uniqueIds(count);
  const steps: JsonObject[] = [];
  const deps = new Map<string, Set<string>>();
  const single = new Map<string, boolean>();
  const earlier = (i: number) => ids.slice(0, i);
  for (let i = 0; i < count; i++) {
    const id = ids[i] as string;
    const before = earlier(i);
    const singles = before.filter((s) => single.get(s) === true);
    const mine = new Set<string>();
    const refA = (): Expr => {
      if (singles.length === 0 || p.bool()) return { op: 'lit', value: p.int(-5, 5) };
      const s = p.pick(singles);
      mine.add(s);
      return { op: 'ref', step: s, field: 'a' };
    };
    const refK = (): Expr => {
      if (singles.length === 0 || p.bool()) return { op: 'lit', value: 'z' };
      const s = p.pick(singles);
      mine.add(s);
      return { op: 'ref', step: s, field: 'k' };
    };
    const inputOf = (): string | string[] => {
      const chosen = p.subset(before, 1, 3);
      for (const c of chosen) mine.add(c);
      return chosen.length === 1 && p.bool() ? (chosen[0] as string) : chosen;
    };
    const kind =
      before.length === 0
        ? 'data-input'
        : p.pick([
            'data-input',
            'filter',
            'map',
            'loop',
            'aggregate',
            'compute',
            'branch',
          ] as const);
    let step: Record<string, unknown>;
    let isSingle = false;
    switch (kind) {
      case 'data-input':
        step = {
          type: 'data-input',
          id,
          dataCommitment: DUMMY_DIGEST,
          source: { type: 'parameter' },
          schema: { fields: { k: 'string', a: 'decimal' } },
        };
        break;
      case 'filter':
        step = {
          type: 'filter',
          id,
          input: inputOf(),
          predicate: { op: 'gt', args: [{ op: 'field', name: 'a' }, refA()] },
        };
        break;
      case 'map': {
        const input = inputOf();
        isSingle = typeof input === 'string' && single.get(input) === true;
        step = {
          type: 'transform',
          id,
          input,
          operation: {
            op: 'map',
            assign: { a: { op: 'add', args: [{ op: 'field', name: 'a' }, refA()] } },
          },
        };
        break;
      }
      case 'loop': {
        const input = inputOf();
        isSingle = typeof input === 'string' && single.get(input) === true;
        step = {
          type: 'loop',
          id,
          input,
          maxIterations: 3,
          while: { op: 'lt', args: [{ op: 'field', name: 'a' }, refA()] },
          body: {
            a: {
              op: 'add',
              args: [
                { op: 'field', name: 'a' },
                { op: 'lit', value: 1 },
              ],
            },
          },
        };
        break;
      }
      case 'aggregate':
        step = {
          type: 'aggregate',
          id,
          input: inputOf(),
          aggregations: { a: { fn: 'sum', field: 'a' }, k: { fn: 'first', field: 'k' } },
        };
        isSingle = true;
        break;
      case 'compute':
        step = { type: 'compute', id, assign: { a: refA(), k: refK() } };
        isSingle = true;
        break;
      case 'branch': {
        const then = p.pick(before);
        const otherwise = p.pick(before);
        mine.add(then);
        mine.add(otherwise);
        step = {
          type: 'branch',
          id,
          condition: { op: 'ge', args: [refA(), { op: 'lit', value: 0 }] },
          then,
          else: otherwise,
        };
        isSingle = single.get(then) === true && single.get(otherwise) === true;
        break;
      }
    }
    single.set(id, isSingle);
    deps.set(id, mine);
    steps.push(step as JsonObject);
  }
  const plan = {
    version: '1.0',
    id: 'dag',
    jobRequestHash: DUMMY_DIGEST,
    steps: p.shuffle(steps),
    output: { step: p.pick(ids) },
    limits: { maxCycles: 1_000_000, maxMemoryBytes: 1_000_000, maxOutputBytes: 1_000_000 },
  };
  return { plan: plan as unknown as JsonObject, deps };
}
