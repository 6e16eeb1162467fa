import { beforeAll, describe, expect, it } from 'vitest';
import { coerceInput } from '../../zkvm/exec/data.js';
import type { DataInputStep } from '../../zkvm/plan/schema.js';
import { valueTypeOf } from '../../zkvm/plan/typecheck.js';
import { assertValidPlan } from '../../zkvm/plan/validate.js';
import { PARSE_KEY_BASE } from '../../zkvm/plan-proof/compile.js';
import { digestToHex, encodeRecords } from '../../zkvm/plan-proof/encode.js';
import { blobDigests, hashFelts } from '../../zkvm/plan-proof/native.js';
import { planStackInputs, preparePlanProof, runProgram } from '../../zkvm/plan-proof/prove.js';
import { findNativeProver } from '../../zkvm/prover/native-process.js';
import { input, plan } from '../support/build.js';

/**
 * Text in plan proofs (m2m::plan::text): `parse (json)`, `serialize (csv)`, `toString` and
 * `toNumber` compiled to Miden assembly give exactly the reference executor's output, and text
 * the reference rejects makes the VM fail with the same code.
 */
beforeAll(() => {
  if (findNativeProver() === undefined)
    throw new Error(
      'm2m-prover is not built: run `npm run build:prover` (CI builds it in .ci/run)',
    );
});

const ITEM_SCHEMA = {
  fields: { active: 'boolean', id: 'string', note: 'string', price: 'decimal', qty: 'integer' },
} as const;

const PAGES = [
  {
    page: 0,
    body: '[{"id": "a-1", "price": "12.30", "qty": 7, "active": true, "note": "plain"}, {"qty": -3, "note": "with, comma", "active": false, "price": 0.5, "id": "b-2"}]',
  },
  { page: 1, body: '  {"id":"single","price":"-0.75","qty":"40","active":false,"note":""}  ' },
  { page: 2, body: '[]' },
  { page: 3, body: '[\n  {"id": "ünï", "price": 100, "qty": 0, "active": true, "note": "ok"}\n]' },
];

/** pages -> items (parse json) -> priced (toString/toNumber) -> csv (serialize csv). */
function textPlan(pages: unknown[], schema: unknown = ITEM_SCHEMA) {
  const source = input('pages', { page: 'integer', body: 'string' }, pages);
  const steps = [
    source.step,
    {
      type: 'transform',
      id: 'items',
      input: 'pages',
      operation: { op: 'parse', format: 'json', field: 'body', schema },
    },
    {
      type: 'transform',
      id: 'priced',
      input: 'items',
      operation: {
        op: 'map',
        assign: {
          label: {
            op: 'concat',
            args: [
              { op: 'toString', args: [{ op: 'field', name: 'price' }] },
              { op: 'lit', value: ' x ' },
              { op: 'toString', args: [{ op: 'field', name: 'qty' }] },
              { op: 'lit', value: ' ' },
              { op: 'toString', args: [{ op: 'field', name: 'active' }] },
            ],
          },
          roundTrip: {
            op: 'toNumber',
            args: [{ op: 'toString', args: [{ op: 'field', name: 'price' }] }],
          },
          parsed: { op: 'toNumber', args: [{ op: 'lit', value: '-0012.500' }] },
        },
      },
    },
    {
      type: 'transform',
      id: 'csv',
      input: 'priced',
      operation: { op: 'serialize', format: 'csv', field: 'csv' },
    },
  ];
  const validated = assertValidPlan(plan(steps, 'csv'));
  return { validated, data: { pages } as Record<string, unknown[]>, step: source.step };
}

/** Runs the compiled program and checks its output hash against the reference output. */
async function expectVmEqualsReference(
  validated: ReturnType<typeof assertValidPlan>,
  data: Record<string, unknown[]>,
) {
  const prepared = preparePlanProof(validated, data);
  const run = await runProgram(
    prepared.compiled.masm,
    prepared.stackInputs,
    prepared.witness.advice,
  );
  expect(digestToHex(run.stackOutputs.slice(0, 4).map(BigInt))).toBe(
    digestToHex(prepared.expectedOutput),
  );
  return prepared;
}

/**
 * Runs the program of a plan prepared on `good` data over `bad` data: the blob, the data root and
 * the parse hint are the bad data's, as a dishonest prover would supply them.
 */
async function runOnOtherData(good: unknown[], bad: unknown[], badCount: number) {
  const { validated, data, step } = textPlan(good);
  const prepared = preparePlanProof(validated, data);
  const types = new Map(
    Object.entries((step as DataInputStep).schema.fields).map(([n, t]) => [n, valueTypeOf(t)]),
  );
  const blob = encodeRecords(coerceInput(step, bad).records, types);
  const advice = prepared.witness.advice.map((entry) =>
    entry.key === 1_000_000n
      ? { key: entry.key, values: blob }
      : entry.key === BigInt(PARSE_KEY_BASE)
        ? { key: entry.key, values: [BigInt(badCount)] }
        : entry,
  );
  const root = hashFelts(blobDigests([blob]));
  return runProgram(prepared.compiled.masm, planStackInputs(validated.planHash, root), advice);
}

describe('parse (json), serialize (csv), toString and toNumber in the VM', () => {
  it('equal the reference on arrays, a single object, an empty array, any key order', async () => {
    const { validated, data } = textPlan(PAGES);
    const prepared = await expectVmEqualsReference(validated, data);
    const csv = prepared.execution.output[0]?.csv as string;
    expect(csv.split('\n')).toEqual([
      'active,id,label,note,parsed,price,qty,roundTrip',
      'true,a-1,12.3 x 7 true,plain,-12.5,12.3,7,12.3',
      'false,b-2,0.5 x -3 false,"with, comma",-12.5,0.5,-3,0.5',
      'false,single,-0.75 x 40 false,,-12.5,-0.75,40,-0.75',
      'true,ünï,100 x 0 true,ok,-12.5,100,0,100',
    ]);
  });

  it('serializes quotes, commas and line breaks the way formatCsv does, and no records as ""', async () => {
    const rows = input('rows', { name: 'string', n: 'decimal', b: 'boolean' }, [
      { name: 'say "hi"', n: '1.000001', b: true },
      { name: 'a,b', n: '-7', b: false },
      { name: 'two\nlines', n: '0', b: true },
      { name: 'cr\r', n: '123456789.5', b: false },
      { name: '', n: '-0.000001', b: true },
    ]);
    const serialize = (inputId: string) => ({
      type: 'transform',
      id: 'csv',
      input: inputId,
      operation: { op: 'serialize', format: 'csv', field: 'text' },
    });
    const all = assertValidPlan(plan([rows.step, serialize('rows')], 'csv'));
    const data = { rows: rows.records };
    const prepared = await expectVmEqualsReference(all, data);
    expect(prepared.execution.output[0]?.text).toContain('"say ""hi"""');
    const none = assertValidPlan(
      plan(
        [
          rows.step,
          {
            type: 'filter',
            id: 'nothing',
            input: 'rows',
            predicate: {
              op: 'lt',
              args: [
                { op: 'field', name: 'n' },
                { op: 'lit', value: -100 },
              ],
            },
          },
          serialize('nothing'),
        ],
        'csv',
      ),
    );
    const empty = await expectVmEqualsReference(none, data);
    expect(empty.execution.output).toEqual([{ text: '' }]);
  });

  it('text the reference rejects fails in the VM with the reference code', async () => {
    const good = [{ page: 0, body: PAGES[1]?.body }];
    const object = (fields: string) => [{ page: 0, body: `[${fields}]` }];
    const cases: [string, unknown[], number, string][] = [
      [
        'missing field',
        object('{"id":"a","price":1,"qty":1,"active":true}'),
        1,
        'EXEC_PARSE_FAILED',
      ],
      [
        'unknown key',
        object('{"id":"a","price":1,"qty":1,"active":true,"note":"","x":1}'),
        1,
        'EXEC_PARSE_FAILED',
      ],
      [
        'a string where a boolean belongs',
        object('{"id":"a","price":1,"qty":1,"active":"yes","note":""}'),
        1,
        'EXEC_PARSE_FAILED',
      ],
      [
        'a fraction where an integer belongs',
        object('{"id":"a","price":1,"qty":1.5,"active":true,"note":""}'),
        1,
        'EXEC_PARSE_FAILED',
      ],
      ['invalid JSON', object('{"id":"a",}'), 1, 'EXEC_PARSE_FAILED'],
      [
        'a repeated key (refused: JSON.parse keeps the last one)',
        object('{"id":"a","id":"b","price":1,"qty":1,"active":true,"note":""}'),
        1,
        'M2M_TEXT_UNSUPPORTED',
      ],
      [
        'a wrong record-count hint',
        object('{"id":"a","price":1,"qty":1,"active":true,"note":""}'),
        2,
        'M2M_PLAN_BAD_HINT',
      ],
    ];
    for (const [name, bad, count, code] of cases) {
      await expect(runOnOtherData(good, bad, count), name).rejects.toMatchObject({ code });
    }
  });
});
