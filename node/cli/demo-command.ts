import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { M2mError } from '../../zkvm/errors.js';
import { executePlan } from '../../zkvm/exec/executor.js';
import { runMarketDemo } from './demo-market.js';
import { EXIT, readJson } from './io.js';
import { loadValidPlan, readInputData } from './plan-commands.js';

/** plans/ of this package (works from the source tree and from dist/). */
export function examplePlansDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const candidates = [join(here, '../../plans'), join(here, '../../../plans')];
  return candidates.find((dir) => existsSync(join(dir, 'data'))) ?? (candidates[0] as string);
}

export interface ExamplePlan {
  name: string;
  planFile: string;
  dataFile: string;
  goldenFile: string;
}

export function listExamplePlans(dir = examplePlansDir()): ExamplePlan[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.json'))
    .sort()
    .map((f) => {
      const name = basename(f).replace(/\.(yaml|json)$/, '');
      return {
        name,
        planFile: join(dir, f),
        dataFile: join(dir, 'data', `${name}.json`),
        goldenFile: join(dir, 'golden', `${name}.json`),
      };
    });
}

/**
 * The main job on embedded defaults: every example plan is validated, hashed and executed, and
 * its output hash checked against the golden file; then one plan goes through the whole market
 * (`runMarketDemo`): requested over the embedded relay with its bid held by the customer's
 * escrow, proven by the provider node, its proof stored on the provider's Blossom server and
 * fetched and verified by the customer, paid over ILP once the escrow verified it too, and every
 * market fact sequenced as a VES event and committed to a Merkle root.
 */
export function registerDemoCommand(program: Command, setExit: (code: number) => void): void {
  program
    .command('demo')
    .description(
      'run the main job on embedded defaults: check every example plan, then one paid, proven and verified market job (relay, provider, Blossom, escrow over ILP, VES sequencer, all in this process)',
    )
    .option('--plans <dir>', 'directory of example plans', examplePlansDir())
    .option('--prove <plan>', 'example plan for the market job', 'sensor-summary')
    .option('--no-prove', 'skip the market job (no proof)')
    .option(
      '--dir <dir>',
      "keep the job's files (databases, proofs, keys) here (default: a temp dir)",
    )
    .action(async (opts: { plans: string; prove: string | false; dir?: string }) => {
      let failures = 0;
      const examples = listExamplePlans(opts.plans);
      examples.forEach((example, i) => {
        const validated = loadValidPlan(example.planFile);
        const started = process.hrtime.bigint();
        const result = executePlan(validated, readInputData(example.dataFile, validated.plan));
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        const golden = readJson(example.goldenFile) as { outputHash: string };
        const ok = golden.outputHash === result.outputHash;
        if (!ok) failures++;
        process.stdout.write(
          `[${i + 1}/${examples.length}] ${ok ? 'ok  ' : 'FAIL'} ${example.name.padEnd(28)} ${String(result.output.length).padStart(4)} records  ${String(result.cyclesUsed).padStart(9)} cycles  ${ms.toFixed(1).padStart(7)} ms  ${result.outputHash}\n`,
        );
      });
      process.stdout.write(`${examples.length - failures} passed, ${failures} failed\n`);
      if (opts.prove !== false) {
        const name = opts.prove;
        if (!examples.some((e) => e.name === name))
          throw new M2mError('DEMO_UNKNOWN_PLAN', `no example plan "${name}" in ${opts.plans}`);
        process.stdout.write(`market job: ${name}, proved on the miden backend\n`);
        const report = await runMarketDemo({
          plansDir: opts.plans,
          plan: name,
          ...(opts.dir === undefined ? {} : { dir: opts.dir }),
          print: (line) => process.stdout.write(`  ${line}\n`),
        });
        const ok =
          report.valid &&
          report.payment === 'fulfilled' &&
          report.inclusionVerified &&
          report.vesEvents > 0;
        process.stdout.write(
          `${ok ? 'VALID' : 'FAILED'}: job ${report.requestId} verified ${report.valid ? 'VALID' : 'INVALID'}, payment ${report.payment} (${report.providerRevenue} msats to the provider), ${report.vesEvents} VES events committed\n`,
        );
        if (!ok) failures++;
      }
      setExit(failures === 0 ? EXIT.ok : EXIT.rejected);
    });
}
