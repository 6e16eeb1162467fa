import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { M2mError } from '../../zkvm/errors.js';
import * as D from '../../zkvm/numeric/decimal.js';
import { mantissaArb } from '../support/arbitraries.js';

/**
 * The numeric model against a bigint oracle. A number is an i64 mantissa m standing for
 * m / 10^6. Oracles below only divide non-negative bigints (where `/` is plain floor
 * division), so they do not share the implementation's reliance on truncating `/`.
 */
const S = 1_000_000n;
const MIN = -(2n ** 63n);
const MAX = 2n ** 63n - 1n;
const RUNS = { numRuns: 2000 };

const inRange = (x: bigint) => x >= MIN && x <= MAX;
const absB = (x: bigint) => (x < 0n ? -x : x);
const signB = (x: bigint) => (x < 0n ? -1n : x > 0n ? 1n : 0n);
/** Exact quotient truncated toward zero. */
const truncDiv = (a: bigint, b: bigint) => signB(a) * signB(b) * (absB(a) / absB(b));
/** Largest integer (multiple of S) <= a. */
const floorOracle = (a: bigint) => (a >= 0n ? (a / S) * S : -(((-a + S - 1n) / S) * S));

function thrownBy(run: () => unknown): M2mError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(M2mError);
    return error as M2mError;
  }
  throw new Error('expected an M2mError, nothing was thrown');
}

/** The operation returns `exact` when it fits the model and throws EXEC_OVERFLOW otherwise. */
function expectChecked(run: () => bigint, exact: bigint): void {
  if (inRange(exact)) expect(run()).toBe(exact);
  else expect(thrownBy(run).code).toBe('EXEC_OVERFLOW');
}

const nonZero = mantissaArb.filter((b) => b !== 0n);

describe('numeric model constants', () => {
  it('is an i64 mantissa with six decimals', () => {
    expect(D.NUM_MIN).toBe(MIN);
    expect(D.NUM_MAX).toBe(MAX);
    expect(D.SCALE).toBe(S);
    expect(D.SCALE_DIGITS).toBe(6);
  });
});

describe('arithmetic against a bigint oracle', () => {
  it('add and sub are exact and overflow exactly outside [-2^63, 2^63-1]', () => {
    fc.assert(
      fc.property(mantissaArb, mantissaArb, (a, b) => {
        expectChecked(() => D.add(a, b), a + b);
        expectChecked(() => D.sub(a, b), a - b);
      }),
      RUNS,
    );
  });

  it('neg and abs are exact and overflow only for -2^63', () => {
    fc.assert(
      fc.property(mantissaArb, (a) => {
        expectChecked(() => D.neg(a), -a);
        expectChecked(() => D.abs(a), absB(a));
      }),
      RUNS,
    );
    expect(thrownBy(() => D.neg(MIN)).code).toBe('EXEC_OVERFLOW');
    expect(thrownBy(() => D.abs(MIN)).code).toBe('EXEC_OVERFLOW');
  });

  it('mul = trunc(a*b / 10^6), overflowing exactly when that leaves the range', () => {
    fc.assert(
      fc.property(mantissaArb, mantissaArb, (a, b) => {
        expectChecked(() => D.mul(a, b), truncDiv(a * b, S));
      }),
      RUNS,
    );
    // Truncation toward zero, not toward -infinity: -0.000001 * 0.5 = -0.0000005 -> 0.
    expect(D.mul(-1n, 500_000n)).toBe(0n);
    expect(D.mul(-3n, 500_000n)).toBe(-1n);
  });

  it('mul by one and by zero', () => {
    fc.assert(
      fc.property(mantissaArb, (a) => {
        expect(D.mul(a, S)).toBe(a);
        expect(D.mul(S, a)).toBe(a);
        expect(D.mul(a, 0n)).toBe(0n);
      }),
      RUNS,
    );
  });

  it('mul and add are commutative (including whether they overflow)', () => {
    fc.assert(
      fc.property(mantissaArb, mantissaArb, (a, b) => {
        for (const op of [D.add, D.mul]) {
          let x: bigint | string;
          let y: bigint | string;
          try {
            x = op(a, b);
          } catch (error) {
            x = (error as M2mError).code;
          }
          try {
            y = op(b, a);
          } catch (error) {
            y = (error as M2mError).code;
          }
          expect(x).toEqual(y);
        }
      }),
      RUNS,
    );
  });

  it('div = trunc(a*10^6 / b), overflowing exactly when that leaves the range', () => {
    fc.assert(
      fc.property(mantissaArb, nonZero, (a, b) => {
        expectChecked(() => D.div(a, b), truncDiv(a * S, b));
      }),
      RUNS,
    );
    expect(D.div(-1n, 3n * S)).toBe(0n);
    expect(D.div(-2n * S, 3n * S)).toBe(-666_666n);
    // The one overflow of integer division: MIN / -1.
    expect(thrownBy(() => D.div(MIN, -S)).code).toBe('EXEC_OVERFLOW');
  });

  it('div by one is the identity; div by zero is EXEC_DIVISION_BY_ZERO', () => {
    fc.assert(
      fc.property(mantissaArb, (a) => {
        expect(D.div(a, S)).toBe(a);
        expect(thrownBy(() => D.div(a, 0n)).code).toBe('EXEC_DIVISION_BY_ZERO');
        expect(thrownBy(() => D.mod(a, 0n)).code).toBe('EXEC_DIVISION_BY_ZERO');
      }),
      RUNS,
    );
  });

  it('mod has the sign of the dividend, |r| < |b|, a = trunc(a/b)*b + r, and never overflows', () => {
    fc.assert(
      fc.property(mantissaArb, nonZero, (a, b) => {
        const r = D.mod(a, b);
        expect(r).toBe(a - truncDiv(a, b) * b);
        expect(absB(r) < absB(b)).toBe(true);
        if (r !== 0n) expect(signB(r)).toBe(signB(a));
      }),
      RUNS,
    );
    expect(D.mod(MIN, -1n)).toBe(0n);
    expect(D.mod(-7n * S, 2n * S)).toBe(-S);
  });
});

describe('decimal text', () => {
  const CANONICAL = /^-?(0|[1-9]\d*)(\.\d*[1-9])?$/;

  it('formatDecimal is canonical and parseDecimal inverts it for every mantissa', () => {
    fc.assert(
      fc.property(mantissaArb, (m) => {
        const text = D.formatDecimal(m);
        expect(text).toMatch(CANONICAL);
        expect(text).not.toBe('-0');
        expect(D.parseDecimal(text)).toBe(m);
        // The text denotes m / 10^6 exactly.
        const [whole, fraction = ''] = text.replace('-', '').split('.');
        const magnitude = BigInt(whole as string) * S + BigInt(fraction.padEnd(6, '0'));
        expect(text.startsWith('-') ? -magnitude : magnitude).toBe(m);
      }),
      RUNS,
    );
    expect(D.formatDecimal(MIN)).toBe('-9223372036854.775808');
    expect(D.formatDecimal(MAX)).toBe('9223372036854.775807');
  });

  it('parseDecimal accepts every spelling of a value: padding zeros and exponents', () => {
    fc.assert(
      fc.property(
        mantissaArb,
        fc.nat({ max: 5 }),
        fc.nat({ max: 5 }),
        fc.integer({ min: -8, max: 8 }),
        (m, lead, trail, shift) => {
          const text = D.formatDecimal(m);
          const negative = text.startsWith('-');
          const [whole, fraction = ''] = text.replace('-', '').split('.');
          const padded = `${negative ? '-' : ''}${'0'.repeat(lead)}${whole}.${fraction}${'0'.repeat(trail + 1)}`;
          expect(D.parseDecimal(padded)).toBe(m);
          // m * 10^-6 written with an exponent: "<m>e-6", "<m*10^k>e-(6+k)".
          expect(D.parseDecimal(`${m}e-6`)).toBe(m);
          expect(D.parseDecimal(`${m}E-6`)).toBe(m);
          if (shift >= 0) expect(D.parseDecimal(`${m}${'0'.repeat(shift)}e-${6 + shift}`)).toBe(m);
        },
      ),
      RUNS,
    );
    expect(D.parseDecimal('1.25e3')).toBe(1_250_000_000n);
    expect(D.parseDecimal('1e+2')).toBe(100_000_000n);
    expect(D.parseDecimal('-0')).toBe(0n);
    expect(D.parseDecimal('0.0000000')).toBe(0n);
  });

  it('parseDecimal throws DATA_PRECISION for more than six significant fractional digits', () => {
    fc.assert(
      fc.property(mantissaArb, fc.integer({ min: 1, max: 9 }), (m, digit) => {
        const text = D.formatDecimal(m);
        const withFraction = text.includes('.') ? text : `${text}.`;
        const [, fraction = ''] = withFraction.split('.');
        const extra = `${withFraction}${'0'.repeat(6 - fraction.length)}${digit}`;
        expect(thrownBy(() => D.parseDecimal(extra)).code).toBe('DATA_PRECISION');
      }),
      RUNS,
    );
    expect(thrownBy(() => D.parseDecimal('0.1234567')).code).toBe('DATA_PRECISION');
    expect(thrownBy(() => D.parseDecimal('1e-7')).code).toBe('DATA_PRECISION');
  });

  it('parseDecimal overflows with EXEC_OVERFLOW exactly outside the range', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }), (m) => {
        expectChecked(() => D.parseDecimal(`${m}e-6`) as bigint, m);
      }),
      RUNS,
    );
    expect(D.parseDecimal('9223372036854.775807')).toBe(MAX);
    expect(thrownBy(() => D.parseDecimal('9223372036854.775808')).code).toBe('EXEC_OVERFLOW');
    expect(D.parseDecimal('-9223372036854.775808')).toBe(MIN);
    expect(thrownBy(() => D.parseDecimal('-9223372036854.775809')).code).toBe('EXEC_OVERFLOW');
  });

  it('parseDecimal returns undefined for text that is not a decimal', () => {
    for (const text of [
      '',
      '-',
      '+1',
      '.5',
      '1.',
      '1e',
      'abc',
      '1_000',
      ' 1',
      '0x10',
      'NaN',
      '1,5',
    ])
      expect(D.parseDecimal(text), text).toBeUndefined();
  });

  it('fromJsonNumber agrees with parseDecimal(String(n)) for every double', () => {
    const doubles = fc.oneof(
      fc.double(),
      fc.double({ min: -1e13, max: 1e13, noNaN: true }),
      fc.integer(),
      fc.constantFrom(
        0,
        -0,
        0.1,
        0.000001,
        0.0000001,
        1e-7,
        5e-324,
        2 ** 53,
        2 ** 53 + 2,
        -(2 ** 53),
        9223372036854.775,
        9223372036855,
        1e21,
        Number.MAX_VALUE,
        Number.POSITIVE_INFINITY,
        Number.NaN,
      ),
      mantissaArb.map((m) => Number(D.formatDecimal(m))),
    );
    fc.assert(
      fc.property(doubles, (n) => {
        let expected: bigint | undefined;
        let parseFailed = false;
        try {
          expected = D.parseDecimal(String(n));
        } catch {
          parseFailed = true;
        }
        if (expected !== undefined && !parseFailed) {
          expect(D.fromJsonNumber(n)).toBe(expected);
        } else {
          const error = thrownBy(() => D.fromJsonNumber(n));
          expect(['DATA_PRECISION', 'EXEC_OVERFLOW']).toContain(error.code);
        }
      }),
      RUNS,
    );
    expect(D.fromJsonNumber(-0)).toBe(0n);
    expect(D.fromJsonNumber(1.5)).toBe(1_500_000n);
    expect(thrownBy(() => D.fromJsonNumber(2 ** 53 + 2)).code).toBe('DATA_PRECISION');
  });
});

describe('rounding', () => {
  it('floor(x) is the largest integer <= x: floor(x) <= x < floor(x) + 1', () => {
    fc.assert(
      fc.property(mantissaArb, (x) => {
        const exact = floorOracle(x);
        expectChecked(() => D.floor(x), exact);
        if (!inRange(exact)) return;
        const f = D.floor(x);
        expect(f % S).toBe(0n);
        expect(f <= x).toBe(true);
        expect(x < f + S).toBe(true);
        expect(D.isInteger(f)).toBe(true);
      }),
      RUNS,
    );
    expect(thrownBy(() => D.floor(MIN)).code).toBe('EXEC_OVERFLOW');
  });

  it('ceil(x) is the smallest integer >= x: ceil(x) - 1 < x <= ceil(x)', () => {
    fc.assert(
      fc.property(mantissaArb, (x) => {
        const exact = -floorOracle(-x);
        expectChecked(() => D.ceil(x), exact);
        if (!inRange(exact)) return;
        const c = D.ceil(x);
        expect(c % S).toBe(0n);
        expect(c - S < x).toBe(true);
        expect(x <= c).toBe(true);
      }),
      RUNS,
    );
    expect(thrownBy(() => D.ceil(MAX)).code).toBe('EXEC_OVERFLOW');
  });

  it('floor and ceil agree on integers and differ by one elsewhere', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: MIN + S, max: MAX - S }), (x) => {
        const f = D.floor(x);
        const c = D.ceil(x);
        expect(c - f).toBe(D.isInteger(x) ? 0n : S);
        expect(D.isInteger(x)).toBe(x % S === 0n);
      }),
      RUNS,
    );
  });

  it('round(x, d) rounds half away from zero to a multiple of 10^(6-d)', () => {
    fc.assert(
      fc.property(mantissaArb, fc.integer({ min: 0, max: 6 }), (x, digits) => {
        const unit = 10n ** BigInt(6 - digits);
        const q = absB(x) / unit;
        const rem = absB(x) % unit;
        const exact = signB(x) * (2n * rem >= unit ? q + 1n : q) * unit;
        expectChecked(() => D.round(x, digits), exact);
        if (!inRange(exact)) return;
        const r = D.round(x, digits);
        expect(r % unit).toBe(0n);
        expect(2n * absB(r - x) <= unit).toBe(true);
        if (2n * absB(r - x) === unit) expect(absB(r) > absB(x)).toBe(true);
        expect(D.round(r, digits)).toBe(r);
      }),
      RUNS,
    );
    expect(D.round(2_500_000n, 0)).toBe(3_000_000n);
    expect(D.round(-2_500_000n, 0)).toBe(-3_000_000n);
    expect(D.round(-2_499_999n, 0)).toBe(-2_000_000n);
    expect(D.round(1_005_000n, 2)).toBe(1_010_000n);
  });

  it('round to six digits is the identity; other digit counts are EXEC_INVALID_ARGUMENT', () => {
    fc.assert(
      fc.property(mantissaArb, (x) => {
        expect(D.round(x, 6)).toBe(x);
      }),
      RUNS,
    );
    for (const digits of [-1, 7, 1.5, Number.NaN])
      expect(thrownBy(() => D.round(1n, digits)).code).toBe('EXEC_INVALID_ARGUMENT');
  });
});

describe('integers and ordering', () => {
  it('fromInteger scales by 10^6 and overflows exactly outside the range', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 14n), max: 10n ** 14n }), (n) => {
        expectChecked(() => D.fromInteger(n), n * S);
      }),
      RUNS,
    );
  });

  it('compareNum is the numeric order', () => {
    fc.assert(
      fc.property(mantissaArb, mantissaArb, (a, b) => {
        expect(D.compareNum(a, b)).toBe(a < b ? -1 : a > b ? 1 : 0);
        expect(D.compareNum(a, b)).toBe(-D.compareNum(b, a) || 0);
      }),
      RUNS,
    );
  });
});
