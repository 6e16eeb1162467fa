import { describe, expect, it } from 'vitest';
import { validatePlan } from '../../zkvm/plan/validate.js';
import { f, input, lit, op, plan } from '../support/build.js';

const src = input('src', { v: 'decimal' }, [{ v: 1 }]);

describe('validatePlan', () => {
  it('orders independent steps by declaration (deterministic tie-break)', () => {
    const p = plan(
      [
        { type: 'filter', id: 'late', input: 'src', predicate: lit(true) },
        src.step,
        { type: 'filter', id: 'early', input: 'src', predicate: lit(true) },
        {
          type: 'aggregate',
          id: 'both',
          input: ['early', 'late'],
          aggregations: { n: { fn: 'count' } },
        },
      ],
      'both',
    );
    expect(validatePlan(p).executionOrder).toEqual(['src', 'late', 'early', 'both']);
  });

  it('warns about steps that do not reach the output', () => {
    const p = plan(
      [src.step, { type: 'filter', id: 'unused', input: 'src', predicate: lit(true) }],
      'src',
    );
    const r = validatePlan(p);
    expect(r.valid).toBe(true);
    expect(r.warnings.map((w) => w.code)).toEqual(['PLAN_UNUSED_STEP']);
  });

  it('reports every step of a cycle in execution direction', () => {
    const p = plan(
      [
        src.step,
        { type: 'filter', id: 'a', input: 'c', predicate: lit(true) },
        { type: 'filter', id: 'b', input: 'a', predicate: lit(true) },
        { type: 'filter', id: 'c', input: 'b', predicate: lit(true) },
      ],
      'c',
    );
    const r = validatePlan(p);
    expect(r.errors.map((e) => [e.code, e.message])).toEqual([
      ['PLAN_CYCLE', 'steps form a cycle: a -> b -> c -> a'],
    ]);
  });

  it('refuses nesting deeper than 128 levels with PLAN_TOO_DEEP, for objects and text', () => {
    let expr: unknown = lit(1);
    for (let i = 0; i < 200; i++) expr = op('neg', expr);
    const p = plan([{ type: 'compute', id: 'c', assign: { x: expr } }], 'c');
    expect(validatePlan(p).errors[0]?.code).toBe('PLAN_TOO_DEEP');
    expect(validatePlan(JSON.stringify(p), { file: 'deep.json' }).errors[0]?.code).toBe(
      'PLAN_TOO_DEEP',
    );
  });

  it('applies configured bounds to limits', () => {
    const p = plan([src.step], 'src', { maxCycles: 5000 });
    expect(validatePlan(p, { bounds: { maxCycles: 4999 } }).errors[0]?.code).toBe(
      'PLAN_LIMIT_OUT_OF_BOUNDS',
    );
    expect(validatePlan(p, { bounds: { maxCycles: 5000 } }).valid).toBe(true);
  });

  it('gives the same hash for a plan object and its text, and a different one after any change', () => {
    const p = plan(
      [src.step, { type: 'filter', id: 'x', input: 'src', predicate: op('gt', f('v'), lit(0)) }],
      'x',
    );
    const h = validatePlan(p).planHash;
    expect(validatePlan(JSON.stringify(p, null, 3)).planHash).toBe(h);
    expect(validatePlan({ ...p, id: 'other' }).planHash).not.toBe(h);
  });
});
