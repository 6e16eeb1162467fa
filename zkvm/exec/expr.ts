import { M2mError } from '../errors.js';
import * as D from '../numeric/decimal.js';
import type { Expr } from '../plan/schema.js';
import { COST } from './costs.js';
import type { Meter } from './meter.js';
import { compareValues, formatValue, type Rec, utf8Length, type Value } from './values.js';

/** A compiled expression: evaluates against the current record (absent in compute/branch). */
export type Compiled = (record: Rec | undefined) => Value;

export interface CompileContext {
  meter: Meter;
  /** Value of a field of a single-record step, for `ref`. */
  resolveRef: (step: string, field: string) => Value;
}

const stringCost = (text: string): number =>
  COST.stringOp + Math.ceil(utf8Length(text) / 8) * COST.per8Bytes;

/**
 * Compiles an expression the validator has type-checked into a closure tree. Every node charges
 * its cycle cost when evaluated; `and`, `or` and `if` evaluate lazily.
 */
export function compileExpr(expr: Expr, ctx: CompileContext): Compiled {
  const { meter } = ctx;
  switch (expr.op) {
    case 'field': {
      const name = expr.name;
      return (record) => {
        meter.charge(COST.leaf);
        return (record as Rec)[name] as Value;
      };
    }
    case 'ref': {
      const { step, field } = expr;
      return () => {
        meter.charge(COST.leaf);
        return ctx.resolveRef(step, field);
      };
    }
    case 'lit':
    case 'dec': {
      const value: Value =
        typeof expr.value === 'number'
          ? D.fromJsonNumber(expr.value)
          : expr.op === 'dec'
            ? (D.parseDecimal(expr.value) as bigint)
            : expr.value;
      return () => {
        meter.charge(COST.leaf);
        return value;
      };
    }
    case 'round': {
      const [arg] = expr.args.map((a) => compileExpr(a, ctx)) as [Compiled];
      const digits = expr.digits;
      return (record) => {
        const x = arg(record) as bigint;
        meter.charge(COST.arith * 2);
        return D.round(x, digits);
      };
    }
    case 'if': {
      const [cond, then, otherwise] = expr.args.map((a) => compileExpr(a, ctx)) as [
        Compiled,
        Compiled,
        Compiled,
      ];
      return (record) => {
        meter.charge(COST.logic);
        return cond(record) === true ? then(record) : otherwise(record);
      };
    }
    case 'and':
    case 'or': {
      const args = expr.args.map((a) => compileExpr(a, ctx));
      const stopOn = expr.op === 'or';
      return (record) => {
        for (const arg of args) {
          meter.charge(COST.logic);
          if (arg(record) === stopOn) return stopOn;
        }
        return !stopOn;
      };
    }
    default:
      break;
  }
  const args = expr.args.map((a) => compileExpr(a, ctx));
  const op = expr.op;
  const unary = (cost: number, fn: (x: Value) => Value): Compiled => {
    const [a] = args as [Compiled];
    return (record) => {
      const x = a(record);
      meter.charge(cost);
      return fn(x);
    };
  };
  const binary = (cost: number, fn: (x: Value, y: Value) => Value): Compiled => {
    const [a, b] = args as [Compiled, Compiled];
    return (record) => {
      const x = a(record);
      const y = b(record);
      meter.charge(cost);
      return fn(x, y);
    };
  };
  const fold =
    (cost: number, fn: (x: Value, y: Value) => Value): Compiled =>
    (record) => {
      let acc = (args[0] as Compiled)(record);
      for (let i = 1; i < args.length; i++) {
        const next = (args[i] as Compiled)(record);
        meter.charge(cost);
        acc = fn(acc, next);
      }
      return acc;
    };
  const num = (f: (x: bigint, y: bigint) => bigint) => (x: Value, y: Value) =>
    f(x as bigint, y as bigint);
  switch (op) {
    case 'add':
      return fold(COST.arith, num(D.add));
    case 'mul':
      return fold(COST.mul, num(D.mul));
    case 'sub':
      return binary(COST.arith, num(D.sub));
    case 'div':
      return binary(COST.div, num(D.div));
    case 'mod':
      return binary(COST.div, num(D.mod));
    case 'min':
      return fold(COST.compare, (x, y) => (compareValues(y, x) < 0 ? y : x));
    case 'max':
      return fold(COST.compare, (x, y) => (compareValues(y, x) > 0 ? y : x));
    case 'eq':
      return binary(COST.compare, (x, y) => x === y);
    case 'ne':
      return binary(COST.compare, (x, y) => x !== y);
    case 'lt':
      return binary(COST.compare, (x, y) => compareValues(x, y) < 0);
    case 'le':
      return binary(COST.compare, (x, y) => compareValues(x, y) <= 0);
    case 'gt':
      return binary(COST.compare, (x, y) => compareValues(x, y) > 0);
    case 'ge':
      return binary(COST.compare, (x, y) => compareValues(x, y) >= 0);
    case 'concat':
      return (record) => {
        let out = '';
        for (const arg of args) out += arg(record) as string;
        meter.charge(stringCost(out));
        return out;
      };
    case 'neg':
      return unary(COST.arith, (x) => D.neg(x as bigint));
    case 'not':
      return unary(COST.logic, (x) => !x);
    case 'abs':
      return unary(COST.arith, (x) => D.abs(x as bigint));
    case 'floor':
      return unary(COST.arith, (x) => D.floor(x as bigint));
    case 'ceil':
      return unary(COST.arith, (x) => D.ceil(x as bigint));
    case 'len':
      return unary(COST.stringOp, (x) => D.fromInteger(BigInt(codePointCount(x as string))));
    case 'lower':
      return stringUnary(args, meter, (s) => s.replace(/[A-Z]+/g, (m) => m.toLowerCase()));
    case 'upper':
      return stringUnary(args, meter, (s) => s.replace(/[a-z]+/g, (m) => m.toUpperCase()));
    case 'toString':
      return unary(COST.textValue, (x) => formatValue(x));
    case 'toNumber':
      return unary(COST.textValue, (x) => {
        let parsed: bigint | undefined;
        try {
          parsed = D.parseDecimal(x as string);
        } catch (error) {
          if (!(error instanceof D.NumericError) || error.code !== 'DATA_PRECISION') throw error;
          throw new M2mError('EXEC_INVALID_NUMBER', `toNumber: ${error.message}`);
        }
        if (parsed === undefined)
          throw new M2mError(
            'EXEC_INVALID_NUMBER',
            `toNumber: "${x as string}" is not a decimal number`,
          );
        return parsed;
      });
  }
}

/** ASCII-only case mapping: Unicode case tables differ between runtimes, ASCII never does. */
function stringUnary(args: Compiled[], meter: Meter, fn: (s: string) => string): Compiled {
  const [a] = args as [Compiled];
  return (record) => {
    const s = a(record) as string;
    meter.charge(stringCost(s));
    return fn(s);
  };
}

function codePointCount(text: string): number {
  let count = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xdc00 && c <= 0xdfff) count--;
  }
  return count;
}
