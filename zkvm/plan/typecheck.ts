import { fromJsonNumber, parseDecimal } from '../numeric/decimal.js';
import type { ExecutionDAG } from './dag.js';
import type { IssueList } from './issues.js';
import type { ExecutionPlan, ExecutionStep, Expr, FieldType, RecordSchema } from './schema.js';
import { stepInputs } from './schema.js';
import type { PathSegment } from './source.js';

/** Run-time value types: `integer` and `decimal` inputs are both numbers. */
export type ValueType = 'num' | 'string' | 'bool';

/** What a step produces: its record fields and whether it always yields exactly one record. */
export interface Shape {
  fields: Map<string, ValueType>;
  single: boolean;
}

export const valueTypeOf = (t: FieldType): ValueType =>
  t === 'string' ? 'string' : t === 'boolean' ? 'bool' : 'num';

export function shapeOfSchema(schema: RecordSchema, single = false): Shape {
  const fields = new Map<string, ValueType>();
  for (const name of Object.keys(schema.fields).sort())
    fields.set(name, valueTypeOf(schema.fields[name] as FieldType));
  return { fields, single };
}

const sortedFields = (fields: Map<string, ValueType>): Map<string, ValueType> =>
  new Map([...fields.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

const describe = (fields: Map<string, ValueType>): string =>
  fields.size === 0 ? '(none)' : [...fields.entries()].map(([n, t]) => `${n}:${t}`).join(', ');

const sameFields = (a: Map<string, ValueType>, b: Map<string, ValueType>): boolean =>
  a.size === b.size && [...a].every(([name, type]) => b.get(name) === type);

const NUMERIC_OPS = new Set([
  'add',
  'sub',
  'mul',
  'div',
  'mod',
  'neg',
  'abs',
  'floor',
  'ceil',
  'round',
  'min',
  'max',
]);
const ORDER_OPS = new Set(['lt', 'le', 'gt', 'ge']);

interface ExprContext {
  stepId: string;
  /** Fields of the current record; undefined where there is no current record. */
  record: Map<string, ValueType> | undefined;
  shapes: Map<string, Shape>;
  issues: IssueList;
}

/** Infers an expression's type, reporting problems; undefined when the type cannot be known. */
export function inferExpr(
  expr: Expr,
  ctx: ExprContext,
  path: PathSegment[],
): ValueType | undefined {
  const fail = (code: string, message: string, at: PathSegment[] = path): undefined => {
    ctx.issues.add(code, `step "${ctx.stepId}": ${message}`, at, ctx.stepId);
    return undefined;
  };
  switch (expr.op) {
    case 'field': {
      if (ctx.record === undefined) {
        return fail(
          'PLAN_FIELD_OUTSIDE_RECORD',
          `{op: field} has no current record here; use {op: ref, step, field}`,
        );
      }
      const type = ctx.record.get(expr.name);
      return (
        type ??
        fail(
          'PLAN_UNKNOWN_RECORD_FIELD',
          `field "${expr.name}" does not exist; records have ${describe(ctx.record)}`,
          [...path, 'name'],
        )
      );
    }
    case 'ref': {
      const shape = ctx.shapes.get(expr.step);
      if (shape === undefined) return undefined; // dangling refs are reported by the graph check
      if (!shape.single) {
        return fail(
          'PLAN_REF_NOT_SCALAR',
          `ref to step "${expr.step}", which may yield several records; refer to an aggregate without groupBy or a compute step`,
          [...path, 'step'],
        );
      }
      const type = shape.fields.get(expr.field);
      return (
        type ??
        fail(
          'PLAN_UNKNOWN_RECORD_FIELD',
          `step "${expr.step}" has no field "${expr.field}"; it has ${describe(shape.fields)}`,
          [...path, 'field'],
        )
      );
    }
    case 'lit':
      if (typeof expr.value === 'number') {
        try {
          fromJsonNumber(expr.value);
        } catch (error) {
          return fail(
            'PLAN_INVALID_LITERAL',
            `literal ${expr.value}: ${(error as Error).message}`,
            [...path, 'value'],
          );
        }
        return 'num';
      }
      return typeof expr.value === 'string' ? 'string' : 'bool';
    case 'dec':
      try {
        parseDecimal(expr.value);
      } catch (error) {
        return fail(
          'PLAN_INVALID_LITERAL',
          `decimal "${expr.value}": ${(error as Error).message}`,
          [...path, 'value'],
        );
      }
      return 'num';
    default:
      break;
  }
  const argTypes = expr.args.map((arg, i) => inferExpr(arg, ctx, [...path, 'args', i]));
  if (argTypes.some((t) => t === undefined)) return undefined;
  const types = argTypes as ValueType[];
  const expect = (wanted: ValueType, result: ValueType): ValueType | undefined => {
    const bad = types.findIndex((t) => t !== wanted);
    return bad === -1
      ? result
      : fail(
          'PLAN_TYPE_MISMATCH',
          `"${expr.op}" needs ${wanted} operands, argument ${bad + 1} is ${types[bad]}`,
          [...path, 'args', bad],
        );
  };
  const op = expr.op;
  if (NUMERIC_OPS.has(op)) return expect('num', 'num');
  if (op === 'and' || op === 'or' || op === 'not') return expect('bool', 'bool');
  if (op === 'concat' || op === 'lower' || op === 'upper') return expect('string', 'string');
  if (op === 'len' || op === 'toNumber') return expect('string', 'num');
  if (op === 'toString') return 'string';
  if (op === 'eq' || op === 'ne' || ORDER_OPS.has(op)) {
    const [a, b] = types;
    if (a !== b)
      return fail(
        'PLAN_TYPE_MISMATCH',
        `"${op}" compares ${a} with ${b}; both sides must have one type`,
      );
    if (ORDER_OPS.has(op) && a === 'bool')
      return fail('PLAN_TYPE_MISMATCH', `"${op}" cannot order booleans`);
    return 'bool';
  }
  if (op === 'if') {
    const [cond, then, otherwise] = types;
    if (cond !== 'bool')
      return fail('PLAN_TYPE_MISMATCH', `"if" condition is ${cond}, not bool`, [
        ...path,
        'args',
        0,
      ]);
    if (then !== otherwise)
      return fail('PLAN_TYPE_MISMATCH', `"if" arms have types ${then} and ${otherwise}`);
    return then;
  }
  return fail('PLAN_UNKNOWN_OPERATOR', `unknown operator "${op}"`);
}

/**
 * Infers the shape of every step in execution order. Steps whose inputs failed are skipped,
 * so one mistake is reported once.
 */
export function inferShapes(
  plan: ExecutionPlan,
  dag: ExecutionDAG,
  order: string[],
  issues: IssueList,
): Map<string, Shape> {
  const shapes = new Map<string, Shape>();
  for (const id of order) {
    const step = dag.steps.get(id) as ExecutionStep;
    const base: PathSegment[] = ['steps', dag.index.get(id) as number];
    const before = issues.length;
    const shape = inferStep(step, base, shapes, issues);
    if (shape !== undefined && issues.length === before) shapes.set(id, shape);
  }
  const outputShape = shapes.get(plan.output.step);
  if (outputShape !== undefined) {
    plan.output.sortBy?.forEach((key, i) => {
      if (!outputShape.fields.has(key.field)) {
        issues.add(
          'PLAN_UNKNOWN_RECORD_FIELD',
          `output.sortBy: field "${key.field}" does not exist; records have ${describe(outputShape.fields)}`,
          ['output', 'sortBy', i, 'field'],
        );
      }
    });
  }
  return shapes;
}

function inferStep(
  step: ExecutionStep,
  base: PathSegment[],
  shapes: Map<string, Shape>,
  issues: IssueList,
): Shape | undefined {
  const ctx = (record: Map<string, ValueType> | undefined): ExprContext => ({
    stepId: step.id,
    record,
    shapes,
    issues,
  });
  const fail = (code: string, message: string, path: PathSegment[]): undefined => {
    issues.add(code, `step "${step.id}": ${message}`, [...base, ...path], step.id);
    return undefined;
  };
  const assign = (
    record: Map<string, ValueType> | undefined,
    assignments: Record<string, Expr>,
    path: PathSegment[],
    into: Map<string, ValueType>,
  ) => {
    for (const [name, expr] of Object.entries(assignments)) {
      const type = inferExpr(expr, ctx(record), [...base, ...path, name]);
      if (type !== undefined) into.set(name, type);
    }
  };

  if (step.type === 'data-input') return shapeOfSchema(step.schema);
  if (step.type === 'compute') {
    const fields = new Map<string, ValueType>();
    assign(undefined, step.assign, ['assign'], fields);
    return { fields: sortedFields(fields), single: true };
  }
  if (step.type === 'branch') {
    const cond = inferExpr(step.condition, ctx(undefined), [...base, 'condition']);
    if (cond !== undefined && cond !== 'bool')
      return fail('PLAN_TYPE_MISMATCH', `branch condition is ${cond}, not bool`, ['condition']);
    const then = shapes.get(step.then);
    const otherwise = shapes.get(step.else);
    if (then === undefined || otherwise === undefined) return undefined;
    if (!sameFields(then.fields, otherwise.fields)) {
      return fail(
        'PLAN_INPUT_SHAPE_MISMATCH',
        `branch arms differ: then has ${describe(then.fields)}, else has ${describe(otherwise.fields)}`,
        ['else'],
      );
    }
    return { fields: then.fields, single: then.single && otherwise.single };
  }

  // Record-consuming steps: several inputs are concatenated and must share one shape.
  const inputs = stepInputs(step).map((from) => shapes.get(from));
  if (inputs.some((s) => s === undefined)) return undefined;
  const [first, ...rest] = inputs as Shape[];
  if (first === undefined) return undefined;
  const mismatch = rest.findIndex((s) => !sameFields(s.fields, first.fields));
  if (mismatch !== -1) {
    return fail(
      'PLAN_INPUT_SHAPE_MISMATCH',
      `input ${mismatch + 2} has ${describe((rest[mismatch] as Shape).fields)} but input 1 has ${describe(first.fields)}`,
      ['input', mismatch + 1],
    );
  }
  const input: Shape = { fields: first.fields, single: first.single && rest.length === 0 };
  /** `path` is the full path of the field name in the plan (callers include `base`). */
  const need = (name: string, path: PathSegment[]): ValueType | undefined => {
    const type = input.fields.get(name);
    if (type === undefined) {
      issues.add(
        'PLAN_UNKNOWN_RECORD_FIELD',
        `step "${step.id}": field "${name}" does not exist; records have ${describe(input.fields)}`,
        path,
        step.id,
      );
    }
    return type;
  };

  switch (step.type) {
    case 'filter': {
      const type = inferExpr(step.predicate, ctx(input.fields), [...base, 'predicate']);
      if (type !== undefined && type !== 'bool')
        return fail('PLAN_TYPE_MISMATCH', `filter predicate is ${type}, not bool`, ['predicate']);
      return { fields: input.fields, single: false };
    }
    case 'loop': {
      const cond = inferExpr(step.while, ctx(input.fields), [...base, 'while']);
      if (cond !== undefined && cond !== 'bool')
        return fail('PLAN_TYPE_MISMATCH', `loop condition is ${cond}, not bool`, ['while']);
      const updated = new Map<string, ValueType>();
      assign(input.fields, step.body, ['body'], updated);
      for (const [name, type] of updated) {
        const declared = need(name, [...base, 'body', name]);
        if (declared !== undefined && declared !== type) {
          fail(
            'PLAN_TYPE_MISMATCH',
            `loop body sets "${name}" (${declared}) to a ${type}; loop state keeps its types`,
            ['body', name],
          );
        }
      }
      return input;
    }
    case 'aggregate': {
      const fields = new Map<string, ValueType>();
      step.groupBy?.forEach((name, i) => {
        const type = need(name, [...base, 'groupBy', i]);
        if (type !== undefined) fields.set(name, type);
      });
      for (const [out, agg] of Object.entries(step.aggregations)) {
        const path: PathSegment[] = ['aggregations', out];
        if (fields.has(out)) {
          fail(
            'PLAN_FIELD_COLLISION',
            `aggregation "${out}" has the name of a groupBy field`,
            path,
          );
          continue;
        }
        if (agg.fn === 'count') {
          if (agg.field !== undefined) need(agg.field, [...base, ...path, 'field']);
          fields.set(out, 'num');
          continue;
        }
        if (agg.field === undefined) {
          fail('PLAN_MISSING_FIELD', `aggregation "${out}" (${agg.fn}) needs "field"`, path);
          continue;
        }
        const type = need(agg.field, [...base, ...path, 'field']);
        if (type === undefined) continue;
        if (agg.fn === 'first' || agg.fn === 'last') fields.set(out, type);
        else if (type !== 'num')
          fail(
            'PLAN_TYPE_MISMATCH',
            `aggregation "${out}": ${agg.fn} needs a number field, "${agg.field}" is ${type}`,
            [...path, 'field'],
          );
        else fields.set(out, 'num');
      }
      if (Object.keys(step.aggregations).length === 0 && (step.groupBy ?? []).length === 0) {
        return fail('PLAN_MISSING_FIELD', 'aggregate needs aggregations or groupBy', [
          'aggregations',
        ]);
      }
      return { fields: sortedFields(fields), single: (step.groupBy ?? []).length === 0 };
    }
    case 'transform': {
      const op = step.operation;
      const path: PathSegment[] = ['operation'];
      switch (op.op) {
        case 'map': {
          const fields = new Map(input.fields);
          assign(input.fields, op.assign, [...path, 'assign'], fields);
          return { fields: sortedFields(fields), single: input.single };
        }
        case 'select': {
          const fields = new Map<string, ValueType>();
          op.fields.forEach((name, i) => {
            const type = need(name, [...base, ...path, 'fields', i]);
            if (type !== undefined) fields.set(name, type);
          });
          return { fields: sortedFields(fields), single: input.single };
        }
        case 'rename': {
          const fields = new Map(input.fields);
          for (const from of Object.keys(op.mapping)) {
            if (need(from, [...base, ...path, 'mapping', from]) !== undefined) fields.delete(from);
          }
          for (const [from, to] of Object.entries(op.mapping)) {
            const type = input.fields.get(from);
            if (type === undefined) continue;
            if (fields.has(to))
              fail(
                'PLAN_FIELD_COLLISION',
                `rename "${from}" -> "${to}": a field "${to}" already exists`,
                [...path, 'mapping', from],
              );
            fields.set(to, type);
          }
          return { fields: sortedFields(fields), single: input.single };
        }
        case 'parse': {
          const type = need(op.field, [...base, ...path, 'field']);
          if (type !== undefined && type !== 'string')
            return fail(
              'PLAN_TYPE_MISMATCH',
              `parse reads field "${op.field}", which is ${type}, not string`,
              [...path, 'field'],
            );
          return shapeOfSchema(op.schema);
        }
        case 'serialize':
          return { fields: new Map([[op.field, 'string']]), single: true };
      }
    }
  }
}
