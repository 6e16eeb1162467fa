import { canonicalJson } from '../commitment/digest.js';
import { M2mError } from '../errors.js';
import * as D from '../numeric/decimal.js';
import type { AggregateStep, Aggregation, LoopStep, TransformOperation } from '../plan/schema.js';
import { COST, sortComparisons } from './costs.js';
import { formatCsv, parseCsv } from './csv.js';
import { coerceRecord } from './data.js';
import type { Compiled } from './expr.js';
import type { Meter } from './meter.js';
import {
  compareValues,
  formatValue,
  type Rec,
  toCanonical,
  utf8Length,
  type Value,
} from './values.js';

/** Step bodies over materialised records. Each charges its documented costs to the meter. */

export function runFilter(records: Rec[], predicate: Compiled, meter: Meter): Rec[] {
  return records.filter((record) => {
    meter.charge(COST.record);
    return predicate(record) === true;
  });
}

/** All assignments read the incoming record (simultaneous assignment), then write. */
export function assignAll(
  record: Rec | undefined,
  assign: [string, Compiled][],
  meter: Meter,
): Rec {
  const out: Rec = record === undefined ? {} : { ...record };
  const values = assign.map(([, expr]) => expr(record));
  assign.forEach(([name], i) => {
    meter.charge(COST.fieldWrite);
    out[name] = values[i] as Value;
  });
  return out;
}

export function runLoop(
  records: Rec[],
  step: LoopStep,
  cond: Compiled,
  body: [string, Compiled][],
  meter: Meter,
): Rec[] {
  return records.map((record) => {
    let state = record;
    for (let i = 0; i < step.maxIterations && cond(state) === true; i++) {
      meter.charge(COST.loopIteration);
      state = assignAll(state, body, meter);
    }
    return state;
  });
}

export function runTransform(
  records: Rec[],
  op: TransformOperation,
  assign: [string, Compiled][],
  meter: Meter,
  stepId: string,
): Rec[] {
  switch (op.op) {
    case 'map':
      return records.map((record) => {
        meter.charge(COST.record);
        return assignAll(record, assign, meter);
      });
    case 'select':
      return records.map((record) => {
        meter.charge(COST.record + COST.fieldWrite * op.fields.length);
        const out: Rec = {};
        for (const name of op.fields) out[name] = record[name] as Value;
        return out;
      });
    case 'rename': {
      const entries = Object.entries(op.mapping);
      return records.map((record) => {
        meter.charge(COST.record + COST.fieldWrite * entries.length);
        const out: Rec = { ...record };
        for (const [from] of entries) delete out[from];
        for (const [from, to] of entries) out[to] = record[from] as Value;
        return out;
      });
    }
    case 'parse':
      return records.flatMap((record, index) =>
        parseRecords(record[op.field] as string, op, meter, stepId, index),
      );
    case 'serialize':
      return [{ [op.field]: serializeRecords(records, op.format, meter) }];
  }
}

function parseRecords(
  text: string,
  op: Extract<TransformOperation, { op: 'parse' }>,
  meter: Meter,
  stepId: string,
  index: number,
): Rec[] {
  meter.charge(COST.record + Math.ceil(utf8Length(text) / 8) * COST.per8Bytes);
  const failed = (reason: string): never => {
    throw new M2mError(
      'EXEC_PARSE_FAILED',
      `step "${stepId}", record ${index}: ${op.format.toUpperCase()} in field "${op.field}": ${reason}`,
      { stepId },
    );
  };
  let raws: unknown[];
  if (op.format === 'json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      return failed((error as Error).message);
    }
    raws = Array.isArray(parsed) ? parsed : [parsed];
  } else {
    const rows = parseCsv(text);
    if (typeof rows === 'string') return failed(rows);
    const [header, ...body] = rows;
    if (header === undefined) return [];
    raws = body.map((cells, row) => {
      if (cells.length !== header.length)
        failed(`row ${row + 1} has ${cells.length} cells, the header has ${header.length}`);
      const raw: Record<string, unknown> = {};
      header.forEach((name, i) => {
        const cell = cells[i] as string;
        const type = op.schema.fields[name];
        raw[name] =
          type === 'boolean' ? (cell === 'true' ? true : cell === 'false' ? false : cell) : cell;
      });
      return raw;
    });
  }
  return raws.map((raw, row) => {
    meter.charge(COST.textValue * Object.keys(op.schema.fields).length);
    const record = coerceRecord(raw, op.schema);
    return record.ok ? record.value : failed(`item ${row}: ${record.error}`);
  });
}

function serializeRecords(records: Rec[], format: 'json' | 'csv', meter: Meter): string {
  const text =
    format === 'json'
      ? canonicalJson(records.map(toCanonical))
      : formatCsv(
          Object.keys(records[0] ?? {}).sort(),
          records.map((r) =>
            Object.keys(r)
              .sort()
              .map((k) => formatValue(r[k] as Value)),
          ),
        );
  const values = records.reduce((n, r) => n + Object.keys(r).length, 0);
  meter.charge(COST.textValue * values + Math.ceil(utf8Length(text) / 8) * COST.per8Bytes);
  return text;
}

/** Groups keep first-seen order while accumulating, and are emitted sorted by key. */
export function runAggregate(records: Rec[], step: AggregateStep, meter: Meter): Rec[] {
  const groupBy = step.groupBy ?? [];
  const aggs = Object.entries(step.aggregations);
  const groups = new Map<string, Rec[]>();
  for (const record of records) {
    meter.charge(COST.record + (groupBy.length > 0 ? COST.groupLookup : 0));
    const key =
      groupBy.length === 0
        ? ''
        : JSON.stringify(groupBy.map((f) => formatTagged(record[f] as Value)));
    let members = groups.get(key);
    if (members === undefined) {
      members = [];
      groups.set(key, members);
    }
    members.push(record);
  }
  if (groupBy.length === 0 && groups.size === 0) groups.set('', []);
  const out: Rec[] = [];
  for (const members of groups.values()) {
    const row: Rec = {};
    const first = members[0];
    for (const f of groupBy) row[f] = (first as Rec)[f] as Value;
    for (const [name, agg] of aggs) row[name] = aggregate(members, agg, meter, step.id, name);
    out.push(row);
  }
  if (groupBy.length > 0) {
    meter.charge(COST.sortCompare * sortComparisons(out.length));
    out.sort((a, b) => {
      for (const f of groupBy) {
        const c = compareValues(a[f] as Value, b[f] as Value);
        if (c !== 0) return c;
      }
      return 0;
    });
  }
  return out;
}

const formatTagged = (v: Value): string => `${typeof v}:${formatValue(v)}`;

function aggregate(
  members: Rec[],
  agg: Aggregation,
  meter: Meter,
  stepId: string,
  name: string,
): Value {
  meter.charge(COST.aggregate * members.length);
  if (agg.fn === 'count') return D.fromInteger(BigInt(members.length));
  const field = agg.field as string;
  if (agg.fn === 'sum') return members.reduce((acc, r) => D.add(acc, r[field] as bigint), 0n);
  if (members.length === 0) {
    throw new M2mError(
      'EXEC_EMPTY_AGGREGATE',
      `step "${stepId}": aggregation "${name}" (${agg.fn}) over no records has no value`,
      { stepId },
    );
  }
  const values = members.map((r) => r[field] as Value);
  switch (agg.fn) {
    case 'first':
      return values[0] as Value;
    case 'last':
      return values[values.length - 1] as Value;
    case 'min':
      return values.reduce((a, b) => (compareValues(b, a) < 0 ? b : a));
    case 'max':
      return values.reduce((a, b) => (compareValues(b, a) > 0 ? b : a));
    case 'avg': {
      const sum = (values as bigint[]).reduce((acc, v) => D.add(acc, v), 0n);
      return sum / BigInt(values.length);
    }
    case 'median': {
      meter.charge(COST.sortCompare * sortComparisons(values.length));
      const sorted = (values as bigint[]).slice().sort(D.compareNum);
      const mid = sorted.length >> 1;
      // The mean of two i64 values always fits; the bigint sum cannot overflow.
      return sorted.length % 2 === 1
        ? (sorted[mid] as bigint)
        : ((sorted[mid - 1] as bigint) + (sorted[mid] as bigint)) / 2n;
    }
  }
}
