import { writeFileSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import { M2mError } from '../../zkvm/errors.js';
import { coerceInput, type InputData } from '../../zkvm/exec/data.js';
import { executePlan } from '../../zkvm/exec/executor.js';
import { planJsonSchemaText } from '../../zkvm/plan/json-schema.js';
import type { DataInputStep, ExecutionPlan } from '../../zkvm/plan/schema.js';
import {
  assertValidPlan,
  DEFAULT_LIMIT_BOUNDS,
  type LimitBounds,
  type PlanValidationResult,
  validatePlan,
} from '../../zkvm/plan/validate.js';
import { EXIT, formatIssue, printJson, readJson, readText } from './io.js';

/** Reads a data file: `{ "<data-input step id>": [records] }`, or a bare array for one input. */
export function readInputData(path: string, plan: ExecutionPlan): InputData {
  const raw = readJson(path);
  if (Array.isArray(raw)) {
    const inputs = plan.steps.filter((s) => s.type === 'data-input');
    if (inputs.length !== 1) {
      throw new M2mError(
        'DATA_MISSING',
        `${path} is a bare array but the plan has ${inputs.length} data-input steps; use {"<step id>": [...]}`,
      );
    }
    return { [(inputs[0] as DataInputStep).id]: raw };
  }
  if (raw === null || typeof raw !== 'object') {
    throw new M2mError(
      'DATA_SCHEMA_MISMATCH',
      `${path} must be a JSON object {"<step id>": [records]} or an array`,
    );
  }
  return raw as InputData;
}

export function loadValidPlan(file: string, bounds: Partial<LimitBounds> = {}) {
  return assertValidPlan(readText(file), { file, bounds });
}

interface BoundOptions {
  boundCycles?: number;
  boundMemory?: number;
  boundOutput?: number;
}

const positiveInteger = (text: string): number => {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new InvalidArgumentError('expected a positive integer');
  return n;
};

/** The node's bounds on plan limits; a provider tightens them to what it will accept. */
function withBoundOptions(command: Command): Command {
  return command
    .option(
      '--bound-cycles <n>',
      `largest limits.maxCycles accepted (default ${DEFAULT_LIMIT_BOUNDS.maxCycles})`,
      positiveInteger,
    )
    .option(
      '--bound-memory <bytes>',
      `largest limits.maxMemoryBytes accepted (default ${DEFAULT_LIMIT_BOUNDS.maxMemoryBytes})`,
      positiveInteger,
    )
    .option(
      '--bound-output <bytes>',
      `largest limits.maxOutputBytes accepted (default ${DEFAULT_LIMIT_BOUNDS.maxOutputBytes})`,
      positiveInteger,
    );
}

function boundsOf(opts: BoundOptions): Partial<LimitBounds> {
  return {
    ...(opts.boundCycles === undefined ? {} : { maxCycles: opts.boundCycles }),
    ...(opts.boundMemory === undefined ? {} : { maxMemoryBytes: opts.boundMemory }),
    ...(opts.boundOutput === undefined ? {} : { maxOutputBytes: opts.boundOutput }),
  };
}

function printValidation(file: string, result: PlanValidationResult): void {
  for (const issue of result.errors) process.stderr.write(`${formatIssue(issue)}\n`);
  for (const issue of result.warnings) process.stderr.write(`${formatIssue(issue, 'warning')}\n`);
  if (result.valid) {
    process.stdout.write(
      `${file}: valid, ${result.executionOrder.length} steps, order ${result.executionOrder.join(' -> ')}\n  plan hash ${result.planHash}\n`,
    );
  }
}

export function registerPlanCommands(program: Command, setExit: (code: number) => void): Command {
  const plan = program
    .command('plan')
    .description('validate, hash, run, prove and verify execution plans');

  withBoundOptions(plan.command('validate'))
    .description('check plans (YAML or JSON): schema, references, cycles, limits, types')
    .argument('<files...>', 'plan files')
    .option('--json', 'print results as JSON')
    .action((files: string[], opts: { json?: boolean } & BoundOptions) => {
      const bounds = boundsOf(opts);
      const results = files.map((file) => ({
        file,
        ...validatePlan(readText(file), { file, bounds }),
      }));
      if (opts.json) {
        printJson(results.map(({ plan: _plan, shapes: _shapes, ...rest }) => rest));
      } else {
        for (const r of results) printValidation(r.file, r);
      }
      setExit(results.every((r) => r.valid) ? EXIT.ok : EXIT.rejected);
    });

  plan
    .command('hash')
    .description(
      'print the plan hash, the data root and, with --data, the commitment of each input',
    )
    .argument('<file>', 'plan file')
    .option('--data <file>', 'input data to commit to')
    .option('--json', 'print as JSON')
    .action((file: string, opts: { data?: string; json?: boolean }) => {
      const { plan: parsed, planHash } = loadValidPlan(file);
      const data = opts.data === undefined ? undefined : readInputData(opts.data, parsed);
      const inputs = parsed.steps
        .filter((s): s is DataInputStep => s.type === 'data-input')
        .map((s) => {
          const actual = data?.[s.id] === undefined ? undefined : coerceInput(s, data[s.id]).root;
          return {
            step: s.id,
            declared: s.dataCommitment,
            ...(actual === undefined ? {} : { actual, matches: actual === s.dataCommitment }),
          };
        });
      if (opts.json) printJson({ planHash, inputs });
      else {
        process.stdout.write(`plan hash  ${planHash}\n`);
        for (const input of inputs) {
          const status =
            input.actual === undefined
              ? ''
              : input.matches
                ? '  (data matches)'
                : `\n             data root ${input.actual}  (MISMATCH)`;
          process.stdout.write(`input ${input.step}: ${input.declared}${status}\n`);
        }
      }
      setExit(inputs.every((i) => i.matches !== false) ? EXIT.ok : EXIT.rejected);
    });

  withBoundOptions(plan.command('run'))
    .description('execute a plan over input data with the reference executor')
    .argument('<file>', 'plan file')
    .requiredOption('--data <file>', 'input data: {"<data-input step id>": [records]}')
    .option('--json', 'print the result as JSON')
    .option('--out <file>', 'also write the JSON result to a file')
    .action((file: string, opts: { data: string; json?: boolean; out?: string } & BoundOptions) => {
      const validated = loadValidPlan(file, boundsOf(opts));
      const data = readInputData(opts.data, validated.plan);
      const progress = !opts.json && process.stderr.isTTY;
      const result = executePlan(validated, data, {
        onStep: progress
          ? (id, cycles) => process.stderr.write(`  step ${id} done, ${cycles} cycles\n`)
          : undefined,
      });
      const report = { ok: true, ...result };
      if (opts.out !== undefined) writeFileSync(opts.out, `${JSON.stringify(report, null, 2)}\n`);
      if (opts.json) printJson(report);
      else {
        process.stdout.write(`${JSON.stringify(result.output, null, 2)}\n`);
        process.stdout.write(
          `output hash ${result.outputHash}\nplan hash   ${result.planHash}\ndata root   ${result.dataRoot}\n`,
        );
        process.stdout.write(
          `cycles ${result.cyclesUsed}, peak memory ${result.peakMemoryBytes} bytes, output ${result.outputBytes} bytes\n`,
        );
      }
      setExit(EXIT.ok);
    });

  plan
    .command('schema')
    .description('print the JSON Schema of the plan IR, or write it with --out')
    .option('--out <file>', 'write to this file')
    .action((opts: { out?: string }) => {
      const text = planJsonSchemaText();
      if (opts.out === undefined) process.stdout.write(text);
      else writeFileSync(opts.out, text);
      setExit(EXIT.ok);
    });
  return plan;
}
