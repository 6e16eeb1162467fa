import { describe, expect, it } from 'vitest';
import { M2mError } from '../../zkvm/errors.js';
import { f, input, lit, op, ref, run } from '../support/build.js';

const nums = input('nums', { k: 'string', v: 'decimal' }, [
  { k: 'b', v: '2.5' },
  { k: 'a', v: 1 },
  { k: 'b', v: '-4' },
  { k: 'a', v: '0.000001' },
]);

describe('reference executor semantics', () => {
  it('map assigns simultaneously from the incoming record', () => {
    const r = run(
      [nums],
      [
        {
          type: 'transform',
          id: 'm',
          input: 'nums',
          operation: { op: 'map', assign: { v: op('add', f('v'), lit(1)), w: f('v') } },
        },
      ],
      'm',
    );
    expect(r.output[0]).toEqual({ k: 'b', v: '3.5', w: '2.5' });
  });

  it('groups are emitted sorted by key; sums are exact', () => {
    const r = run(
      [nums],
      [
        {
          type: 'aggregate',
          id: 'g',
          input: 'nums',
          groupBy: ['k'],
          aggregations: {
            s: { fn: 'sum', field: 'v' },
            n: { fn: 'count' },
            m: { fn: 'median', field: 'v' },
          },
        },
      ],
      'g',
    );
    expect(r.output).toEqual([
      { k: 'a', s: '1.000001', n: '2', m: '0.5' },
      { k: 'b', s: '-1.5', n: '2', m: '-0.75' },
    ]);
  });

  it('several inputs are concatenated in the listed order', () => {
    const other = input('other', { k: 'string', v: 'decimal' }, [{ k: 'z', v: 9 }]);
    const r = run(
      [nums, other],
      [
        {
          type: 'aggregate',
          id: 'g',
          input: ['other', 'nums'],
          aggregations: { first: { fn: 'first', field: 'k' }, last: { fn: 'last', field: 'k' } },
        },
      ],
      'g',
    );
    expect(r.output).toEqual([{ first: 'z', last: 'a' }]);
  });

  it('division truncates toward zero at six decimals', () => {
    const r = run(
      [nums],
      [
        {
          type: 'compute',
          id: 'c',
          assign: {
            third: op('div', lit(1), lit(3)),
            negThird: op('div', lit(-1), lit(3)),
            mod: op('mod', lit(-7), lit(3)),
          },
        },
      ],
      'c',
    );
    expect(r.output).toEqual([{ third: '0.333333', negThird: '-0.333333', mod: '-1' }]);
  });

  it('a branch runs only its chosen arm (the other would divide by zero)', () => {
    const r = run(
      [nums],
      [
        { type: 'aggregate', id: 'stats', input: 'nums', aggregations: { n: { fn: 'count' } } },
        { type: 'compute', id: 'safe', assign: { x: lit(1) } },
        { type: 'compute', id: 'boom', assign: { x: op('div', lit(1), lit(0)) } },
        {
          type: 'branch',
          id: 'pick',
          condition: op('gt', ref('stats', 'n'), lit(0)),
          then: 'safe',
          else: 'boom',
        },
      ],
      'pick',
    );
    expect(r.output).toEqual([{ x: '1' }]);
    expect(r.executedSteps).not.toContain('boom');
  });

  it('a loop stops at maxIterations even when its condition still holds', () => {
    const one = input('one', { n: 'integer' }, [{ n: 0 }]);
    const r = run(
      [one],
      [
        {
          type: 'loop',
          id: 'l',
          input: 'one',
          maxIterations: 7,
          while: lit(true),
          body: { n: op('add', f('n'), lit(1)) },
        },
      ],
      'l',
    );
    expect(r.output).toEqual([{ n: '7' }]);
  });

  it('strings order by code point (UTF-8 byte order), not UTF-16 units', () => {
    const s = input('s', { t: 'string' }, [{ t: '\u{1F600}' }, { t: '\uFF61' }, { t: 'a' }]);
    const r = run(
      [s],
      [{ type: 'transform', id: 'x', input: 's', operation: { op: 'select', fields: ['t'] } }],
      { step: 'x', sortBy: [{ field: 't' }] },
    );
    expect(r.output.map((o) => o.t)).toEqual(['a', '\uFF61', '\u{1F600}']);
  });

  it('and/or short-circuit, so a guarded division never runs', () => {
    const r = run(
      [nums],
      [
        {
          type: 'filter',
          id: 'flt',
          input: 'nums',
          predicate: op(
            'and',
            op('ne', f('v'), lit(0)),
            op('gt', op('div', lit(1), f('v')), lit(0)),
          ),
        },
      ],
      'flt',
    );
    expect(r.output.length).toBe(3);
  });

  it('parse csv and serialize json round-trip exactly', () => {
    const raw = input('raw', { body: 'string' }, [
      { body: 'name,qty,ok\n"a,b",3,true\nc,4.5,false\r\n' },
    ]);
    const r = run(
      [raw],
      [
        {
          type: 'transform',
          id: 'p',
          input: 'raw',
          operation: {
            op: 'parse',
            format: 'csv',
            field: 'body',
            schema: { fields: { name: 'string', qty: 'decimal', ok: 'boolean' } },
          },
        },
        {
          type: 'transform',
          id: 's',
          input: 'p',
          operation: { op: 'serialize', format: 'json', field: 'json' },
        },
      ],
      's',
    );
    expect(r.output).toEqual([
      { json: '[{"name":"a,b","ok":true,"qty":"3"},{"name":"c","ok":false,"qty":"4.5"}]' },
    ]);
  });

  it('errors inside a step carry the step id and a stable code', () => {
    try {
      run(
        [nums],
        [
          {
            type: 'transform',
            id: 'm',
            input: 'nums',
            operation: { op: 'map', assign: { z: op('div', f('v'), lit(0)) } },
          },
        ],
        'm',
      );
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(M2mError);
      expect((error as M2mError).code).toBe('EXEC_DIVISION_BY_ZERO');
      expect((error as M2mError).stepId).toBe('m');
      expect((error as M2mError).message).toContain('step "m"');
    }
  });

  it('meters cycles identically across runs and counts more work as more cycles', () => {
    const steps = [
      { type: 'filter', id: 'flt', input: 'nums', predicate: op('gt', f('v'), lit(0)) },
    ];
    const a = run([nums], steps, 'flt');
    const b = run([nums], steps, 'flt');
    expect(a.cyclesUsed).toBe(b.cyclesUsed);
    const bigger = input('nums', { k: 'string', v: 'decimal' }, [...nums.records, ...nums.records]);
    expect(run([bigger], steps, 'flt').cyclesUsed).toBeGreaterThan(a.cyclesUsed);
  });
});
