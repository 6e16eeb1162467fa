import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { M2mError } from '../../zkvm/errors.js';
import { executePlan } from '../../zkvm/exec/executor.js';
import { planDataRootPoseidon, planOutputHashPoseidon } from '../../zkvm/plan-proof/commitments.js';
import { provePlan } from '../../zkvm/plan-proof/prove.js';
import { verifyPlanProof } from '../../zkvm/plan-proof/verify.js';
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
 * is validated, hashed and executed, and its output hash is checked against the golden file;
 * then one plan is proven on the Miden backend and the proof verified in process, as a customer
 * would, against the plan, the data and the delivered output.
 */
export function registerDemoCommand(program: Command, setExit: (code: number) => void): void {
  program
    .command('demo')
    .description(
      'run the main job on embedded defaults: validate, execute and check every example plan, then prove one and verify the proof',
    )
    .option('--plans <dir>', 'directory of example plans', examplePlansDir())
    .option('--prove <plan>', 'example plan to prove and verify', 'sensor-summary')
    .option('--no-prove', 'skip the proof')
    .action(async (opts: { plans: string; prove: string | false }) => {
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
        const example = examples.find((e) => e.name === opts.prove);
        if (example === undefined)
          throw new M2mError(
            'DEMO_UNKNOWN_PLAN',
            `no example plan "${opts.prove}" in ${opts.plans}`,
          );
        if (!(await proveAndVerify(example))) failures++;
      }
      setExit(failures === 0 ? EXIT.ok : EXIT.rejected);
    });
}

/** Proves an example plan and verifies the proof against the plan, its data and its output. */
async function proveAndVerify(example: ExamplePlan): Promise<boolean> {
  const validated = loadValidPlan(example.planFile);
  const data = readInputData(example.dataFile, validated.plan);
  process.stdout.write(`proving ${example.name} on the miden backend ...\n`);
  const proof = await provePlan(validated, data);
  const verdict = verifyPlanProof(proof.envelope, {
    planHash: validated.planHash,
    dataRoot: planDataRootPoseidon(validated.plan, data),
    outputHash: planOutputHashPoseidon(validated.plan, validated.planHash, proof.execution.output),
  });
  const { metadata } = proof.envelope;
  process.stdout.write(
    `  proved in ${metadata.provingTimeMs} ms (${proof.vmCycles} VM cycles, ${proof.envelope.proof.length} byte proof, ${metadata.securityBits}-bit)\n` +
      `  ${verdict.valid ? 'VALID' : `INVALID ${verdict.code}: ${verdict.reason}`}: verified in ${verdict.verifyTimeMs.toFixed(1)} ms against plan ${validated.planHash}, data ${proof.statement.dataRoot}, output ${proof.statement.outputHash}\n`,
  );
  return verdict.valid;
}
