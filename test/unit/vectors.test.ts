import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { numericVectors, numericVectorsText } from '../../zkvm/numeric/vectors.js';

describe('numeric model vectors for other implementations', () => {
  it('guest/vectors/numeric-v1.json is up to date (run `npm run vectors:export`)', () => {
    const committed = readFileSync(
      new URL('../../guest/vectors/numeric-v1.json', import.meta.url),
      'utf8',
    );
    expect(committed).toBe(numericVectorsText());
  });

  it('covers every operation, overflow and division by zero', () => {
    const { vectors } = numericVectors();
    const ops = new Set(vectors.map((v) => v.op));
    for (const op of [
      'add',
      'sub',
      'mul',
      'div',
      'mod',
      'cmp',
      'neg',
      'abs',
      'floor',
      'ceil',
      'round0',
      'round6',
    ])
      expect(ops).toContain(op);
    expect(vectors.some((v) => v.error === 'EXEC_OVERFLOW')).toBe(true);
    expect(vectors.some((v) => v.error === 'EXEC_DIVISION_BY_ZERO')).toBe(true);
    // Spot checks against the documented semantics (truncation toward zero).
    const find = (op: string, a: string, b: string) =>
      vectors.find((v) => v.op === op && v.args[0] === a && v.args[1] === b);
    expect(find('div', '-1', '1000000')?.result).toBe('-1');
    expect(find('mul', '-1', '1')?.result).toBe('0');
  });
});
