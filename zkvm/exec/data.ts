import { canonicalJsonBytes, type Sha256Digest, toDigest } from '../commitment/digest.js';
import { hashLeaf, merkleRoot, merkleRootOfLeafHashes } from '../commitment/merkle.js';
import { M2mError } from '../errors.js';
import { fromJsonNumber, isInteger, NumericError, parseDecimal } from '../numeric/decimal.js';
import type { DataInputStep, ExecutionPlan, FieldType, RecordSchema } from '../plan/schema.js';
import { COST, sha256Blocks } from './costs.js';
import type { Meter } from './meter.js';
import { type CanonicalRecord, type Rec, toCanonical, type Value } from './values.js';

/** Input data for a plan: records per data-input step id. */
export type InputData = Record<string, unknown[]>;

export type Coerced<T> = { ok: true; value: T } | { ok: false; error: string; precision?: boolean };

const ok = <T>(value: T): Coerced<T> => ({ ok: true, value });
const bad = (error: string, precision = false): Coerced<never> => ({ ok: false, error, precision });

/**
 * Coerces one JSON value to a field's declared type, exactly. Numbers may be JSON numbers (read
 * through their shortest decimal text, ECMAScript Number::toString) or decimal strings.
 */
export function coerceField(raw: unknown, type: FieldType): Coerced<Value> {
  switch (type) {
    case 'string':
      return typeof raw === 'string' ? ok(raw) : bad(`expected a string, got ${describe(raw)}`);
    case 'boolean':
      return typeof raw === 'boolean' ? ok(raw) : bad(`expected a boolean, got ${describe(raw)}`);
    default: {
      let num: bigint | undefined;
      try {
        if (typeof raw === 'number') num = fromJsonNumber(raw);
        else if (typeof raw === 'string') num = parseDecimal(raw);
      } catch (error) {
        if (error instanceof NumericError) return bad(error.message, true);
        throw error;
      }
      if (num === undefined)
        return bad(`expected a ${type} (JSON number or decimal string), got ${describe(raw)}`);
      if (type === 'integer' && !isInteger(num))
        return bad(`expected an integer, got ${describe(raw)}`);
      return ok(num);
    }
  }
}

function describe(raw: unknown): string {
  if (raw === null) return 'null';
  if (Array.isArray(raw)) return 'an array';
  if (typeof raw === 'string')
    return JSON.stringify(raw.length > 32 ? `${raw.slice(0, 32)}…` : raw);
  return typeof raw === 'object' ? 'an object' : `${typeof raw} ${String(raw)}`;
}

/** Coerces a record against a schema: exactly the declared fields, each of its type. */
export function coerceRecord(raw: unknown, schema: RecordSchema): Coerced<Rec> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    return bad(`record is ${describe(raw)}, not an object`);
  const source = raw as Record<string, unknown>;
  const out: Rec = {};
  for (const [name, type] of Object.entries(schema.fields)) {
    if (!Object.hasOwn(source, name)) return bad(`field "${name}" is missing`);
    const value = coerceField(source[name], type);
    if (!value.ok) return bad(`field "${name}": ${value.error}`, value.precision);
    out[name] = value.value;
  }
  for (const name of Object.keys(source)) {
    if (!Object.hasOwn(schema.fields, name)) {
      return bad(`field "${name}" is not in the schema (${Object.keys(schema.fields).join(', ')})`);
    }
  }
  return ok(out);
}

/** Merkle leaf bytes of a record: RFC 8785 canonical JSON of its canonical form. */
export const recordLeafBytes = (record: CanonicalRecord): Buffer => canonicalJsonBytes(record);

/** Commitment over records: Merkle root (RFC 6962 shape) of their canonical JSON leaves. */
export function recordsRoot(records: readonly CanonicalRecord[], meter?: Meter): Sha256Digest {
  const leaves = records.map((record) => {
    const bytes = recordLeafBytes(record);
    meter?.charge(COST.hashBlock * sha256Blocks(bytes.length + 1));
    return hashLeaf(bytes);
  });
  meter?.charge(COST.hashBlock * 2 * Math.max(0, leaves.length - 1));
  return toDigest(merkleRootOfLeafHashes(leaves));
}

/** Coerces the records of one data-input step and computes their commitment. */
export function coerceInput(
  step: DataInputStep,
  rawRecords: unknown,
  meter?: Meter,
): { records: Rec[]; root: Sha256Digest } {
  if (!Array.isArray(rawRecords)) {
    throw new M2mError(
      'DATA_MISSING',
      `step "${step.id}": no records given; the data file needs "${step.id}": [ ... ]`,
      { stepId: step.id },
    );
  }
  if (step.maxRecords !== undefined && rawRecords.length > step.maxRecords) {
    throw new M2mError(
      'DATA_TOO_MANY_RECORDS',
      `step "${step.id}": ${rawRecords.length} records, maxRecords is ${step.maxRecords}`,
      { stepId: step.id },
    );
  }
  const fieldCount = Object.keys(step.schema.fields).length;
  const records = rawRecords.map((raw, index) => {
    meter?.charge(COST.recordRead + COST.fieldRead * fieldCount);
    const record = coerceRecord(raw, step.schema);
    if (!record.ok) {
      throw new M2mError(
        record.precision ? 'DATA_PRECISION' : 'DATA_SCHEMA_MISMATCH',
        `step "${step.id}", record ${index}: ${record.error}`,
        {
          stepId: step.id,
          details: { record: index },
        },
      );
    }
    return record.value;
  });
  return { records, root: recordsRoot(records.map(toCanonical), meter) };
}

/** Loads the records of one data-input step; their Merkle root must equal the plan's commitment. */
export function loadInput(step: DataInputStep, rawRecords: unknown, meter?: Meter): Rec[] {
  const { records, root } = coerceInput(step, rawRecords, meter);
  if (root !== step.dataCommitment) {
    throw new M2mError(
      'DATA_COMMITMENT_MISMATCH',
      `step "${step.id}": the data's Merkle root is ${root} but the plan commits to ${step.dataCommitment}`,
      { stepId: step.id, details: { actual: root, expected: step.dataCommitment } },
    );
  }
  return records;
}

/**
 * The plan's data root (the `data-merkle-root` of a job result): a Merkle tree whose leaves are
 * canonical JSON `{"commitment": <root>, "step": <id>}` of every data-input step, in plan order.
 */
export function planDataRoot(plan: ExecutionPlan): Sha256Digest {
  const leaves = plan.steps
    .filter((s): s is DataInputStep => s.type === 'data-input')
    .map((s) => canonicalJsonBytes({ commitment: s.dataCommitment, step: s.id }));
  return merkleRoot(leaves);
}
