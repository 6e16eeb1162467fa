import { canonicalJson } from '../commitment/digest.js';
import { M2mError } from '../errors.js';
import { csvField } from '../exec/csv.js';
import * as D from '../numeric/decimal.js';
import { buildExecutionDAG } from '../plan/dag.js';
import type {
  AggregateStep,
  ExecutionPlan,
  ExecutionStep,
  Expr,
  LoopStep,
  TransformStep,
} from '../plan/schema.js';
import { stepInputs } from '../plan/schema.js';
import { type ValueType, valueTypeOf } from '../plan/typecheck.js';
import { sha256Felts } from './encode.js';
import {
  type Layout,
  packedLayout,
  sameLayout,
  slotWidth,
  sortedEntries,
  sortNames,
  typesOf,
} from './layout.js';
import { assertProvable } from './support.js';

/**
 * Plan -> Miden assembly. The compiler is deterministic: the same plan always gives the same
 * program text, so a verifier recompiles the plan it agreed to and checks the proof against that
 * program's MAST root. The program:
 *
 *   1. asserts the 8 public plan-hash felts equal the plan's sha256 (compiled in),
 *   2. pipes every data-input blob from the advice map into memory while hashing it, hashes the
 *      blob digests into the data root and asserts it equals the 4 public data-root felts,
 *   3. runs the steps the output needs (memoised procedures; a branch runs one arm),
 *   4. orders and limits the output, encodes it as a blob and leaves its digest on the stack.
 *
 * Work the VM can check more cheaply than redo comes as advice ("hints") and is checked:
 * group membership of aggregate records (keys compared, groups strictly ordered, none empty),
 * median order (a rank per value, each slot filled once, slots non-decreasing) and the output
 * order (a position per record, each slot once, adjacent records ordered, ties by input index).
 * A wrong hint makes an assertion fail, so it cannot produce a proof.
 */

export const HEAP_START = 1 << 20;
/** Advice-map keys: a word of four equal felts, so its element order cannot matter. */
export const BLOB_KEY_BASE = 1_000_000;
export const AGGREGATE_KEY_BASE = 2_000_000;
export const OUTPUT_KEY = 3_000_000;
export const PARSE_KEY_BASE = 4_000_000;
const P_MINUS_ONE = 18446744069414584320n;

export interface CompiledPlan {
  masm: string;
  /** Data-input step ids in plan order: blob j is under key BLOB_KEY_BASE + j. */
  dataInputs: string[];
  /** Field types per data-input step (the blob encoding). */
  inputTypes: Map<string, Map<string, ValueType>>;
  /** Aggregate step id -> its hint key. */
  aggregateKeys: Map<string, number>;
  /** Parse step id -> its hint key (the number of records it produces). */
  parseKeys: Map<string, number>;
  /** Field types of the output records (the output-hash encoding). */
  outputTypes: Map<string, ValueType>;
}

interface Table {
  count: number;
  arr: number;
  layout: Layout;
}

class Globals {
  private next = 8;
  cell(): number {
    return this.next++;
  }
  /** A word-aligned block. */
  block(size: number): number {
    this.next = align(this.next, 4);
    const at = this.next;
    this.next += size;
    return at;
  }
  get end(): number {
    return this.next;
  }
}

const align = (n: number, to: number): number => Math.ceil(n / to) * to;
const errorConst = (code: string, text: string): string =>
  `"${code}: ${text.replace(/["\\]/g, "'")}"`;

/** Compiles a validated plan. Throws BACKEND_UNSUPPORTED_OPERATION for what it cannot prove. */
export function compilePlan(plan: ExecutionPlan, planHash: string): CompiledPlan {
  assertProvable(plan);
  return new Compiler(plan, planHash).compile();
}

class Compiler {
  private readonly g = new Globals();
  private readonly dag;
  private readonly steps = new Map<string, ExecutionStep>();
  private readonly tables = new Map<string, Table>();
  private readonly procs: string[] = [];
  private readonly procIndex = new Map<string, number>();
  private readonly literals = new Map<string, number>();
  private readonly errors = new Map<string, string>();
  private readonly aggregateKeys = new Map<string, number>();
  private readonly parseKeys = new Map<string, number>();
  /** Whether the program calls m2m::plan::text (an unused import does not assemble). */
  private usesText = false;
  private readonly CUR: number;
  private readonly DST: number;

  constructor(
    private readonly plan: ExecutionPlan,
    private readonly planHash: string,
  ) {
    this.dag = buildExecutionDAG(plan);
    for (const step of plan.steps) this.steps.set(step.id, step);
    this.CUR = this.g.cell();
    this.DST = this.g.cell();
  }

  compile(): CompiledPlan {
    const dataInputs = this.plan.steps.filter((s) => s.type === 'data-input').map((s) => s.id);
    const { blobStart, blobEnd, inputTypes } = this;
    for (const id of dataInputs) {
      blobStart.set(id, this.g.cell());
      blobEnd.set(id, this.g.cell());
    }
    for (const id of dataInputs) {
      const step = this.steps.get(id) as Extract<ExecutionStep, { type: 'data-input' }>;
      const types = new Map<string, ValueType>();
      for (const [name, t] of Object.entries(step.schema.fields)) types.set(name, valueTypeOf(t));
      inputTypes.set(id, types);
    }

    this.ensureProc(this.plan.output.step);
    const out = this.tables.get(this.plan.output.step) as Table;
    const outputCode = this.outputCode(out);

    const digests = this.g.block(align(4 * dataInputs.length, 8));
    const rootCells = [this.g.cell(), this.g.cell(), this.g.cell(), this.g.cell()];
    const heapStart = Math.max(HEAP_START, align(this.g.end, 8));
    const main: string[] = [`push.${heapStart} mem_store.0`];
    for (const [text, at] of this.literals) main.push(...literalInit(text, at));
    sha256Felts(this.planHash).forEach((felt) => {
      main.push(
        `push.${felt} assert_eq.err=${this.err('M2M_PLAN_WRONG_PLAN', 'public plan hash is not the compiled plan')}`,
      );
    });
    for (const cell of rootCells) main.push(`mem_store.${cell}`);
    dataInputs.forEach((id, j) => {
      const k = BLOB_KEY_BASE + j;
      main.push(
        `mem_load.0 dup mem_store.${blobStart.get(id)}`,
        `push.${k}.${k}.${k}.${k} exec.data::load_blob`,
        ...[0, 1, 2, 3].map((i) => `mem_store.${digests + 4 * j + i}`),
        `dup mem_store.${blobEnd.get(id)} mem_store.0`,
      );
    });
    main.push(`push.${align(4 * dataInputs.length, 8)} push.${digests} exec.data::hash_memory`);
    for (const cell of rootCells)
      main.push(
        `mem_load.${cell} assert_eq.err=${this.err('M2M_PLAN_WRONG_DATA', 'the input data does not hash to the public data root')}`,
      );
    main.push(`exec.${this.procName(this.plan.output.step)}`, ...outputCode, 'swapw dropw');

    const header = [
      '# Generated by the m2m plan compiler from the plan below; do not edit.',
      `# plan ${this.plan.id} ${this.planHash}`,
      'use m2m::plan::fixed',
      'use m2m::plan::str',
      'use m2m::plan::data',
      ...(this.usesText ? ['use m2m::plan::text'] : []),
      '',
      ...[...this.errors].map(([name, text]) => `const ${name} = ${text}`),
      '',
    ];
    const masm = [...header, ...this.procs, 'begin', ...indent(main), 'end', ''].join('\n');
    return {
      masm,
      dataInputs,
      inputTypes,
      aggregateKeys: this.aggregateKeys,
      parseKeys: this.parseKeys,
      outputTypes: typesOf(out.layout),
    };
  }

  /** Per data-input step: cells holding its blob's start and end address, and field types. */
  private readonly blobStart = new Map<string, number>();
  private readonly blobEnd = new Map<string, number>();
  private readonly inputTypes = new Map<string, Map<string, ValueType>>();

  // ------------------------------------------------------------------ helpers

  private err(code: string, text: string): string {
    const value = errorConst(code, text);
    for (const [name, existing] of this.errors) if (existing === value) return name;
    const name = `ERR_${this.errors.size}`;
    this.errors.set(name, value);
    return name;
  }

  private literal(text: string): number {
    let at = this.literals.get(text);
    if (at === undefined) {
      at = this.g.block(4 + align(Buffer.byteLength(text, 'utf8'), 4));
      this.literals.set(text, at);
    }
    return at;
  }

  private procName(stepId: string): string {
    return `step_${this.procIndex.get(stepId)}`;
  }

  private newTable(layout: Layout): Table {
    return { count: this.g.cell(), arr: this.g.cell(), layout };
  }

  /** Emits (once) the memoised procedure of a step and its dependencies. */
  private ensureProc(id: string): Table {
    const done = this.tables.get(id);
    if (done !== undefined) return done;
    const step = this.steps.get(id) as ExecutionStep;
    const deps = [...new Set((this.dag.dependencies.get(id) ?? []).map((d) => d.from))];
    for (const dep of deps) this.ensureProc(dep);
    const { table, body } = this.stepCode(step);
    this.tables.set(id, table);
    this.procIndex.set(id, this.procIndex.size);
    const doneCell = this.g.cell();
    const callDeps = step.type === 'branch' ? [] : deps.map((dep) => `exec.${this.procName(dep)}`);
    this.procs.push(
      `#! step "${id}" (${step.type})`,
      `proc ${this.procName(id)}`,
      `    mem_load.${doneCell} eq.0`,
      '    if.true',
      ...indent(indent([...callDeps, ...body, `push.1 mem_store.${doneCell}`])),
      '    end',
      'end',
      '',
    );
    return table;
  }

  private inputTable(step: ExecutionStep, code: string[]): Table {
    const ids = stepInputs(step);
    const tables = ids.map((id) => this.tables.get(id) as Table);
    if (tables.length === 1) return tables[0] as Table;
    const first = tables[0] as Table;
    const layout = tables.every((t) => sameLayout(t.layout, first.layout))
      ? first.layout
      : packedLayout(typesOf(first.layout));
    const out = this.newTable(layout);
    const pos = this.g.cell();
    code.push(
      tables.map((t) => `mem_load.${t.count}`).join(' ') + ' add'.repeat(tables.length - 1),
      `dup mem_store.${out.count} exec.str::alloc mem_store.${out.arr}`,
      `push.0 mem_store.${pos}`,
    );
    for (const t of tables) {
      code.push(
        ...this.forEach(t, [
          ...this.recordInLayout(t.layout, layout),
          `mem_load.${pos} mem_load.${out.arr} add mem_store`,
          `mem_load.${pos} add.1 mem_store.${pos}`,
        ]),
      );
    }
    return out;
  }

  /** Pushes a pointer to the current record (CUR) in `to`'s layout, copying if it differs. */
  private recordInLayout(from: Layout, to: Layout): string[] {
    if (sameLayout(from, to)) return [`mem_load.${this.CUR}`];
    return [
      `push.${to.stride} exec.str::alloc mem_store.${this.DST}`,
      ...this.copyFields(from, to, [...to.fields.keys()]),
      `mem_load.${this.DST}`,
    ];
  }

  /** Copies the named fields from the record in CUR (layout `from`) to DST (layout `to`). */
  private copyFields(from: Layout, to: Layout, names: string[]): string[] {
    const code: string[] = [];
    for (const name of names) {
      const a = from.fields.get(name);
      const b = to.fields.get(name);
      if (a === undefined || b === undefined) continue;
      for (let i = 0; i < slotWidth(a.type); i++)
        code.push(
          `mem_load.${this.CUR} add.${a.offset + i} mem_load mem_load.${this.DST} add.${b.offset + i} mem_store`,
        );
    }
    return code;
  }

  private forRange(countCell: number, indexCell: number, body: string[]): string[] {
    return [
      `push.0 mem_store.${indexCell}`,
      `mem_load.${countCell} eq.0 not`,
      'while.true',
      ...indent(body),
      `    mem_load.${indexCell} add.1 dup mem_store.${indexCell} mem_load.${countCell} lt`,
      'end',
    ];
  }

  /** Loops over a table's records with CUR set to each; `index` (if given) holds the position. */
  private forEach(table: Table, body: string[], index = this.g.cell()): string[] {
    return this.forRange(table.count, index, [
      `mem_load.${index} mem_load.${table.arr} add mem_load mem_store.${this.CUR}`,
      ...body,
    ]);
  }

  // ------------------------------------------------------------------ values

  /** Loads a field of the record whose pointer is on the stack: [ptr] -> [value]. */
  private loadAt(layout: Layout, name: string): string[] {
    const slot = layout.fields.get(name);
    if (slot === undefined) throw new M2mError('PLAN_PROOF_COMPILE', `no field "${name}"`);
    return slot.type === 'num'
      ? [`dup add.${slot.offset + 1} mem_load swap add.${slot.offset} mem_load`]
      : [`add.${slot.offset} mem_load`];
  }

  private load(cell: number, layout: Layout, name: string): string[] {
    return [`mem_load.${cell}`, ...this.loadAt(layout, name)];
  }

  /** Stores the value on the stack into a field of the record whose pointer is in `cell`. */
  private store(cell: number, layout: Layout, name: string): string[] {
    const slot = layout.fields.get(name);
    if (slot === undefined) throw new M2mError('PLAN_PROOF_COMPILE', `no field "${name}"`);
    return slot.type === 'num'
      ? [
          `mem_load.${cell} add.${slot.offset} mem_store mem_load.${cell} add.${slot.offset + 1} mem_store`,
        ]
      : [`mem_load.${cell} add.${slot.offset} mem_store`];
  }

  private typeOf(expr: Expr, record: Layout | undefined): ValueType {
    switch (expr.op) {
      case 'field':
        return (record?.fields.get(expr.name)?.type ?? 'num') as ValueType;
      case 'ref':
        return (this.tables.get(expr.step)?.layout.fields.get(expr.field)?.type ??
          'num') as ValueType;
      case 'lit':
        return typeof expr.value === 'string'
          ? 'string'
          : typeof expr.value === 'boolean'
            ? 'bool'
            : 'num';
      case 'eq':
      case 'ne':
      case 'lt':
      case 'le':
      case 'gt':
      case 'ge':
      case 'and':
      case 'or':
      case 'not':
        return 'bool';
      case 'concat':
      case 'upper':
      case 'lower':
      case 'toString':
        return 'string';
      case 'min':
      case 'max':
        return this.typeOf(expr.args[0] as Expr, record);
      case 'if':
        return this.typeOf(expr.args[1], record);
      default:
        return 'num';
    }
  }

  /** Code that pushes the value of an expression; the current record is in CUR. */
  private expr(e: Expr, record: Layout | undefined): string[] {
    const shared = this.shared.get(exprKey(e));
    if (shared !== undefined) return [...shared].reverse().map((cell) => `mem_load.${cell}`);
    switch (e.op) {
      case 'field':
        return this.load(this.CUR, record as Layout, e.name);
      case 'ref': {
        const table = this.tables.get(e.step) as Table;
        return [`mem_load.${table.arr} mem_load`, ...this.loadAt(table.layout, e.field)];
      }
      case 'lit':
      case 'dec': {
        if (typeof e.value === 'boolean') return [`push.${e.value ? 1 : 0}`];
        if (typeof e.value === 'string' && e.op === 'lit') return [`push.${this.literal(e.value)}`];
        const m =
          typeof e.value === 'number'
            ? D.fromJsonNumber(e.value)
            : (D.parseDecimal(e.value as string) as bigint);
        const u = BigInt.asUintN(64, m);
        return [`push.${u >> 32n} push.${u & 0xffff_ffffn}`];
      }
      case 'and':
      case 'or':
        return this.logic(e.op, e.args, record);
      case 'if': {
        const [c, t, f] = e.args;
        return [
          ...this.expr(c, record),
          'if.true',
          ...indent(this.expr(t, record)),
          'else',
          ...indent(this.expr(f, record)),
          'end',
        ];
      }
      case 'round':
        return [...this.expr(e.args[0], record), `push.${e.digits} exec.fixed::round`];
      default:
        break;
    }
    const type = this.typeOf(e.args[0] as Expr, record);
    const args = e.args.map((a) => this.expr(a, record));
    const unary = (op: string) => [...(args[0] as string[]), op];
    const binary = (op: string) => [...(args[0] as string[]), ...(args[1] as string[]), op];
    const fold = (op: string) => [
      ...(args[0] as string[]),
      ...args.slice(1).flatMap((a) => [...a, op]),
    ];
    switch (e.op) {
      case 'add':
        return fold('exec.fixed::add');
      case 'mul':
        return fold('exec.fixed::mul');
      case 'sub':
        return binary('exec.fixed::sub');
      case 'div':
        return binary('exec.fixed::div');
      case 'mod':
        return binary('exec.fixed::mod');
      case 'neg':
      case 'abs':
      case 'floor':
      case 'ceil':
        return unary(`exec.fixed::${e.op}`);
      case 'not':
        return unary('not');
      case 'len':
        return unary('exec.str::len');
      case 'upper':
      case 'lower':
        return unary(`exec.str::${e.op}`);
      case 'concat':
        return fold('exec.str::concat');
      case 'toString':
        return [...(args[0] as string[]), ...this.toStringCode(type)];
      case 'toNumber':
        this.usesText = true;
        return [
          ...(args[0] as string[]),
          'dup mem_load push.0 movup.2 exec.text::try_parse_decimal_bytes',
          `dup eq.3 assertz.err=${this.err('EXEC_OVERFLOW', 'toNumber: a decimal outside the numeric model')}`,
          `assertz.err=${this.err('EXEC_INVALID_NUMBER', 'toNumber: not a decimal number, or more than 6 fractional digits')}`,
        ];
      case 'eq':
      case 'ne': {
        const literal = type === 'string' ? literalOperand(e.args as [Expr, Expr]) : undefined;
        const test =
          literal === undefined
            ? binary(eqCode(type))
            : [...this.expr(literal.other, record), ...literalEqCode(literal.text)];
        return e.op === 'eq' ? test : [...test, 'not'];
      }
      case 'lt':
      case 'le':
      case 'gt':
      case 'ge':
        return binary(orderCode(e.op, type));
      case 'min':
      case 'max':
        return fold(selectCode(e.op, type));
      default:
        throw new M2mError('BACKEND_UNSUPPORTED_OPERATION', `expression op "${e.op}"`);
    }
  }

  /** [value] -> [ptr]: formatValue (numbers as decimal text, booleans as true/false). */
  private toStringCode(type: ValueType): string[] {
    if (type === 'string') return [];
    if (type === 'bool')
      return [`if.true push.${this.literal('true')} else push.${this.literal('false')} end`];
    this.usesText = true;
    return ['exec.text::format_decimal'];
  }

  /** [ptr] -> [flag]: the string at ptr equals `text`. */
  private stringEqualsLiteral(text: string): string[] {
    return Buffer.byteLength(text, 'utf8') <= INLINE_LITERAL_BYTES
      ? literalEqCode(text)
      : [`push.${this.literal(text)} exec.str::eq`];
  }

  /** Lazy and/or: later arguments run only when they can change the result. */
  private logic(op: 'and' | 'or', args: Expr[], record: Layout | undefined): string[] {
    const [first, ...rest] = args as [Expr, ...Expr[]];
    const code = this.expr(first, record);
    if (rest.length === 0) return code;
    const next = this.logic(op, rest, record);
    return op === 'and'
      ? [...code, 'if.true', ...indent(next), 'else', '    push.0', 'end']
      : [...code, 'if.true', '    push.1', 'else', ...indent(next), 'end'];
  }

  /** Hoisted subexpressions of the expressions being compiled: key -> cells (stack top first). */
  private shared = new Map<string, number[]>();

  /**
   * Common subexpressions: a pure subexpression that several of `exprs` evaluate unconditionally
   * is computed once into cells before `emit`'s code, which then loads it. Only unconditional
   * occurrences count, so hoisting never evaluates what the reference would have skipped.
   */
  private withShared(exprs: Expr[], record: Layout | undefined, emit: () => string[]): string[] {
    const hoisted = commonSubexpressions(exprs);
    const code: string[] = [];
    for (const node of hoisted) {
      const width = slotWidth(this.typeOf(node, record));
      const cells = Array.from({ length: width }, () => this.g.cell());
      code.push(...this.expr(node, record), ...cells.map((cell) => `mem_store.${cell}`));
      this.shared.set(exprKey(node), cells);
    }
    try {
      return [...code, ...emit()];
    } finally {
      this.shared = new Map();
    }
  }

  // ------------------------------------------------------------------ steps

  private stepCode(step: ExecutionStep): { table: Table; body: string[] } {
    const code: string[] = [];
    switch (step.type) {
      case 'data-input':
        return this.dataInput(step.id);
      case 'filter': {
        const input = this.inputTable(step, code);
        const out = this.newTable(input.layout);
        code.push(
          `mem_load.${input.count} exec.str::alloc mem_store.${out.arr} push.0 mem_store.${out.count}`,
          ...this.forEach(input, [
            ...this.withShared([step.predicate], input.layout, () =>
              this.expr(step.predicate, input.layout),
            ),
            'if.true',
            `    mem_load.${this.CUR} mem_load.${out.count} mem_load.${out.arr} add mem_store`,
            `    mem_load.${out.count} add.1 mem_store.${out.count}`,
            'end',
          ]),
        );
        return { table: out, body: code };
      }
      case 'transform':
        return this.transform(step, code);
      case 'loop':
        return this.loop(step, code);
      case 'aggregate':
        return this.aggregate(step, code);
      case 'compute': {
        const types = new Map<string, ValueType>();
        for (const [name, e] of sortedEntries(step.assign))
          types.set(name, this.typeOf(e, undefined));
        const out = this.newTable(packedLayout(types));
        code.push(`push.${out.layout.stride} exec.str::alloc mem_store.${this.DST}`);
        const assign = sortedEntries(step.assign);
        code.push(
          ...this.withShared(
            assign.map(([, e]) => e),
            undefined,
            () =>
              assign.flatMap(([name, e]) => [
                ...this.expr(e, undefined),
                ...this.store(this.DST, out.layout, name),
              ]),
          ),
        );
        code.push(
          `push.1 dup mem_store.${out.count} exec.str::alloc dup mem_store.${out.arr}`,
          `mem_load.${this.DST} swap mem_store`,
        );
        return { table: out, body: code };
      }
      case 'branch': {
        const then = this.tables.get(step.then) as Table;
        const other = this.tables.get(step.else) as Table;
        const layout = sameLayout(then.layout, other.layout)
          ? then.layout
          : packedLayout(typesOf(then.layout));
        const out = this.newTable(layout);
        const refs = [
          ...new Set(
            (this.dag.dependencies.get(step.id) ?? [])
              .filter((d) => d.kind === 'ref')
              .map((d) => d.from),
          ),
        ];
        const arm = (t: Table, id: string) => [
          `exec.${this.procName(id)}`,
          ...(sameLayout(t.layout, layout)
            ? [`mem_load.${t.count} mem_store.${out.count} mem_load.${t.arr} mem_store.${out.arr}`]
            : this.convertTable(t, out)),
        ];
        code.push(
          ...refs.map((r) => `exec.${this.procName(r)}`),
          ...this.expr(step.condition, undefined),
          'if.true',
          ...indent(arm(then, step.then)),
          'else',
          ...indent(arm(other, step.else)),
          'end',
        );
        return { table: out, body: code };
      }
    }
  }

  private convertTable(from: Table, to: Table): string[] {
    const index = this.g.cell();
    return [
      `mem_load.${from.count} dup mem_store.${to.count} exec.str::alloc mem_store.${to.arr}`,
      ...this.forEach(
        from,
        [
          ...this.recordInLayout(from.layout, to.layout),
          `mem_load.${index} mem_load.${to.arr} add mem_store`,
        ],
        index,
      ),
    ];
  }

  private dataInput(id: string): { table: Table; body: string[] } {
    const types = this.inputTypes.get(id) as Map<string, ValueType>;
    const out = this.newTable(packedLayout(types));
    const cursor = this.g.cell();
    const index = this.g.cell();
    const start = this.blobStart.get(id) as number;
    const end = this.blobEnd.get(id) as number;
    const fields: string[] = [];
    for (const name of sortNames(types.keys())) {
      const type = types.get(name) as ValueType;
      if (type === 'num')
        fields.push(
          `mem_load.${cursor} add.1 mem_load mem_load.${cursor} mem_load u32assert2.err=${this.err('M2M_PLAN_BAD_DATA', 'a number limb is not a u32')}`,
          ...this.store(this.DST, out.layout, name),
          `mem_load.${cursor} add.4 mem_store.${cursor}`,
        );
      else if (type === 'bool')
        fields.push(
          `mem_load.${cursor} mem_load dup u32lt.2 assert.err=${this.err('M2M_PLAN_BAD_DATA', 'a boolean is not 0 or 1')}`,
          ...this.store(this.DST, out.layout, name),
          `mem_load.${cursor} add.4 mem_store.${cursor}`,
        );
      else
        fields.push(
          `mem_load.${cursor}`,
          ...this.store(this.DST, out.layout, name),
          `mem_load.${cursor} dup mem_load u32assert.err=${this.err('M2M_PLAN_BAD_DATA', 'a string length is not a u32')}`,
          'add.3 u32div.4 mul.4 add.4 add',
          `mem_store.${cursor}`,
        );
    }
    const body = [
      `mem_load.${start} add.4 mem_store.${cursor}`,
      `mem_load.${start} mem_load dup mem_store.${out.count} exec.str::alloc mem_store.${out.arr}`,
      ...this.forRange(out.count, index, [
        `push.${out.layout.stride} exec.str::alloc dup mem_store.${this.DST}`,
        `mem_load.${index} mem_load.${out.arr} add mem_store`,
        ...fields,
      ]),
      `mem_load.${cursor} mem_load.${end} lte assert.err=${this.err('M2M_PLAN_BAD_DATA', `blob of "${id}" ends before its records`)}`,
    ];
    return { table: out, body };
  }

  private transform(step: TransformStep, code: string[]): { table: Table; body: string[] } {
    const input = this.inputTable(step, code);
    const op = step.operation;
    switch (op.op) {
      case 'select':
      case 'rename': {
        const fields = new Map(input.layout.fields);
        if (op.op === 'select') {
          for (const name of [...fields.keys()]) if (!op.fields.includes(name)) fields.delete(name);
        } else {
          const moved = sortedEntries(op.mapping).map(
            ([from, to]) => [to, input.layout.fields.get(from)] as const,
          );
          for (const from of Object.keys(op.mapping)) fields.delete(from);
          for (const [to, slot] of moved) if (slot !== undefined) fields.set(to, slot);
        }
        const sorted = new Map(sortNames(fields.keys()).map((n) => [n, fields.get(n) as never]));
        const out = this.newTable({ fields: sorted, stride: input.layout.stride });
        code.push(
          `mem_load.${input.count} mem_store.${out.count} mem_load.${input.arr} mem_store.${out.arr}`,
        );
        return { table: out, body: code };
      }
      case 'map': {
        const types = typesOf(input.layout);
        const assigned = sortedEntries(op.assign);
        for (const [name, e] of assigned) types.set(name, this.typeOf(e, input.layout));
        const out = this.newTable(packedLayout(types));
        const kept = [...input.layout.fields.keys()].filter((n) => !(n in op.assign));
        const index = this.g.cell();
        code.push(
          `mem_load.${input.count} dup mem_store.${out.count} exec.str::alloc mem_store.${out.arr}`,
          ...this.forEach(
            input,
            [
              `push.${out.layout.stride} exec.str::alloc dup mem_store.${this.DST}`,
              `mem_load.${index} mem_load.${out.arr} add mem_store`,
              ...this.copyFields(input.layout, out.layout, kept),
              ...this.withShared(
                assigned.map(([, e]) => e),
                input.layout,
                () =>
                  assigned.flatMap(([name, e]) => [
                    ...this.expr(e, input.layout),
                    ...this.store(this.DST, out.layout, name),
                  ]),
              ),
            ],
            index,
          ),
        );
        return { table: out, body: code };
      }
      case 'parse':
        if (op.format === 'json') return this.parseJson(step.id, op, input, code);
        break;
      case 'serialize':
        if (op.format === 'csv') return this.serializeCsv(op.field, input, code);
        break;
    }
    throw new M2mError('BACKEND_UNSUPPORTED_OPERATION', `transform ${op.op} (${op.format})`);
  }

  /**
   * `parse (json)`: every input record's text yields its items, in order. The number of records
   * comes as a hint (the table is allocated up front) and is asserted at the end. The driver is
   * the one m2m::plan::text documents: coercion failures are deferred to the object's end, a
   * repeated key is refused (M2M_TEXT_UNSUPPORTED), an unknown or missing one fails.
   */
  private parseJson(
    stepId: string,
    op: Extract<TransformStep['operation'], { op: 'parse' }>,
    input: Table,
    code: string[],
  ): { table: Table; body: string[] } {
    this.usesText = true;
    const fields = sortedEntries(op.schema.fields);
    const out = this.newTable(
      packedLayout(new Map(fields.map(([name, t]) => [name, valueTypeOf(t)]))),
    );
    const key = PARSE_KEY_BASE + this.parseKeys.size;
    this.parseKeys.set(stepId, key);
    const pos = this.g.cell();
    const ok = this.g.cell();
    const seen = fields.map(() => this.g.cell());
    const failed = (text: string) => this.err('EXEC_PARSE_FAILED', `step ${stepId}: ${text}`);
    const read = (type: string): string => {
      switch (type) {
        case 'string':
          return 'exec.text::json_try_string';
        case 'boolean':
          return 'exec.text::json_try_bool';
        case 'integer':
          return 'exec.text::json_try_integer';
        default:
          return 'exec.text::json_try_decimal';
      }
    };
    // [key_ptr] -> []: the first field whose name matches reads the value; no match fails.
    const dispatch = (i: number): string[] => {
      const entry = fields[i];
      if (entry === undefined)
        return [
          `drop push.0 assert.err=${failed(`a JSON key is not in the schema (${fields.map(([n]) => n).join(', ')})`)}`,
        ];
      const [name, type] = entry;
      return [
        'dup',
        ...this.stringEqualsLiteral(name),
        'if.true',
        ...indent([
          'drop',
          `mem_load.${seen[i]} assertz.err=${this.err('M2M_TEXT_UNSUPPORTED', 'a repeated JSON key is not supported')}`,
          `push.1 mem_store.${seen[i]}`,
          read(type),
          `mem_load.${ok} and mem_store.${ok}`,
          ...this.store(this.DST, out.layout, name),
        ]),
        'else',
        ...indent(dispatch(i + 1)),
        'end',
      ];
    };
    code.push(
      `push.${key}.${key}.${key}.${key} adv.push_mapval dropw adv_push`,
      `dup mem_store.${out.count} exec.str::alloc mem_store.${out.arr} push.0 mem_store.${pos}`,
      ...this.forEach(input, [
        ...this.load(this.CUR, input.layout, op.field),
        'exec.text::json_begin drop',
        'exec.text::json_next_object',
        'while.true',
        ...indent([
          `push.${out.layout.stride} exec.str::alloc mem_store.${this.DST}`,
          `push.1 mem_store.${ok}`,
          ...seen.map((cell) => `push.0 mem_store.${cell}`),
          'exec.text::json_next_key',
          'while.true',
          ...indent([...dispatch(0), 'exec.text::json_next_key']),
          'end',
          `mem_load.${ok} assert.err=${failed('a JSON value does not coerce to its field type')}`,
          `${seen.map((cell) => `mem_load.${cell}`).join(' ')}${' and'.repeat(seen.length - 1)} assert.err=${failed('a JSON object lacks a field of the schema')}`,
          `mem_load.${this.DST} mem_load.${pos} mem_load.${out.arr} add mem_store`,
          `mem_load.${pos} add.1 mem_store.${pos}`,
          'exec.text::json_next_object',
        ]),
        'end',
        'exec.text::json_end',
      ]),
      `mem_load.${pos} mem_load.${out.count} assert_eq.err=${this.err('M2M_PLAN_BAD_HINT', 'the parsed record count differs from the hint')}`,
    );
    return { table: out, body: code };
  }

  /**
   * `serialize (csv)`: one record whose field holds formatCsv of the input: the sorted field
   * names, then a line per record (numbers as decimal text, booleans as true/false, strings
   * quoted when they need it); no records give the empty text.
   */
  private serializeCsv(
    field: string,
    input: Table,
    code: string[],
  ): { table: Table; body: string[] } {
    this.usesText = true;
    const names = [...input.layout.fields.keys()];
    const out = this.newTable(packedLayout(new Map([[field, 'string' as ValueType]])));
    const header = this.literal(names.map(csvField).join(','));
    const values = names.flatMap((name, i) => {
      const type = (input.layout.fields.get(name) as { type: ValueType }).type;
      const append =
        type === 'num'
          ? 'exec.text::builder_append_decimal'
          : type === 'bool'
            ? 'exec.text::builder_append_bool'
            : 'exec.text::builder_append_csv_field';
      return [
        ...(i > 0 ? ['push.44 exec.text::builder_append_byte'] : []),
        ...this.load(this.CUR, input.layout, name),
        append,
      ];
    });
    code.push(
      'exec.text::builder_start',
      `mem_load.${input.count} eq.0 not`,
      'if.true',
      `    push.${header} exec.text::builder_append`,
      'end',
      ...this.forEach(input, ['push.10 exec.text::builder_append_byte', ...values]),
      `exec.text::builder_finish mem_store.${this.DST}`,
      `push.1 dup mem_store.${out.count} exec.str::alloc mem_store.${out.arr}`,
      `push.${out.layout.stride} exec.str::alloc dup mem_load.${out.arr} mem_store`,
      `mem_load.${this.DST} swap mem_store`,
    );
    return { table: out, body: code };
  }

  private loop(step: LoopStep, code: string[]): { table: Table; body: string[] } {
    const input = this.inputTable(step, code);
    const types = typesOf(input.layout);
    const body = sortedEntries(step.body);
    for (const [name, e] of body) types.set(name, this.typeOf(e, input.layout));
    const layout = packedLayout(types);
    const out = this.newTable(layout);
    const index = this.g.cell();
    const iter = this.g.cell();
    const values = this.withShared(
      body.map(([, e]) => e),
      layout,
      () => body.flatMap(([, e]) => this.expr(e, layout)),
    );
    const stores = body
      .slice()
      .reverse()
      .flatMap(([name]) => this.store(this.CUR, layout, name));
    code.push(
      `mem_load.${input.count} dup mem_store.${out.count} exec.str::alloc mem_store.${out.arr}`,
      ...this.forEach(
        input,
        [
          `push.${layout.stride} exec.str::alloc dup mem_store.${this.DST}`,
          `mem_load.${index} mem_load.${out.arr} add mem_store`,
          ...this.copyFields(input.layout, layout, [...input.layout.fields.keys()]),
          `mem_load.${this.DST} mem_store.${this.CUR}`,
          `push.0 mem_store.${iter}`,
          ...this.expr(step.while, layout),
          'while.true',
          ...indent([
            ...values,
            ...stores,
            `mem_load.${iter} add.1 dup mem_store.${iter} push.${step.maxIterations} lt`,
            'if.true',
            ...indent(this.expr(step.while, layout)),
            'else',
            '    push.0',
            'end',
          ]),
          'end',
        ],
        index,
      ),
    );
    return { table: out, body: code };
  }

  private aggregate(step: AggregateStep, code: string[]): { table: Table; body: string[] } {
    const input = this.inputTable(step, code);
    const groupBy = step.groupBy ?? [];
    const aggs = sortedEntries(step.aggregations);
    const types = new Map<string, ValueType>();
    for (const f of groupBy) types.set(f, input.layout.fields.get(f)?.type ?? 'num');
    for (const [name, agg] of aggs) {
      const fieldType =
        agg.field === undefined ? 'num' : (input.layout.fields.get(agg.field)?.type ?? 'num');
      types.set(name, ['min', 'max', 'first', 'last'].includes(agg.fn) ? fieldType : 'num');
    }
    const medians = aggs.filter(([, a]) => a.fn === 'median');
    const pub = packedLayout(types);
    const CNT = pub.stride;
    const medianSlots = new Map(
      medians.map(([name], i) => [name, { arr: CNT + 1 + 2 * i, size: CNT + 2 + 2 * i }]),
    );
    const layout: Layout = { fields: pub.fields, stride: CNT + 1 + 2 * medians.length };
    const out = this.newTable(layout);
    const key = AGGREGATE_KEY_BASE + this.aggregateKeys.size;
    this.aggregateKeys.set(step.id, key);
    const hint = (text: string) => this.err('M2M_PLAN_BAD_HINT', `step ${step.id}: ${text}`);
    const GREC = this.g.cell();
    const PREV = this.g.cell();
    const SLOT = this.g.cell();
    const gi = this.g.cell();
    const k = this.g.cell();
    const grouped = groupBy.length > 0;

    code.push(`push.${key}.${key}.${key}.${key} adv.push_mapval dropw`);
    code.push(
      grouped
        ? `adv_push dup mem_load.${input.count} lte assert.err=${hint('more groups than records')} mem_store.${out.count}`
        : `push.1 mem_store.${out.count}`,
    );
    code.push(
      `mem_load.${out.count} exec.str::alloc mem_store.${out.arr}`,
      ...this.forRange(out.count, gi, [
        `push.${layout.stride} exec.str::alloc dup mem_store.${GREC}`,
        `mem_load.${gi} mem_load.${out.arr} add mem_store`,
        ...medians.flatMap(([name]) => {
          const s = medianSlots.get(name) as { arr: number; size: number };
          return [
            `adv_push u32assert.err=${hint('median size')} dup mem_load.${GREC} add.${s.size} mem_store`,
            `mul.4 exec.str::alloc mem_load.${GREC} add.${s.arr} mem_store`,
          ];
        }),
      ]),
    );

    const first: string[] = [];
    const update: string[] = [];
    for (const f of groupBy) {
      first.push(...this.copyField(input.layout, f, GREC, layout, f));
      const type = layout.fields.get(f)?.type as ValueType;
      update.push(
        ...this.load(GREC, layout, f),
        ...this.load(this.CUR, input.layout, f),
        eqCode(type),
        `assert.err=${hint('record in a group with another key')}`,
      );
    }
    for (const [name, agg] of aggs) {
      if (agg.fn === 'count' || agg.fn === 'median') continue;
      const field = agg.field as string;
      first.push(...this.copyField(input.layout, field, GREC, layout, name));
      const type = layout.fields.get(name)?.type as ValueType;
      switch (agg.fn) {
        case 'sum':
        case 'avg':
          update.push(
            ...this.load(GREC, layout, name),
            ...this.load(this.CUR, input.layout, field),
            'exec.fixed::add',
            ...this.store(GREC, layout, name),
          );
          break;
        case 'min':
        case 'max':
          update.push(
            ...this.load(GREC, layout, name),
            ...this.load(this.CUR, input.layout, field),
            orderCode(agg.fn === 'min' ? 'gt' : 'lt', type),
            'if.true',
            ...indent(this.copyField(input.layout, field, GREC, layout, name)),
            'end',
          );
          break;
        case 'last':
          update.push(...this.copyField(input.layout, field, GREC, layout, name));
          break;
        default:
          break;
      }
    }
    const place = medians.flatMap(([name, agg]) => {
      const s = medianSlots.get(name) as { arr: number; size: number };
      return [
        `adv_push dup mem_load.${GREC} add.${s.size} mem_load u32lt assert.err=${hint('median rank out of range')}`,
        `mul.4 mem_load.${GREC} add.${s.arr} mem_load add dup mem_store.${SLOT}`,
        `add.2 mem_load assertz.err=${hint('median rank used twice')}`,
        `push.1 mem_load.${SLOT} add.2 mem_store`,
        ...this.load(this.CUR, input.layout, agg.field as string),
        `mem_load.${SLOT} mem_store mem_load.${SLOT} add.1 mem_store`,
      ];
    });
    code.push(
      ...this.forEach(input, [
        grouped
          ? `adv_push dup mem_load.${out.count} u32lt assert.err=${hint('group index out of range')} mem_load.${out.arr} add mem_load mem_store.${GREC}`
          : `mem_load.${out.arr} mem_load mem_store.${GREC}`,
        `mem_load.${GREC} add.${CNT} mem_load eq.0`,
        'if.true',
        ...indent(first),
        ...(update.length > 0 ? ['else', ...indent(update)] : []),
        'end',
        `mem_load.${GREC} add.${CNT} dup mem_load add.1 swap mem_store`,
        ...place,
      ]),
    );

    const finalize: string[] = [
      `mem_load.${gi} mem_load.${out.arr} add mem_load mem_store.${GREC}`,
    ];
    if (grouped) {
      finalize.push(
        `mem_load.${GREC} add.${CNT} mem_load eq.0 assertz.err=${hint('empty group')}`,
        `mem_load.${gi} eq.0 not`,
        'if.true',
        ...indent([
          `mem_load.${gi} sub.1 mem_load.${out.arr} add mem_load mem_store.${PREV}`,
          ...this.compareRecords(
            PREV,
            GREC,
            layout,
            groupBy.map((f) => ({ field: f, desc: false })),
          ),
          `add.1 assertz.err=${hint('groups not in strictly increasing key order')}`,
        ]),
        'end',
      );
    } else if (aggs.some(([, a]) => a.fn !== 'count' && a.fn !== 'sum')) {
      const names = aggs
        .filter(([, a]) => a.fn !== 'count' && a.fn !== 'sum')
        .map(([n, a]) => `"${n}" (${a.fn})`);
      finalize.push(
        `mem_load.${GREC} add.${CNT} mem_load eq.0 assertz.err=${this.err('EXEC_EMPTY_AGGREGATE', `step ${step.id}: aggregation ${names[0]} over no records has no value`)}`,
      );
    }
    for (const [name, agg] of aggs) {
      if (agg.fn === 'count')
        finalize.push(
          `mem_load.${GREC} add.${CNT} mem_load exec.fixed::from_count`,
          ...this.store(GREC, layout, name),
        );
      else if (agg.fn === 'avg')
        finalize.push(
          ...this.load(GREC, layout, name),
          `mem_load.${GREC} add.${CNT} mem_load exec.fixed::div_count`,
          ...this.store(GREC, layout, name),
        );
      else if (agg.fn === 'median') {
        const s = medianSlots.get(name) as { arr: number; size: number };
        // [i] -> [lo, hi] of slot i of this group's median array
        const slot = `mul.4 mem_load.${GREC} add.${s.arr} mem_load add dup add.1 mem_load swap mem_load`;
        const count = `mem_load.${GREC} add.${CNT} mem_load`;
        finalize.push(
          `mem_load.${GREC} add.${s.size} mem_load ${count} assert_eq.err=${hint('median size differs from the group size')}`,
          `push.1 mem_store.${k}`,
          `${count} push.1 gt`,
          'while.true',
          ...indent([
            `mem_load.${k} sub.1 ${slot}`,
            `mem_load.${k} ${slot}`,
            `exec.fixed::lte assert.err=${hint('median values out of order')}`,
            `mem_load.${k} add.1 dup mem_store.${k} ${count} lt`,
          ]),
          'end',
          `${count} dup u32and.1`,
          'if.true',
          `    u32shr.1 ${slot}`,
          'else',
          `    u32shr.1 dup sub.1 ${slot}`,
          `    movup.2 ${slot}`,
          '    exec.fixed::mean2',
          'end',
          ...this.store(GREC, layout, name),
        );
      }
    }
    code.push(...this.forRange(out.count, gi, finalize));
    return { table: out, body: code };
  }

  /** Copies field `fromName` of the record in CUR to field `toName` of the record in `dst`. */
  private copyField(
    from: Layout,
    fromName: string,
    dst: number,
    to: Layout,
    toName: string,
  ): string[] {
    return [...this.load(this.CUR, from, fromName), ...this.store(dst, to, toName)];
  }

  /**
   * [ ] -> [c]: compares the records in cells a and b key by key; c = -1, 0 or 1 (as a felt)
   * for a before, tied with, after b. A descending key flips its comparison.
   */
  private compareRecords(
    a: number,
    b: number,
    layout: Layout,
    keys: { field: string; desc: boolean }[],
  ): string[] {
    const [key, ...rest] = keys as [
      { field: string; desc: boolean },
      ...{ field: string; desc: boolean }[],
    ];
    const type = layout.fields.get(key.field)?.type as ValueType;
    const code = [
      ...this.load(a, layout, key.field),
      ...this.load(b, layout, key.field),
      cmpCode(type),
      ...(key.desc ? ['neg'] : []),
    ];
    if (rest.length === 0) return code;
    return [
      ...code,
      'dup eq.0',
      'if.true',
      '    drop',
      ...indent(this.compareRecords(a, b, layout, rest)),
      'end',
    ];
  }

  // ------------------------------------------------------------------ output

  private outputCode(table: Table): string[] {
    const { sortBy, limit } = this.plan.output;
    const code: string[] = [];
    const n = this.g.cell();
    let arr = table.arr;
    if (sortBy !== undefined && sortBy.length > 0) {
      const hint = (text: string) => this.err('M2M_PLAN_BAD_HINT', `output order: ${text}`);
      const outArr = this.g.cell();
      const outIdx = this.g.cell();
      const SA = this.g.cell();
      const RA = this.g.cell();
      const RB = this.g.cell();
      const index = this.g.cell();
      const j = this.g.cell();
      code.push(
        `push.${OUTPUT_KEY}.${OUTPUT_KEY}.${OUTPUT_KEY}.${OUTPUT_KEY} adv.push_mapval dropw`,
        `mem_load.${table.count} exec.str::alloc mem_store.${outArr}`,
        `mem_load.${table.count} exec.str::alloc mem_store.${outIdx}`,
        ...this.forEach(
          table,
          [
            `adv_push dup mem_load.${table.count} u32lt assert.err=${hint('position out of range')}`,
            `dup mem_load.${outArr} add dup mem_store.${SA} mem_load assertz.err=${hint('position used twice')}`,
            `mem_load.${this.CUR} mem_load.${SA} mem_store`,
            `mem_load.${outIdx} add mem_load.${index} swap mem_store`,
          ],
          index,
        ),
        `push.1 mem_store.${j}`,
        `mem_load.${table.count} push.1 gt`,
        'while.true',
        ...indent([
          `mem_load.${j} sub.1 mem_load.${outArr} add mem_load mem_store.${RA}`,
          `mem_load.${j} mem_load.${outArr} add mem_load mem_store.${RB}`,
          ...this.compareRecords(
            RA,
            RB,
            table.layout,
            sortBy.map((s) => ({ field: s.field, desc: s.direction === 'desc' })),
          ),
          'dup eq.0',
          'if.true',
          ...indent([
            'drop',
            `mem_load.${j} sub.1 mem_load.${outIdx} add mem_load mem_load.${j} mem_load.${outIdx} add mem_load lt`,
            `assert.err=${hint('tied records out of input order')}`,
            `push.${P_MINUS_ONE}`,
          ]),
          'end',
          `add.1 assertz.err=${hint('records out of order')}`,
          `mem_load.${j} add.1 dup mem_store.${j} mem_load.${table.count} lt`,
        ]),
        'end',
      );
      arr = outArr;
    }
    code.push(
      limit === undefined
        ? `mem_load.${table.count} mem_store.${n}`
        : `mem_load.${table.count} push.${limit} dup.1 dup.1 gt cdrop mem_store.${n}`,
    );
    code.push(...this.encodeOutput({ count: n, arr, layout: table.layout }));
    return code;
  }

  /** Encodes the first `count` records as a blob at the heap top and pushes its digest. */
  private encodeOutput(table: Table): string[] {
    const start = this.g.cell();
    const W = this.g.cell();
    const S = this.g.cell();
    const words = this.g.cell();
    const fields: string[] = [];
    for (const [name, slot] of table.layout.fields) {
      if (slot.type === 'num')
        fields.push(
          ...this.load(this.CUR, table.layout, name),
          `mem_load.${W} mem_store mem_load.${W} add.1 mem_store`,
          `mem_load.${W} add.4 mem_store.${W}`,
        );
      else if (slot.type === 'bool')
        fields.push(
          ...this.load(this.CUR, table.layout, name),
          `mem_load.${W} mem_store mem_load.${W} add.4 mem_store.${W}`,
        );
      else
        fields.push(
          ...this.load(this.CUR, table.layout, name),
          `dup mem_store.${S} mem_load add.3 u32div.4 add.1 mem_store.${words}`,
          'push.1',
          'while.true',
          ...indent([
            `padw mem_load.${S} mem_loadw_le mem_load.${W} mem_storew_le dropw`,
            `mem_load.${S} add.4 mem_store.${S} mem_load.${W} add.4 mem_store.${W}`,
            `mem_load.${words} sub.1 dup mem_store.${words} eq.0 not`,
          ]),
          'end',
        );
    }
    return [
      `mem_load.0 dup mem_store.${start} mem_store.${W}`,
      `mem_load.${table.count} mem_load.${W} mem_store mem_load.${W} add.4 mem_store.${W}`,
      ...this.forEach(table, fields),
      `mem_load.${W} mem_load.${start} sub add.7 u32div.8 mul.8 mem_load.${start} exec.data::hash_memory`,
    ];
  }
}

function eqCode(type: ValueType): string {
  return type === 'num' ? 'exec.fixed::eq' : type === 'string' ? 'exec.str::eq' : 'eq';
}

/** [b, a] -> [flag] for a OP b. */
function orderCode(op: 'lt' | 'le' | 'gt' | 'ge', type: ValueType): string {
  const name = op === 'le' ? 'lte' : op === 'ge' ? 'gte' : op;
  if (type === 'num') return `exec.fixed::${name}`;
  if (type === 'string') return `exec.str::${name}`;
  return name;
}

/** [b, a] -> [c] with c = -1, 0, 1 for a <, =, > b. */
function cmpCode(type: ValueType): string {
  if (type === 'num') return 'exec.fixed::cmp';
  if (type === 'string') return 'exec.str::cmp';
  return 'dup.1 dup.1 gt movdn.2 lt sub';
}

/** Fold step of min/max: [b, a] -> [a or b]; b replaces a only when strictly better. */
function selectCode(op: 'min' | 'max', type: ValueType): string {
  const better = op === 'min' ? 'gt' : 'lt';
  if (type === 'num')
    return `dupw exec.fixed::${better} if.true movup.2 drop movup.2 drop else drop drop end`;
  return `dup.1 dup.1 ${orderCode(better, type)} cdrop`;
}

function literalInit(text: string, at: number): string[] {
  const bytes = Buffer.from(text, 'utf8');
  const code = [`push.${bytes.length} mem_store.${at}`];
  bytes.forEach((b, i) => {
    if (b !== 0) code.push(`push.${b} mem_store.${at + 4 + i}`);
  });
  return code;
}

function indent(lines: string[]): string[] {
  return lines.map((l) => `    ${l}`);
}

const exprKey = (e: Expr): string => canonicalJson(e);
const LEAF_OPS = new Set(['field', 'ref', 'lit', 'dec']);

/**
 * Non-leaf subexpressions evaluated unconditionally at least twice across `exprs` (an `if`'s
 * arms and the later arguments of `and`/`or` are conditional), innermost first.
 */
function commonSubexpressions(exprs: Expr[]): Expr[] {
  const seen = new Map<string, { node: Expr; count: number; depth: number }>();
  const visit = (node: Expr): number => {
    if (LEAF_OPS.has(node.op)) return 0;
    const args = 'args' in node ? node.args : [];
    const unconditional =
      node.op === 'if' || node.op === 'and' || node.op === 'or' ? args.slice(0, 1) : args;
    const depth = 1 + Math.max(0, ...unconditional.map(visit));
    const key = exprKey(node);
    const entry = seen.get(key);
    if (entry === undefined) seen.set(key, { node, count: 1, depth });
    else entry.count += 1;
    return depth;
  };
  for (const e of exprs) visit(e);
  return [...seen.values()]
    .filter((entry) => entry.count > 1)
    .sort((a, b) => a.depth - b.depth)
    .map((entry) => entry.node);
}

/** Inline equality with short literals: no call and no branch, about 5 cycles per byte. */
const INLINE_LITERAL_BYTES = 16;

function literalOperand(args: [Expr, Expr]): { text: string; other: Expr } | undefined {
  const [a, b] = args;
  const short = (x: Expr) =>
    x.op === 'lit' &&
    typeof x.value === 'string' &&
    Buffer.byteLength(x.value, 'utf8') <= INLINE_LITERAL_BYTES;
  if (short(b)) return { text: (b as { value: string }).value, other: a };
  if (short(a)) return { text: (a as { value: string }).value, other: b };
  return undefined;
}

/** [ptr] -> [flag]: the string at ptr equals `text` (its length, then each byte). */
function literalEqCode(text: string): string[] {
  const bytes = Buffer.from(text, 'utf8');
  return [
    `dup mem_load eq.${bytes.length}`,
    ...[...bytes].map((byte, i) => `dup.1 add.${4 + i} mem_load eq.${byte} and`),
    'swap drop',
  ];
}
