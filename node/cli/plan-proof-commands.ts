import { writeFileSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import type { CanonicalRecord } from '../../zkvm/exec/values.js';
import { planDataRootPoseidon, planOutputHashPoseidon } from '../../zkvm/plan-proof/commitments.js';
import { provePlan } from '../../zkvm/plan-proof/prove.js';
import { type PlanExpectation, verifyPlanProof } from '../../zkvm/plan-proof/verify.js';
import { encodeEnvelope, readEnvelope } from '../../zkvm/proof/envelope.js';
import { EXIT, printJson, readFileBytes, readJson } from './io.js';
import { loadValidPlan, readInputData } from './plan-commands.js';

const positive = (text: string): number => {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
};

/** `m2m plan prove` and `m2m plan verify`: plan-execution proofs on the Miden backend. */
export function registerPlanProofCommands(plan: Command, setExit: (code: number) => void): void {
  plan
    .command('prove')
    .description(
      'run a plan and prove its execution (Miden STARK); writes a proof envelope with the plan',
    )
    .argument('<file>', 'plan file')
    .requiredOption('--data <file>', 'input data: {"<data-input step id>": [records]}')
    .requiredOption('--out <file>', 'proof envelope to write (binary M2MPROOF)')
    .option('--timeout <seconds>', 'kill the prover after this long', positive, 300)
    .option('--max-memory-mb <mb>', 'address-space limit of the prover process', positive)
    .option('--json', 'print the result as JSON')
    .action(
      async (
        file: string,
        opts: { data: string; out: string; timeout: number; maxMemoryMb?: number; json?: boolean },
      ) => {
        const validated = loadValidPlan(file);
        const data = readInputData(opts.data, validated.plan);
        if (!opts.json) process.stderr.write(`proving ${validated.plan.id} ...\n`);
        const proof = await provePlan(validated, data, {
          timeoutMs: opts.timeout * 1000,
          ...(opts.maxMemoryMb === undefined ? {} : { maxMemoryMb: opts.maxMemoryMb }),
        });
        const bytes = encodeEnvelope(proof.envelope);
        writeFileSync(opts.out, bytes);
        const report = {
          ok: true,
          proofFile: opts.out,
          ...proof.statement,
          programId: proof.envelope.programId,
          proofHash: proof.envelope.proofHash,
          proofBytes: proof.envelope.proof.length,
          provingTimeMs: proof.envelope.metadata.provingTimeMs,
          vmCycles: proof.vmCycles,
          traceLength: proof.traceLength,
          peakMemoryBytes: proof.envelope.metadata.memoryUsed,
          securityBits: proof.envelope.metadata.securityBits,
          output: proof.execution.output,
        };
        if (opts.json) printJson(report);
        else {
          process.stdout.write(`${JSON.stringify(proof.execution.output, null, 2)}\n`);
          process.stdout.write(
            [
              `proof       ${opts.out} (${report.proofBytes} bytes, ${report.securityBits}-bit conjectured security)`,
              `plan hash   ${report.planHash}`,
              `data root   ${report.dataRoot}`,
              `output hash ${report.outputHash}`,
              `program     ${report.programHash}`,
              `proved in ${report.provingTimeMs} ms: ${report.vmCycles} VM cycles (trace ${report.traceLength}), peak memory ${report.peakMemoryBytes} bytes`,
              '',
            ].join('\n'),
          );
        }
        setExit(EXIT.ok);
      },
    );

  plan
    .command('verify')
    .description(
      'verify a plan proof in process; --plan/--data/--output also check it is for that plan, data and output',
    )
    .argument('<proof>', 'proof envelope written by `m2m plan prove`')
    .option('--plan <file>', 'the agreed plan: the proof must be for its plan hash')
    .option('--data <file>', 'the input data (needs --plan): the proof must commit to it')
    .option(
      '--output <file>',
      'delivered output records (JSON array, or a `plan run --json` report)',
    )
    .option('--json', 'print the verdict as JSON')
    .action(
      (
        proofFile: string,
        opts: { plan?: string; data?: string; output?: string; json?: boolean },
      ) => {
        const envelope = readEnvelope(readFileBytes(proofFile));
        const expected: PlanExpectation = {};
        if (opts.plan !== undefined) {
          const validated = loadValidPlan(opts.plan);
          expected.planHash = validated.planHash;
          if (opts.data !== undefined)
            expected.dataRoot = planDataRootPoseidon(
              validated.plan,
              readInputData(opts.data, validated.plan),
            );
          if (opts.output !== undefined) {
            const raw = readJson(opts.output) as CanonicalRecord[] | { output: CanonicalRecord[] };
            expected.outputHash = planOutputHashPoseidon(
              validated.plan,
              validated.planHash,
              Array.isArray(raw) ? raw : raw.output,
            );
          }
        }
        const verdict = verifyPlanProof(envelope, expected);
        const report = {
          ...verdict,
          planHash: envelope.publicInputs.planHash,
          dataRoot: envelope.publicInputs.dataRoot,
          outputHash: envelope.publicOutputs.outputHash,
          proofHash: envelope.proofHash,
          checked: Object.keys(expected),
        };
        if (opts.json) printJson(report);
        else if (verdict.valid)
          process.stdout.write(
            `VALID plan proof (${verdict.securityBits}-bit), verified in ${verdict.verifyTimeMs.toFixed(1)} ms\n  plan hash   ${report.planHash}\n  data root   ${report.dataRoot}\n  output hash ${report.outputHash}\n`,
          );
        else
          process.stdout.write(
            `INVALID plan proof: ${verdict.code}: ${verdict.reason} (${verdict.verifyTimeMs.toFixed(1)} ms)\n`,
          );
        setExit(verdict.valid ? EXIT.ok : EXIT.rejected);
      },
    );
}
