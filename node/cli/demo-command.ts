import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { executePlan } from '../../zkvm/exec/executor.js';
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
 * The main job on embedded defaults. Today it covers what the node has built: every example plan
 * is validated, hashed and executed, and its output hash is checked against the golden file.
 */
export function registerDemoCommand(program: Command, setExit: (code: number) => void): void {
  program
    .command('demo')
    .description(
      'run the main job on embedded defaults: validate, execute and check every example plan',
    )
    .option('--plans <dir>', 'directory of example plans', examplePlansDir())
    .action((opts: { plans: string }) => {
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
      setExit(failures === 0 ? EXIT.ok : EXIT.rejected);
    });
}
