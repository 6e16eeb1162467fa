import { z } from 'zod';

/**
 * Execution Plan IR v1.0: the deterministic program a provider runs and proves.
 * Shapes follow the seed design (story 25.1): steps are discriminated by `type`,
 * transform operations by `op`, expressions by `op`. Every object is strict:
 * an unknown key is an error, never silently ignored, because the plan hash covers it.
 */

export const STEP_ID_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
/** Field names are ASCII so every backend orders them identically. */
export const FIELD_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;

export const StepId = z
  .string()
  .regex(STEP_ID_PATTERN, 'step id: a letter, then letters, digits, "_" or "-" (at most 64)');
export const FieldName = z
  .string()
  .regex(FIELD_NAME_PATTERN, 'field name: a letter, then letters, digits or "_" (at most 64)');
export const Digest = z.string().regex(DIGEST_PATTERN, 'digest: "sha256:" + 64 lowercase hex');

/** Declared type of an input field. `integer` and `decimal` are both numbers at run time. */
export const FieldType = z.enum(['string', 'decimal', 'integer', 'boolean']);
export type FieldType = z.infer<typeof FieldType>;

export const RecordSchema = z
  .object({ fields: z.record(FieldName, FieldType) })
  .strict()
  .meta({ id: 'RecordSchema', description: 'Field name -> declared type; every field required.' });
export type RecordSchema = z.infer<typeof RecordSchema>;

// ---------------------------------------------------------------- expressions

export const BINARY_OPS = ['sub', 'div', 'mod', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;
export const VARIADIC_OPS = ['add', 'mul', 'and', 'or', 'min', 'max', 'concat'] as const;
export const UNARY_OPS = [
  'neg',
  'not',
  'abs',
  'floor',
  'ceil',
  'len',
  'lower',
  'upper',
  'toString',
  'toNumber',
] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];
export type VariadicOp = (typeof VARIADIC_OPS)[number];
export type UnaryOp = (typeof UNARY_OPS)[number];

/** A literal: a JSON number (must be exact in the numeric model), a string or a boolean. */
export type Expr =
  | { op: 'field'; name: string }
  | { op: 'ref'; step: string; field: string }
  | { op: 'lit'; value: number | string | boolean }
  | { op: 'dec'; value: string }
  | { op: UnaryOp; args: [Expr] }
  | { op: BinaryOp; args: [Expr, Expr] }
  | { op: VariadicOp; args: Expr[] }
  | { op: 'round'; args: [Expr]; digits: number }
  | { op: 'if'; args: [Expr, Expr, Expr] };

export const Expr: z.ZodType<Expr> = z
  .lazy(() =>
    z.discriminatedUnion('op', [
      z.object({ op: z.literal('field'), name: FieldName }).strict(),
      z.object({ op: z.literal('ref'), step: StepId, field: FieldName }).strict(),
      z
        .object({ op: z.literal('lit'), value: z.union([z.number(), z.string(), z.boolean()]) })
        .strict(),
      z
        .object({
          op: z.literal('dec'),
          value: z.string().regex(/^-?\d+(\.\d+)?$/, 'decimal text such as "-12.5"'),
        })
        .strict(),
      z.object({ op: z.enum(UNARY_OPS), args: z.tuple([Expr]) }).strict(),
      z.object({ op: z.enum(BINARY_OPS), args: z.tuple([Expr, Expr]) }).strict(),
      z.object({ op: z.enum(VARIADIC_OPS), args: z.array(Expr).min(2).max(64) }).strict(),
      z
        .object({
          op: z.literal('round'),
          args: z.tuple([Expr]),
          digits: z.number().int().min(0).max(6),
        })
        .strict(),
      z.object({ op: z.literal('if'), args: z.tuple([Expr, Expr, Expr]) }).strict(),
    ]),
  )
  .meta({
    id: 'Expr',
    description: 'Typed expression AST; never a string of code.',
  }) as z.ZodType<Expr>;

export const Assignments = z
  .record(FieldName, Expr)
  .refine((value) => Object.keys(value).length > 0, 'at least one field');

// ---------------------------------------------------------------- steps

const StepInput = z.union([StepId, z.array(StepId).min(1).max(64)]);

export const DataInputStep = z
  .object({
    type: z.literal('data-input'),
    id: StepId,
    /** Merkle root (see zkvm/commitment) of the canonical input records. */
    dataCommitment: Digest,
    schema: RecordSchema,
    source: z
      .object({
        type: z.enum(['api', 'file', 'parameter', 'previous-job']),
        uri: z.string().max(2048).optional(),
        attestation: z.enum(['tls-notary', 'trusted-provider', 'none']).optional(),
      })
      .strict(),
    maxRecords: z.number().int().positive().optional(),
  })
  .strict();

export const TransformOperation = z.discriminatedUnion('op', [
  z.object({ op: z.literal('map'), assign: Assignments }).strict(),
  z.object({ op: z.literal('select'), fields: z.array(FieldName).min(1) }).strict(),
  z.object({ op: z.literal('rename'), mapping: z.record(FieldName, FieldName) }).strict(),
  z
    .object({
      op: z.literal('parse'),
      format: z.enum(['json', 'csv']),
      field: FieldName,
      schema: RecordSchema,
    })
    .strict(),
  z
    .object({ op: z.literal('serialize'), format: z.enum(['json', 'csv']), field: FieldName })
    .strict(),
]);
export type TransformOperation = z.infer<typeof TransformOperation>;

export const TransformStep = z
  .object({
    type: z.literal('transform'),
    id: StepId,
    input: StepInput,
    operation: TransformOperation,
  })
  .strict();

export const FilterStep = z
  .object({ type: z.literal('filter'), id: StepId, input: StepInput, predicate: Expr })
  .strict();

export const AGGREGATE_FUNCTIONS = [
  'count',
  'sum',
  'min',
  'max',
  'avg',
  'median',
  'first',
  'last',
] as const;
export const Aggregation = z
  .object({ fn: z.enum(AGGREGATE_FUNCTIONS), field: FieldName.optional() })
  .strict();
export type Aggregation = z.infer<typeof Aggregation>;

export const AggregateStep = z
  .object({
    type: z.literal('aggregate'),
    id: StepId,
    input: StepInput,
    groupBy: z.array(FieldName).max(16).optional(),
    aggregations: z.record(FieldName, Aggregation),
  })
  .strict();

/** Computes exactly one record from values of single-record steps (`ref` expressions). */
export const ComputeStep = z
  .object({ type: z.literal('compute'), id: StepId, assign: Assignments })
  .strict();

/** Passes on the records of `then` or `else`; only the chosen arm is executed. */
export const BranchStep = z
  .object({ type: z.literal('branch'), id: StepId, condition: Expr, then: StepId, else: StepId })
  .strict();

/** For each input record: while `while` holds and fewer than maxIterations ran, apply `body`. */
export const LoopStep = z
  .object({
    type: z.literal('loop'),
    id: StepId,
    input: StepInput,
    maxIterations: z.number().int().min(1),
    while: Expr,
    body: Assignments,
  })
  .strict();

export const ExecutionStep = z.discriminatedUnion('type', [
  DataInputStep,
  TransformStep,
  FilterStep,
  AggregateStep,
  ComputeStep,
  BranchStep,
  LoopStep,
]);

export type DataInputStep = z.infer<typeof DataInputStep>;
export type TransformStep = z.infer<typeof TransformStep>;
export type FilterStep = z.infer<typeof FilterStep>;
export type AggregateStep = z.infer<typeof AggregateStep>;
export type ComputeStep = z.infer<typeof ComputeStep>;
export type BranchStep = z.infer<typeof BranchStep>;
export type LoopStep = z.infer<typeof LoopStep>;
export type ExecutionStep = z.infer<typeof ExecutionStep>;
export type StepType = ExecutionStep['type'];

export const OutputConfig = z
  .object({
    step: StepId,
    format: z.literal('json').optional(),
    sortBy: z
      .array(z.object({ field: FieldName, direction: z.enum(['asc', 'desc']).optional() }).strict())
      .max(16)
      .optional(),
    limit: z.number().int().positive().optional(),
  })
  .strict();
export type OutputConfig = z.infer<typeof OutputConfig>;

export const ResourceLimits = z
  .object({
    maxCycles: z.number().int().positive(),
    maxMemoryBytes: z.number().int().positive(),
    maxOutputBytes: z.number().int().positive(),
  })
  .strict();
export type ResourceLimits = z.infer<typeof ResourceLimits>;

export const ExecutionPlan = z
  .object({
    version: z.literal('1.0'),
    id: z.string().min(1).max(128),
    jobRequestHash: Digest,
    description: z.string().max(4096).optional(),
    steps: z.array(ExecutionStep).min(1),
    output: OutputConfig,
    limits: ResourceLimits,
  })
  .strict()
  .meta({ id: 'ExecutionPlan', title: 'm2m execution plan v1.0' });
export type ExecutionPlan = z.infer<typeof ExecutionPlan>;

/** Step ids a step consumes as record inputs (not counting `ref`s inside expressions). */
export function stepInputs(step: ExecutionStep): string[] {
  switch (step.type) {
    case 'data-input':
    case 'compute':
      return [];
    case 'branch':
      return [step.then, step.else];
    default:
      return typeof step.input === 'string' ? [step.input] : step.input;
  }
}

/** Every expression inside a step, with the path to it (for error locations). */
export function stepExpressions(
  step: ExecutionStep,
): Array<{ expr: Expr; path: (string | number)[] }> {
  const fromAssign = (assign: Record<string, Expr>, base: (string | number)[]) =>
    Object.entries(assign).map(([name, expr]) => ({ expr, path: [...base, name] }));
  switch (step.type) {
    case 'filter':
      return [{ expr: step.predicate, path: ['predicate'] }];
    case 'compute':
      return fromAssign(step.assign, ['assign']);
    case 'branch':
      return [{ expr: step.condition, path: ['condition'] }];
    case 'loop':
      return [{ expr: step.while, path: ['while'] }, ...fromAssign(step.body, ['body'])];
    case 'transform':
      return step.operation.op === 'map'
        ? fromAssign(step.operation.assign, ['operation', 'assign'])
        : [];
    default:
      return [];
  }
}

/** Visits an expression tree depth first. */
export function walkExpr(
  expr: Expr,
  visit: (node: Expr, path: (string | number)[]) => void,
  path: (string | number)[] = [],
): void {
  visit(expr, path);
  if ('args' in expr) {
    expr.args.forEach((arg, index) => {
      walkExpr(arg, visit, [...path, 'args', index]);
    });
  }
}
