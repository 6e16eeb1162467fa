/**
 * One test per class of bad input: the exact stable code, the step named in the message (and
 * in `stepId`), and for plan text the line of the offending text in `location`.
 */
import { describe, expect, it } from 'vitest';
import { M2mError } from '../../zkvm/errors.js';
import { coerceInput, type InputData } from '../../zkvm/exec/data.js';
import { executePlan } from '../../zkvm/exec/executor.js';
import type { PlanIssue } from '../../zkvm/plan/issues.js';
import type { DataInputStep } from '../../zkvm/plan/schema.js';
import { assertValidPlan, validatePlan } from '../../zkvm/plan/validate.js';

// ---------------------------------------------------------------- fixture

const JOB = `sha256:${'0'.repeat(63)}1`;
const ORDERS_SCHEMA = { customer: 'string', amount: 'decimal', qty: 'integer', paid: 'boolean' };
const ORDERS = [
  { customer: 'ann', amount: '10.5', qty: 2, paid: true },
  { customer: 'bob', amount: '3', qty: 1, paid: false },
  { customer: 'cy', amount: 7.25, qty: 4, paid: true },
];

function commitment(records: unknown[], fields: Record<string, string> = ORDERS_SCHEMA): string {
  const step = {
    type: 'data-input',
    id: 'orders',
    dataCommitment: JOB,
    source: { type: 'file' },
    schema: { fields },
  } as DataInputStep;
  return coerceInput(step, records).root;
}

interface FixtureOptions {
  records?: unknown[];
  limits?: string;
}

/** The fixture plan as YAML lines; every line a test edits is unique. */
function fixtureLines(options: FixtureOptions = {}): string[] {
  const root = commitment(options.records ?? ORDERS);
  return [
    'version: "1.0"',
    'id: bad-input-fixture',
    `jobRequestHash: ${JOB}`,
    'steps:',
    '  - type: data-input',
    '    id: orders',
    `    dataCommitment: ${root}`,
    '    source: { type: file, uri: orders.json }',
    '    schema: { fields: { customer: string, amount: decimal, qty: integer, paid: boolean } }',
    '  - type: filter',
    '    id: paid-orders',
    '    input: orders',
    '    predicate: { op: field, name: paid }',
    '  - type: transform',
    '    id: priced',
    '    input: paid-orders',
    '    operation:',
    '      op: map',
    '      assign:',
    '        unit: { op: div, args: [{ op: field, name: amount }, { op: field, name: qty }] }',
    '  - type: loop',
    '    id: halve',
    '    input: priced',
    '    maxIterations: 3',
    '    while: { op: gt, args: [{ op: field, name: unit }, { op: lit, value: 1 }] }',
    '    body: { unit: { op: div, args: [{ op: field, name: unit }, { op: lit, value: 2 }] } }',
    '  - type: aggregate',
    '    id: totals',
    '    input: halve',
    '    aggregations:',
    '      total: { fn: sum, field: amount }',
    '      cheapest: { fn: min, field: unit }',
    '  - type: compute',
    '    id: summary',
    '    assign:',
    '      total: { op: ref, step: totals, field: total }',
    '      doubled: { op: mul, args: [{ op: ref, step: totals, field: cheapest }, { op: lit, value: 2 }] }',
    'output: { step: summary }',
    `limits: ${options.limits ?? '{ maxCycles: 1000000, maxMemoryBytes: 1048576, maxOutputBytes: 65536 }'}`,
    '',
  ];
}

const fixtureText = (options: FixtureOptions = {}) => fixtureLines(options).join('\n');

/** 1-based line of the only line containing `needle`. */
function lineOf(text: string, needle: string): number {
  const lines = text.split('\n');
  const hits = lines.flatMap((line, i) => (line.includes(needle) ? [i + 1] : []));
  if (hits.length !== 1) throw new Error(`fixture: "${needle}" is on lines ${hits.join(', ')}`);
  return hits[0] as number;
}

/** Replaces the unique line containing `needle` (or inserts after it); returns text and line. */
function edit(
  needle: string,
  replacement: string | null,
  mode: 'replace' | 'insert-after' = 'replace',
  options: FixtureOptions = {},
): { text: string; line: number } {
  const lines = fixtureLines(options);
  const index = lineOf(lines.join('\n'), needle) - 1;
  if (mode === 'insert-after') {
    lines.splice(index + 1, 0, replacement as string);
    return { text: lines.join('\n'), line: index + 2 };
  }
  if (replacement === null) lines.splice(index, 1);
  else lines[index] = replacement;
  return { text: lines.join('\n'), line: index + 1 };
}

function onlyError(text: string, file = 'plan.yaml'): PlanIssue {
  const result = validatePlan(text, { file });
  expect(result.valid).toBe(false);
  expect(result.errors.length, JSON.stringify(result.errors)).toBeGreaterThanOrEqual(1);
  return result.errors[0] as PlanIssue;
}

function expectIssue(
  issue: PlanIssue,
  expected: {
    code: string;
    stepId?: string;
    /** How the message names the step; `"<stepId>"` unless given. */
    stepNamed?: string;
    line?: number;
    file?: string;
    mentions?: string[];
  },
): void {
  expect(issue.code, issue.message).toBe(expected.code);
  expect(issue.message.length).toBeGreaterThan(0);
  if (expected.stepId !== undefined) {
    expect(issue.stepId).toBe(expected.stepId);
    expect(issue.message).toContain(expected.stepNamed ?? `"${expected.stepId}"`);
  }
  for (const text of expected.mentions ?? []) expect(issue.message).toContain(text);
  if (expected.line !== undefined) {
    expect(issue.location, issue.message).toBeDefined();
    expect(issue.location?.file).toBe(expected.file ?? 'plan.yaml');
    expect(issue.location?.line, issue.message).toBe(expected.line);
    expect(issue.location?.column).toBeGreaterThanOrEqual(1);
  }
}

// ---------------------------------------------------------------- sanity

describe('the fixture', () => {
  it('is a valid plan that runs', () => {
    const result = validatePlan(fixtureText(), { file: 'plan.yaml' });
    expect(result.errors).toEqual([]);
    expect(result.executionOrder).toEqual([
      'orders',
      'paid-orders',
      'priced',
      'halve',
      'totals',
      'summary',
    ]);
    const run = executePlan(assertValidPlan(fixtureText()), { orders: ORDERS });
    // unit: ann 10.5/2 = 5.25 -> 2.625 -> 1.3125 -> 0.65625; cy 7.25/4 = 1.8125 -> 0.90625.
    expect(run.output).toEqual([{ total: '17.75', doubled: '1.3125' }]);
  });
});

// ---------------------------------------------------------------- plan text

describe('malformed plan text', () => {
  it.each([
    [
      'a key used twice in one mapping',
      () => edit('    input: paid-orders', '    input: orders', 'insert-after'),
    ],
    ['a compact nested mapping', () => edit('    maxIterations: 3', '    maxIterations: a: 3')],
    ['a tab used for indentation', () => edit('    input: halve', '\tinput: halve')],
  ])('malformed YAML (%s): PLAN_SYNTAX at the offending line', (_what, make) => {
    const { text, line } = make();
    expectIssue(onlyError(text), { code: 'PLAN_SYNTAX', line });
  });

  it('malformed YAML: an alias to an undefined anchor is PLAN_SYNTAX with its line', () => {
    const { text, line } = edit(
      '    predicate: { op: field, name: paid }',
      '    predicate: *nowhere',
    );
    expectIssue(onlyError(text), { code: 'PLAN_SYNTAX', line });
  });

  it('malformed YAML: a self-referential alias is refused with a plan code, never a crash', () => {
    const { text } = edit(
      '    predicate: { op: field, name: paid }',
      '    predicate: &p { op: not, args: [*p] }',
    );
    let issue: PlanIssue | undefined;
    expect(() => {
      issue = onlyError(text);
    }).not.toThrow();
    expect(issue?.code).toMatch(/^PLAN_[A-Z_]+$/);
    expect(issue?.location?.line).toBeGreaterThanOrEqual(1);
  });

  describe('malformed JSON: PLAN_SYNTAX with line and column of the offending character', () => {
    const planObject = () => validatePlan(fixtureText()).plan as unknown as Record<string, unknown>;
    const jsonLines = () => JSON.stringify(planObject(), null, 2).split('\n');

    /** Line and column (1-based) of the first occurrence of `needle` in `text`. */
    const position = (text: string, needle: string) => {
      const offset = text.indexOf(needle);
      expect(offset).toBeGreaterThanOrEqual(0);
      const before = text.slice(0, offset).split('\n');
      return { line: before.length, column: (before.at(-1)?.length ?? 0) + 1 };
    };

    it('a missing comma between members', () => {
      const lines = jsonLines();
      const i = lines.findIndex((l) => l.includes('"id": "bad-input-fixture",'));
      lines[i] = (lines[i] as string).replace(/,$/, '');
      const text = lines.join('\n');
      const at = position(text, '"jobRequestHash"');
      const issue = onlyError(text, 'plan.json');
      expectIssue(issue, { code: 'PLAN_SYNTAX', line: at.line, file: 'plan.json' });
      expect(issue.location?.column).toBe(at.column);
    });

    it('a trailing comma', () => {
      const text = JSON.stringify(planObject(), null, 2).replace(
        '"maxOutputBytes": 65536',
        '"maxOutputBytes": 65536,',
      );
      const lines = text.split('\n');
      const closing = lines.findIndex((l) => l.includes('"maxOutputBytes": 65536,')) + 2;
      const issue = onlyError(text, 'plan.json');
      expectIssue(issue, { code: 'PLAN_SYNTAX', line: closing, file: 'plan.json' });
    });

    it('an unquoted word where a value belongs', () => {
      const text = JSON.stringify(planObject(), null, 2).replace(
        '"input": "paid-orders"',
        '"input": paid-orders',
      );
      const at = position(text, 'paid-orders,');
      const issue = onlyError(text, 'plan.json');
      expectIssue(issue, { code: 'PLAN_SYNTAX', line: at.line, file: 'plan.json' });
      expect(issue.location?.column).toBe(at.column);
    });

    it.each([
      ['after a comma', '"limits"', 0],
      ['after a colon', '"limits": ', '"limits": '.length],
    ])(
      'text that ends in the middle of the document (%s): located at its end',
      (_what, needle, extra) => {
        const full = JSON.stringify(planObject(), null, 2);
        const text = full.slice(0, full.indexOf(needle) + extra);
        const lastLine = text.split('\n').length;
        const issue = onlyError(text, 'plan.json');
        expectIssue(issue, { code: 'PLAN_SYNTAX', line: lastLine, file: 'plan.json' });
      },
    );

    it('a member name used twice', () => {
      const lines = jsonLines();
      const i = lines.findIndex((l) => l.includes('"id": "bad-input-fixture",'));
      lines.splice(i + 1, 0, '  "id": "again",');
      const issue = onlyError(lines.join('\n'), 'plan.json');
      expectIssue(issue, { code: 'PLAN_SYNTAX', line: i + 2, file: 'plan.json' });
    });
  });
});

describe('plan structure', () => {
  it('unknown step type: PLAN_UNKNOWN_STEP_TYPE', () => {
    const { text, line } = edit('  - type: filter', '  - type: sieve');
    expectIssue(onlyError(text), {
      code: 'PLAN_UNKNOWN_STEP_TYPE',
      stepId: 'paid-orders',
      line,
      mentions: ['sieve'],
    });
  });

  it('unknown step type in JSON text: located on its JSON line', () => {
    const plan = validatePlan(fixtureText()).plan as unknown as { steps: { type: string }[] };
    (plan.steps[1] as { type: string }).type = 'sieve';
    const text = JSON.stringify(plan, null, 2);
    expectIssue(onlyError(text, 'plan.json'), {
      code: 'PLAN_UNKNOWN_STEP_TYPE',
      stepId: 'paid-orders',
      line: lineOf(text, '"sieve"'),
      file: 'plan.json',
    });
  });

  it('unknown expression operator: PLAN_UNKNOWN_OPERATOR', () => {
    const { text, line } = edit(
      '        unit: { op: div,',
      '        unit: { op: divide, args: [{ op: field, name: amount }, { op: field, name: qty }] }',
    );
    expectIssue(onlyError(text), {
      code: 'PLAN_UNKNOWN_OPERATOR',
      stepId: 'priced',
      line,
      mentions: ['divide'],
    });
  });

  it('unknown transform operation: PLAN_UNKNOWN_OPERATION', () => {
    const { text, line } = edit('      op: map', '      op: explode');
    expectIssue(onlyError(text), {
      code: 'PLAN_UNKNOWN_OPERATION',
      stepId: 'priced',
      line,
      mentions: ['explode'],
    });
  });

  it('wrong types: PLAN_WRONG_TYPE', () => {
    const input = edit('    input: paid-orders', '    input: 42');
    expectIssue(onlyError(input.text), {
      code: 'PLAN_WRONG_TYPE',
      stepId: 'priced',
      line: input.line,
    });
    const iterations = edit('    maxIterations: 3', '    maxIterations: "3"');
    expectIssue(onlyError(iterations.text), {
      code: 'PLAN_WRONG_TYPE',
      stepId: 'halve',
      line: iterations.line,
    });
    const limits = edit(
      'limits:',
      'limits: { maxCycles: lots, maxMemoryBytes: 1048576, maxOutputBytes: 65536 }',
    );
    expectIssue(onlyError(limits.text), {
      code: 'PLAN_WRONG_TYPE',
      line: limits.line,
      mentions: ['maxCycles'],
    });
  });

  describe('missing required key: PLAN_MISSING_FIELD on the object that lacks it', () => {
    /** Removes `count` lines starting at the one equal to `first`; optionally inserts others. */
    const splice = (first: string, count: number, ...insert: string[]) => {
      const lines = fixtureLines();
      const at = lines.indexOf(first);
      expect(at).toBeGreaterThanOrEqual(0);
      lines.splice(at, count, ...insert);
      return lines.join('\n');
    };
    const dropped = (first: string, count: number, objectLine: string) => {
      const text = splice(first, count);
      return { text, line: lineOf(text, objectLine) };
    };

    it.each<[string, string, () => { text: string; line: number }]>([
      [
        'predicate of a filter',
        'paid-orders',
        () => dropped('    predicate: { op: field, name: paid }', 1, '  - type: filter'),
      ],
      ['assign of a compute step', 'summary', () => dropped('    assign:', 3, '  - type: compute')],
      [
        'aggregations of an aggregate',
        'totals',
        () => dropped('    aggregations:', 3, '  - type: aggregate'),
      ],
      [
        'then of a branch',
        'pick',
        () => {
          const text = splice(
            'output: { step: summary }',
            1,
            '  - type: branch',
            '    id: pick',
            '    condition: { op: lit, value: true }',
            '    else: summary',
            'output: { step: pick }',
          );
          return { text, line: lineOf(text, '  - type: branch') };
        },
      ],
      [
        'input of a filter',
        'paid-orders',
        () => dropped('    input: orders', 1, '  - type: filter'),
      ],
      [
        'type of a step',
        'halve',
        () => {
          const text = splice('  - type: loop', 2, '  - id: halve');
          return { text, line: lineOf(text, '  - id: halve') };
        },
      ],
      [
        'op of an expression',
        'paid-orders',
        () => edit('    predicate: {', '    predicate: { name: paid }'),
      ],
      [
        'value of a literal',
        'halve',
        () =>
          edit(
            '    while: {',
            '    while: { op: gt, args: [{ op: field, name: unit }, { op: lit }] }',
          ),
      ],
      [
        'fn of an aggregation',
        'totals',
        () => edit('      cheapest:', '      cheapest: { field: unit }'),
      ],
      ['type of a source', 'orders', () => edit('    source:', '    source: { uri: orders.json }')],
    ])('%s', (_name, stepId, make) => {
      const { text, line } = make();
      expectIssue(onlyError(text), { code: 'PLAN_MISSING_FIELD', stepId, line });
    });

    it('a missing top-level key names it', () => {
      const { text } = edit('limits:', null);
      expectIssue(onlyError(text), { code: 'PLAN_MISSING_FIELD', mentions: ['limits'] });
    });

    it('a missing version is a missing key, not an unsupported version', () => {
      const { text } = edit('version: "1.0"', null);
      expectIssue(onlyError(text), { code: 'PLAN_MISSING_FIELD', mentions: ['version'] });
    });
  });

  it('unknown key: PLAN_UNKNOWN_KEY at the key', () => {
    const { text, line } = edit('    id: priced', '    colour: red', 'insert-after');
    expectIssue(onlyError(text), {
      code: 'PLAN_UNKNOWN_KEY',
      stepId: 'priced',
      line,
      mentions: ['colour'],
    });
    const top = edit('id: bad-input-fixture', 'author: me', 'insert-after');
    expectIssue(onlyError(top.text), {
      code: 'PLAN_UNKNOWN_KEY',
      line: top.line,
      mentions: ['author'],
    });
  });

  it('unknown key in JSON text: located on its JSON line', () => {
    const plan = validatePlan(fixtureText()).plan as unknown as {
      steps: Record<string, unknown>[];
    };
    (plan.steps[2] as Record<string, unknown>).colour = 'red';
    const text = JSON.stringify(plan, null, 2);
    expectIssue(onlyError(text, 'plan.json'), {
      code: 'PLAN_UNKNOWN_KEY',
      stepId: 'priced',
      line: lineOf(text, '"colour"'),
      file: 'plan.json',
    });
  });

  it('dangling references: PLAN_DANGLING_REFERENCE for inputs and refs', () => {
    const input = edit('    input: paid-orders', '    input: paid-order');
    expectIssue(onlyError(input.text), {
      code: 'PLAN_DANGLING_REFERENCE',
      stepId: 'priced',
      line: input.line,
      mentions: ['"paid-order"'],
    });
    const ref = edit(
      '      total: { op: ref,',
      '      total: { op: ref, step: totalz, field: total }',
    );
    expectIssue(onlyError(ref.text), {
      code: 'PLAN_DANGLING_REFERENCE',
      stepId: 'summary',
      line: ref.line,
      mentions: ['"totalz"'],
    });
  });

  it('cycles: PLAN_CYCLE lists the cycle as "a -> b -> a"', () => {
    const { text } = edit('    input: orders', '    input: totals');
    const issue = onlyError(text);
    expectIssue(issue, {
      code: 'PLAN_CYCLE',
      stepId: 'paid-orders',
      stepNamed: 'paid-orders ->',
      line: lineOf(text, '  - type: filter'),
      mentions: ['paid-orders -> priced -> halve -> totals -> paid-orders'],
    });
    const self = edit('    input: priced', '    input: halve');
    expectIssue(onlyError(self.text), {
      code: 'PLAN_CYCLE',
      stepId: 'halve',
      line: self.line,
    });
  });

  it('limits out of bounds: PLAN_LIMIT_OUT_OF_BOUNDS', () => {
    const { text, line } = edit(
      'limits:',
      'limits: { maxCycles: 99000000000, maxMemoryBytes: 1048576, maxOutputBytes: 65536 }',
    );
    expectIssue(onlyError(text), {
      code: 'PLAN_LIMIT_OUT_OF_BOUNDS',
      line,
      mentions: ['maxCycles'],
    });
    const loop = edit('    maxIterations: 3', '    maxIterations: 1000001');
    expectIssue(onlyError(loop.text), {
      code: 'PLAN_LIMIT_OUT_OF_BOUNDS',
      stepId: 'halve',
      line: loop.line,
    });
    // A provider's tighter bound applies too.
    const tight = validatePlan(fixtureText(), { file: 'plan.yaml', bounds: { maxCycles: 1000 } });
    expectIssue(tight.errors[0] as PlanIssue, {
      code: 'PLAN_LIMIT_OUT_OF_BOUNDS',
      line: lineOf(fixtureText(), 'limits:'),
    });
  });

  it('unsupported version: PLAN_UNSUPPORTED_VERSION', () => {
    const { text, line } = edit('version: "1.0"', 'version: "2.0"');
    expectIssue(onlyError(text), { code: 'PLAN_UNSUPPORTED_VERSION', line, mentions: ['2.0'] });
  });

  it('output step missing: PLAN_OUTPUT_STEP_MISSING', () => {
    const { text, line } = edit('output: { step: summary }', 'output: { step: sumary }');
    expectIssue(onlyError(text), {
      code: 'PLAN_OUTPUT_STEP_MISSING',
      line,
      mentions: ['"sumary"'],
    });
  });

  it('duplicate ids: PLAN_DUPLICATE_STEP_ID at the second declaration', () => {
    const { text, line } = edit('    id: priced', '    id: paid-orders');
    const result = validatePlan(text, { file: 'plan.yaml' });
    const issue = result.errors.find((e) => e.code === 'PLAN_DUPLICATE_STEP_ID') as PlanIssue;
    expect(result.errors[0]?.code).toBe('PLAN_DUPLICATE_STEP_ID');
    expectIssue(issue, { code: 'PLAN_DUPLICATE_STEP_ID', stepId: 'paid-orders', line });
  });
});

describe('plan types', () => {
  it('unknown record field in an expression: PLAN_UNKNOWN_RECORD_FIELD', () => {
    const expr = edit('    predicate: {', '    predicate: { op: field, name: payd }');
    expectIssue(onlyError(expr.text), {
      code: 'PLAN_UNKNOWN_RECORD_FIELD',
      stepId: 'paid-orders',
      line: expr.line,
      mentions: ['"payd"'],
    });
    const ref = edit(
      '      total: { op: ref,',
      '      total: { op: ref, step: totals, field: sum }',
    );
    expectIssue(onlyError(ref.text), {
      code: 'PLAN_UNKNOWN_RECORD_FIELD',
      stepId: 'summary',
      line: ref.line,
      mentions: ['"sum"'],
    });
  });

  it('unknown record field named by a step (not an expression) is located at that name', () => {
    const agg = edit('      total: { fn: sum', '      total: { fn: sum, field: amont }');
    const aggIssue = onlyError(agg.text);
    expect(aggIssue.path).toEqual(['steps', 4, 'aggregations', 'total', 'field']);
    expectIssue(aggIssue, {
      code: 'PLAN_UNKNOWN_RECORD_FIELD',
      stepId: 'totals',
      line: agg.line,
      mentions: ['"amont"'],
    });
    const body = edit(
      '    body: {',
      '    body: { unitt: { op: div, args: [{ op: field, name: unit }, { op: lit, value: 2 }] } }',
    );
    const bodyIssue = onlyError(body.text);
    expect(bodyIssue.path).toEqual(['steps', 3, 'body', 'unitt']);
    expectIssue(bodyIssue, {
      code: 'PLAN_UNKNOWN_RECORD_FIELD',
      stepId: 'halve',
      line: body.line,
      mentions: ['"unitt"'],
    });
  });

  it('type mismatch in expressions: PLAN_TYPE_MISMATCH', () => {
    const compare = edit(
      '    while: {',
      '    while: { op: gt, args: [{ op: field, name: unit }, { op: lit, value: one }] }',
    );
    expectIssue(onlyError(compare.text), {
      code: 'PLAN_TYPE_MISMATCH',
      stepId: 'halve',
      line: compare.line,
    });
    const predicate = edit('    predicate: {', '    predicate: { op: field, name: amount }');
    expectIssue(onlyError(predicate.text), {
      code: 'PLAN_TYPE_MISMATCH',
      stepId: 'paid-orders',
      line: predicate.line,
    });
    const arithmetic = edit(
      '        unit: { op: div,',
      '        unit: { op: div, args: [{ op: field, name: customer }, { op: field, name: qty }] }',
    );
    expectIssue(onlyError(arithmetic.text), {
      code: 'PLAN_TYPE_MISMATCH',
      stepId: 'priced',
      line: arithmetic.line,
    });
  });

  it('ref to a multi-record step: PLAN_REF_NOT_SCALAR', () => {
    const { text, line } = edit(
      '      total: { op: ref,',
      '      total: { op: ref, step: halve, field: amount }',
    );
    expectIssue(onlyError(text), {
      code: 'PLAN_REF_NOT_SCALAR',
      stepId: 'summary',
      line,
      mentions: ['"halve"'],
    });
  });

  it('inexact literal: PLAN_INVALID_LITERAL', () => {
    for (const literal of [
      '{ op: lit, value: 0.1234567 }',
      '{ op: dec, value: "0.1234567" }',
      '{ op: lit, value: 1e300 }',
    ]) {
      const { text, line } = edit(
        '      doubled:',
        `      doubled: { op: mul, args: [{ op: ref, step: totals, field: cheapest }, ${literal}] }`,
      );
      expectIssue(onlyError(text), { code: 'PLAN_INVALID_LITERAL', stepId: 'summary', line });
    }
  });
});

// ---------------------------------------------------------------- execution

function runError(text: string, data: InputData): M2mError {
  const validated = assertValidPlan(text, { file: 'plan.yaml' });
  try {
    executePlan(validated, data);
  } catch (error) {
    expect(error).toBeInstanceOf(M2mError);
    return error as M2mError;
  }
  throw new Error('expected executePlan to throw');
}

function expectRunError(error: M2mError, code: string, stepId?: string): void {
  expect(error.code, error.message).toBe(code);
  if (stepId !== undefined) {
    expect(error.stepId).toBe(stepId);
    expect(error.message).toContain(`"${stepId}"`);
  }
}

describe('data', () => {
  it('DATA_SCHEMA_MISMATCH: a missing field, an extra field, a wrong type', () => {
    const records = (change: (r: Record<string, unknown>) => void) => {
      const copy = structuredClone(ORDERS) as Record<string, unknown>[];
      change(copy[1] as Record<string, unknown>);
      return copy;
    };
    const cases: Array<[string, unknown[]]> = [
      [
        'qty',
        records((r) => {
          delete r.qty;
        }),
      ],
      [
        'discount',
        records((r) => {
          r.discount = '1';
        }),
      ],
      [
        'paid',
        records((r) => {
          r.paid = 'yes';
        }),
      ],
      [
        'qty',
        records((r) => {
          r.qty = 1.5;
        }),
      ],
      [
        'customer',
        records((r) => {
          r.customer = 7;
        }),
      ],
      [
        'amount',
        records((r) => {
          r.amount = null;
        }),
      ],
    ];
    for (const [field, data] of cases) {
      const error = runError(fixtureText(), { orders: data });
      expectRunError(error, 'DATA_SCHEMA_MISMATCH', 'orders');
      expect(error.message).toContain(`"${field}"`);
    }
    expectRunError(
      runError(fixtureText(), { orders: [...ORDERS, 'x'] }),
      'DATA_SCHEMA_MISMATCH',
      'orders',
    );
  });

  it('DATA_PRECISION: more than six fractional digits', () => {
    for (const amount of ['1.1234567', 1.1234567, '1e-7']) {
      const data = structuredClone(ORDERS) as Record<string, unknown>[];
      (data[0] as Record<string, unknown>).amount = amount;
      const error = runError(fixtureText(), { orders: data });
      expectRunError(error, 'DATA_PRECISION', 'orders');
      expect(error.message).toContain('"amount"');
    }
  });

  it('DATA_COMMITMENT_MISMATCH: records that differ from the committed ones', () => {
    const changed = structuredClone(ORDERS) as Record<string, unknown>[];
    (changed[0] as Record<string, unknown>).amount = '10.51';
    const reordered = [ORDERS[1], ORDERS[0], ORDERS[2]];
    for (const data of [changed, reordered, ORDERS.slice(0, 2), []]) {
      const error = runError(fixtureText(), { orders: data });
      expectRunError(error, 'DATA_COMMITMENT_MISMATCH', 'orders');
      expect(error.details?.expected).toBe(commitment(ORDERS));
      expect(error.details?.actual).toBe(commitment(data));
    }
    // The same values spelled differently (number vs decimal text) commit identically.
    const respelled = ORDERS.map((r) => ({ ...r, amount: String(r.amount), qty: String(r.qty) }));
    expect(() => executePlan(assertValidPlan(fixtureText()), { orders: respelled })).not.toThrow();
  });

  it('DATA_MISSING: no records for a data-input step', () => {
    expectRunError(runError(fixtureText(), {}), 'DATA_MISSING', 'orders');
    expectRunError(runError(fixtureText(), { other: ORDERS }), 'DATA_MISSING', 'orders');
    expectRunError(
      runError(fixtureText(), { orders: { 0: ORDERS[0] } as unknown as unknown[] }),
      'DATA_MISSING',
      'orders',
    );
  });
});

describe('execution', () => {
  it('EXEC_DIVISION_BY_ZERO names the step that divided', () => {
    const records = [{ customer: 'zed', amount: '5', qty: 0, paid: true }];
    const error = runError(fixtureText({ records }), { orders: records });
    expectRunError(error, 'EXEC_DIVISION_BY_ZERO', 'priced');
  });

  it('EXEC_OVERFLOW beyond the numeric model names the step', () => {
    const records = [{ customer: 'big', amount: '9000000000000', qty: 1, paid: true }];
    // unit = 9e12 -> halved three times -> 1.125e12; doubled = 2.25e12 fits; total fits.
    expect(() =>
      executePlan(assertValidPlan(fixtureText({ records })), { orders: records }),
    ).not.toThrow();
    const two = [...records, { customer: 'big2', amount: '9000000000000', qty: 1, paid: true }];
    // total = 1.8e13 > 9.22e12: the aggregate overflows.
    expectRunError(
      runError(fixtureText({ records: two }), { orders: two }),
      'EXEC_OVERFLOW',
      'totals',
    );
  });

  it('EXEC_LIMIT_CYCLES names the step that ran out', () => {
    const limits = '{ maxCycles: 60, maxMemoryBytes: 1048576, maxOutputBytes: 65536 }';
    const error = runError(fixtureText({ limits }), { orders: ORDERS });
    expect(error.code).toBe('EXEC_LIMIT_CYCLES');
    expect(['orders', 'paid-orders', 'priced', 'halve', 'totals', 'summary']).toContain(
      error.stepId,
    );
    expect(error.message).toContain(`"${error.stepId}"`);
    expect(error.message).toContain('60');
  });

  it('EXEC_LIMIT_MEMORY names the step whose records did not fit', () => {
    const limits = '{ maxCycles: 1000000, maxMemoryBytes: 300, maxOutputBytes: 65536 }';
    const error = runError(fixtureText({ limits }), { orders: ORDERS });
    expectRunError(error, 'EXEC_LIMIT_MEMORY', 'orders');
  });

  it('EXEC_LIMIT_OUTPUT when the output is larger than allowed', () => {
    const limits = '{ maxCycles: 1000000, maxMemoryBytes: 1048576, maxOutputBytes: 20 }';
    const error = runError(fixtureText({ limits }), { orders: ORDERS });
    expect(error.code).toBe('EXEC_LIMIT_OUTPUT');
    expect(error.message).toContain('20');
  });

  it('EXEC_EMPTY_AGGREGATE: min over no records', () => {
    const records = ORDERS.map((r) => ({ ...r, paid: false }));
    const error = runError(fixtureText({ records }), { orders: records });
    expectRunError(error, 'EXEC_EMPTY_AGGREGATE', 'totals');
    expect(error.message).toContain('"cheapest"');
  });

  describe('EXEC_PARSE_FAILED: text inside a record that does not parse', () => {
    const parsePlan = (format: 'json' | 'csv', bodies: string[]) => {
      const records = bodies.map((body, page) => ({ page, body }));
      const fields = { page: 'integer', body: 'string' };
      const root = commitment(records, fields);
      const text = [
        'version: "1.0"',
        'id: parse-fixture',
        `jobRequestHash: ${JOB}`,
        'steps:',
        '  - type: data-input',
        '    id: pages',
        `    dataCommitment: ${root}`,
        '    source: { type: api }',
        '    schema: { fields: { page: integer, body: string } }',
        '  - type: transform',
        '    id: items',
        '    input: pages',
        `    operation: { op: parse, format: ${format}, field: body, schema: { fields: { sku: string, price: decimal } } }`,
        'output: { step: items }',
        'limits: { maxCycles: 1000000, maxMemoryBytes: 1048576, maxOutputBytes: 65536 }',
      ].join('\n');
      return { text, data: { pages: records } };
    };

    it('valid JSON and CSV bodies parse', () => {
      const json = parsePlan('json', [
        '[{"sku": "a", "price": "1.5"}]',
        '{"sku": "b", "price": 2}',
      ]);
      expect(executePlan(assertValidPlan(json.text), json.data).output).toEqual([
        { sku: 'a', price: '1.5' },
        { sku: 'b', price: '2' },
      ]);
      const csv = parsePlan('csv', ['sku,price\na,1.5\n"b,c",2']);
      expect(executePlan(assertValidPlan(csv.text), csv.data).output).toEqual([
        { sku: 'a', price: '1.5' },
        { sku: 'b,c', price: '2' },
      ]);
    });

    it.each([
      ['json', 'truncated JSON', ['[{"sku": "a", "price": "1"}]', '[{"sku": "a", ']],
      ['json', 'an item missing a field', ['[{"sku": "a"}]']],
      ['json', 'a value with too many decimals', ['[{"sku": "a", "price": "0.1234567"}]']],
      ['json', 'an item that is not an object', ['[1, 2]']],
      ['csv', 'an unterminated quote', ['sku,price\n"a,1']],
      ['csv', 'a row with too many cells', ['sku,price\na,1,2']],
    ] as const)('%s: %s', (format, _what, bodies) => {
      const { text, data } = parsePlan(format, [...bodies]);
      const error = runError(text, data);
      expectRunError(error, 'EXEC_PARSE_FAILED', 'items');
    });
  });
});
