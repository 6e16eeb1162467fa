import { M2mError } from '../errors.js';

/**
 * The numeric model every backend reproduces exactly.
 *
 * A number is a signed 64-bit integer mantissa `m` standing for `m / 10^6`
 * (six fixed decimal places, "micro-units"). Integers are numbers whose fraction is zero.
 * - add, sub, neg: exact, fail with EXEC_OVERFLOW outside the i64 range.
 * - mul: (a * b) / 10^6 with a 128-bit intermediate, truncated toward zero.
 * - div: (a * 10^6) / b with a 128-bit intermediate, truncated toward zero.
 * - mod: a % b, sign of the dividend (Rust's `%`, C's `%`).
 * No IEEE float ever touches a value.
 */
export const SCALE_DIGITS = 6;
export const SCALE = 1_000_000n;
export const NUM_MIN = -(2n ** 63n);
export const NUM_MAX = 2n ** 63n - 1n;

/** A number in the plan numeric model: the scaled mantissa. */
export type Num = bigint;

export class NumericError extends M2mError {}

export function checked(m: bigint, what: string): Num {
  if (m < NUM_MIN || m > NUM_MAX) {
    throw new NumericError(
      'EXEC_OVERFLOW',
      `${what} overflows the numeric model (signed 64-bit mantissa, 6 decimals: |x| <= 9223372036854.775807)`,
    );
  }
  return m;
}

export const add = (a: Num, b: Num): Num => checked(a + b, 'addition');
export const sub = (a: Num, b: Num): Num => checked(a - b, 'subtraction');
export const neg = (a: Num): Num => checked(-a, 'negation');
export const mul = (a: Num, b: Num): Num => checked((a * b) / SCALE, 'multiplication');

export function div(a: Num, b: Num): Num {
  if (b === 0n) throw new NumericError('EXEC_DIVISION_BY_ZERO', 'division by zero');
  return checked((a * SCALE) / b, 'division');
}

export function mod(a: Num, b: Num): Num {
  if (b === 0n) throw new NumericError('EXEC_DIVISION_BY_ZERO', 'modulo by zero');
  return a % b;
}

export const abs = (a: Num): Num => checked(a < 0n ? -a : a, 'abs');

/** Largest integer <= a. */
export function floor(a: Num): Num {
  const r = a % SCALE;
  return r === 0n ? a : checked(a - r - (a < 0n ? SCALE : 0n), 'floor');
}

/** Smallest integer >= a. */
export function ceil(a: Num): Num {
  const r = a % SCALE;
  return r === 0n ? a : checked(a - r + (a > 0n ? SCALE : 0n), 'ceil');
}

/** Round to `digits` decimals (0..6), half away from zero. */
export function round(a: Num, digits: number): Num {
  if (!Number.isInteger(digits) || digits < 0 || digits > SCALE_DIGITS) {
    throw new NumericError('EXEC_INVALID_ARGUMENT', `round digits must be 0..6, got ${digits}`);
  }
  const unit = 10n ** BigInt(SCALE_DIGITS - digits);
  const magnitude = a < 0n ? -a : a;
  const rounded = ((magnitude + unit / 2n) / unit) * unit;
  return checked(a < 0n ? -rounded : rounded, 'round');
}

export const fromInteger = (n: bigint): Num => checked(n * SCALE, 'integer');
export const isInteger = (a: Num): boolean => a % SCALE === 0n;

const DECIMAL_RE = /^(-)?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/**
 * Parses a decimal text exactly ("12", "-0.5", "1.25e3").
 * Returns undefined for text that is not a decimal; throws for values the model cannot hold.
 */
export function parseDecimal(text: string): Num | undefined {
  const match = DECIMAL_RE.exec(text);
  if (match === null) return undefined;
  const [, sign, intPart = '', fracPart = '', expPart] = match;
  const exponent = expPart === undefined ? 0 : Number(expPart);
  if (!Number.isSafeInteger(exponent) || Math.abs(exponent) > 64) {
    throw new NumericError('DATA_PRECISION', `decimal "${text}" is outside the numeric model`);
  }
  let digits = (intPart + fracPart).replace(/^0+(?=\d)/, '');
  let fractionDigits = fracPart.length - exponent;
  while (fractionDigits > SCALE_DIGITS && digits.endsWith('0')) {
    digits = digits.slice(0, -1);
    fractionDigits -= 1;
  }
  if (fractionDigits > SCALE_DIGITS && BigInt(digits) !== 0n) {
    throw new NumericError(
      'DATA_PRECISION',
      `decimal "${text}" has more than ${SCALE_DIGITS} fractional digits; round it before use`,
    );
  }
  const shift = fractionDigits > SCALE_DIGITS ? 0 : SCALE_DIGITS - fractionDigits;
  const magnitude = fractionDigits > SCALE_DIGITS ? 0n : BigInt(digits) * 10n ** BigInt(shift);
  return checked(sign === '-' ? -magnitude : magnitude, `decimal "${text}"`);
}

/** Converts a JSON number exactly via its shortest round-trip text (ECMAScript Number::toString). */
export function fromJsonNumber(value: number): Num {
  if (!Number.isFinite(value)) {
    throw new NumericError('DATA_PRECISION', `${value} is not a finite number`);
  }
  if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
    throw new NumericError(
      'DATA_PRECISION',
      `${value} is beyond 2^53 and lost precision when parsed; write it as a string`,
    );
  }
  const parsed = parseDecimal(String(value));
  if (parsed === undefined) {
    throw new NumericError('DATA_PRECISION', `${value} is not a decimal number`);
  }
  return parsed;
}

/** Canonical text: no "+", no leading zeros, no trailing fractional zeros, "0" for zero. */
export function formatDecimal(a: Num): string {
  const negative = a < 0n;
  const magnitude = negative ? -a : a;
  const whole = magnitude / SCALE;
  const fraction = (magnitude % SCALE).toString().padStart(SCALE_DIGITS, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction === '' ? '' : `.${fraction}`}`;
}

export function compareNum(a: Num, b: Num): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
