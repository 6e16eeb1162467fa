import { isM2mError } from '../errors.js';
import * as D from './decimal.js';

/**
 * Test vectors of the numeric model for other implementations (the Rust/Miden plan prover):
 * every result the reference gives, or the error code it fails with. Values are mantissas
 * (i64, scale 10^6) as decimal strings. Deterministic: edge values plus a seeded sample.
 */
export interface NumericVector {
  op: string;
  args: string[];
  result?: string;
  error?: string;
}

const EDGES: bigint[] = [
  0n,
  1n,
  -1n,
  D.SCALE,
  -D.SCALE,
  D.SCALE / 2n,
  -(D.SCALE / 2n),
  D.NUM_MAX,
  D.NUM_MIN,
  D.NUM_MAX - 1n,
  D.NUM_MIN + 1n,
  2n ** 32n,
  2n ** 32n - 1n,
  -(2n ** 32n),
  3037000499n,
  -3037000499n,
  123_456_789n,
  -987_654_321n,
  10n ** 12n,
  10n ** 18n,
];

function sample(count: number, seed: number): bigint[] {
  let a = seed;
  const next = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
  return Array.from({ length: count }, () => {
    const bits = BigInt(next() % 63) + 1n;
    const magnitude = ((BigInt(next()) << 32n) | BigInt(next())) % 2n ** bits;
    return next() % 2 === 0 ? magnitude : -magnitude;
  });
}

function attempt(op: string, args: bigint[], fn: () => bigint): NumericVector {
  try {
    return { op, args: args.map(String), result: String(fn()) };
  } catch (error) {
    if (!isM2mError(error)) throw error;
    return { op, args: args.map(String), error: error.code };
  }
}

export function numericVectors(): { version: 1; scaleDigits: number; vectors: NumericVector[] } {
  const values = [...EDGES, ...sample(40, 20261121)];
  const randomPairs = sample(400, 7).map((x, i) => [x, sample(400, 11)[i] as bigint] as const);
  const pairs = [...EDGES.flatMap((a) => EDGES.map((b) => [a, b] as const)), ...randomPairs];
  const vectors: NumericVector[] = [];
  const binary: [string, (a: bigint, b: bigint) => bigint][] = [
    ['add', D.add],
    ['sub', D.sub],
    ['mul', D.mul],
    ['div', D.div],
    ['mod', D.mod],
    ['cmp', (a, b) => BigInt(D.compareNum(a, b))],
  ];
  for (const [a, b] of pairs)
    for (const [op, fn] of binary) vectors.push(attempt(op, [a, b], () => fn(a, b)));
  for (const x of values) {
    vectors.push(attempt('neg', [x], () => D.neg(x)));
    vectors.push(attempt('abs', [x], () => D.abs(x)));
    vectors.push(attempt('floor', [x], () => D.floor(x)));
    vectors.push(attempt('ceil', [x], () => D.ceil(x)));
    for (let digits = 0; digits <= D.SCALE_DIGITS; digits++)
      vectors.push(attempt(`round${digits}`, [x], () => D.round(x, digits)));
  }
  return { version: 1, scaleDigits: D.SCALE_DIGITS, vectors };
}

export const numericVectorsText = (): string => `${JSON.stringify(numericVectors())}\n`;
