import { writeFileSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import {
  type BatchMember,
  type CompliancePublicInputs,
  type ComplianceVerdict,
  generatePublicInputs,
  POLICIES,
  type PolicyId,
  policyIdOf,
  proveCompliance,
  proveComplianceBatch,
  verifyCompliance,
  verifyComplianceBatch,
} from '../../zkvm/compliance/compliance.js';
import { M2mError } from '../../zkvm/errors.js';
import {
  encodeEnvelope,
  envelopeFromJson,
  envelopeToJson,
  type ProofEnvelope,
  readEnvelope,
} from '../../zkvm/proof/envelope.js';
import { EXIT, printJson, readFileBytes, readJson } from './io.js';

/** A proof file as `m2m stark prove` writes it: the envelope and the public inputs it was made for. */
interface StarkProofFile {
  publicInputs: CompliancePublicInputs;
  proof: Record<string, unknown>;
}

const wholeNumber = (text: string): string => {
  if (!/^(0|[1-9]\d*)$/.test(text))
    throw new InvalidArgumentError('expected a whole number in the smallest unit, e.g. 5000');
  return text;
};

function readProofFile(path: string): {
  envelope: ProofEnvelope;
  publicInputs?: CompliancePublicInputs;
  members?: BatchMember[];
} {
  const bytes = readFileBytes(path);
  if (bytes.subarray(0, 8).toString('ascii') === 'M2MPROOF')
    return { envelope: readEnvelope(bytes) };
  const json = readJson(path) as Partial<StarkProofFile> & { members?: BatchMember[] };
  if (json.proof === undefined) {
    throw new M2mError(
      'PROOF_MALFORMED',
      `${path} has no "proof" field; is it a file written by m2m stark prove?`,
    );
  }
  return {
    envelope: envelopeFromJson(json.proof),
    ...(json.publicInputs ? { publicInputs: json.publicInputs } : {}),
    ...(json.members ? { members: json.members } : {}),
  };
}

function resolveInputs(opts: {
  inputs?: string;
  policy?: string;
  limit?: string;
}): CompliancePublicInputs {
  if (opts.inputs !== undefined) {
    const inputs = readJson(opts.inputs) as CompliancePublicInputs;
    if (opts.policy !== undefined && opts.policy !== inputs.policyId) {
      throw new M2mError(
        'STARK_INVALID_PUBLIC_INPUTS',
        `--policy ${opts.policy} differs from policyId ${inputs.policyId} in ${opts.inputs}`,
      );
    }
    const param = POLICIES[policyIdOf(inputs.policyId)].param;
    if (opts.limit !== undefined && opts.limit !== String(inputs.policyParams?.[param])) {
      throw new M2mError(
        'STARK_INVALID_PUBLIC_INPUTS',
        `--limit ${opts.limit} differs from policyParams.${param} = ${inputs.policyParams?.[param]} in ${opts.inputs}`,
      );
    }
    return inputs;
  }
  if (opts.limit === undefined)
    throw new M2mError(
      'STARK_INVALID_PUBLIC_INPUTS',
      'give --inputs <file> or --limit <n> (with --policy)',
    );
  return generatePublicInputs(policyIdOf(opts.policy ?? 'aml.threshold'), opts.limit);
}

/** Prints a verdict for people or as JSON; returns the exit code. */
function reportVerdict(
  verdict: ComplianceVerdict,
  validLine: string,
  json: boolean | undefined,
): number {
  if (json) printJson({ ok: verdict.valid, ...verdict });
  else {
    process.stdout.write(verdict.valid ? `${validLine}\n` : `INVALID: ${verdict.reason}\n`);
    process.stdout.write(`  verified in ${verdict.verifyTimeMs.toFixed(1)} ms (in process)\n`);
  }
  return verdict.valid ? EXIT.ok : EXIT.rejected;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

export function registerStarkCommands(program: Command, setExit: (code: number) => void): void {
  const stark = program
    .command('stark')
    .description(
      'compliance proofs (native STARK, Miden VM): amount below an AML threshold, order total under a cap',
    );
  const policyHelp = `policy: ${Object.entries(POLICIES)
    .map(([id, p]) => `${id} (${p.relation})`)
    .join(', ')}`;

  stark
    .command('gen-inputs')
    .description('generate development public inputs for a policy')
    .option('--policy <id>', policyHelp, 'aml.threshold')
    .requiredOption('--limit <n>', 'threshold or cap, in the smallest unit', wholeNumber)
    .option('--output <file>', 'write to a file instead of stdout')
    .action((opts: { policy: string; limit: string; output?: string }) => {
      const inputs = generatePublicInputs(policyIdOf(opts.policy), opts.limit);
      if (opts.output === undefined) printJson(inputs);
      else writeFileSync(opts.output, `${JSON.stringify(inputs, null, 2)}\n`);
      setExit(EXIT.ok);
    });

  stark
    .command('prove')
    .description('prove that a private amount satisfies the policy of the public inputs')
    .requiredOption('--amount <n>', 'the private amount, in the smallest unit', wholeNumber)
    .option('--policy <id>', policyHelp)
    .option(
      '--limit <n>',
      'threshold or cap (generates inputs when --inputs is not given)',
      wholeNumber,
    )
    .option('--inputs <file>', 'public inputs JSON (see gen-inputs)')
    .option(
      '--output <file>',
      'proof file (.json: envelope + public inputs; .bin: binary envelope)',
      'proof.json',
    )
    .option('--timeout-ms <n>', 'stop proving after this long', Number)
    .option('--json', 'print the result as JSON')
    .action(
      async (opts: {
        amount: string;
        policy?: string;
        limit?: string;
        inputs?: string;
        output: string;
        timeoutMs?: number;
        json?: boolean;
      }) => {
        const publicInputs = resolveInputs(opts);
        const started = process.hrtime.bigint();
        const { envelope } = await proveCompliance(
          publicInputs,
          opts.amount,
          opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs },
        );
        const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
        if (opts.output.endsWith('.bin')) writeFileSync(opts.output, encodeEnvelope(envelope));
        else
          writeFileSync(
            opts.output,
            `${JSON.stringify({ publicInputs, proof: envelopeToJson(envelope) }, null, 2)}\n`,
          );
        const summary = {
          ok: true,
          output: opts.output,
          policyId: publicInputs.policyId,
          programId: envelope.programId,
          proofBytes: envelope.proof.length,
          proofHash: envelope.proofHash,
          provingTimeMs: envelope.metadata.provingTimeMs,
          cyclesUsed: envelope.metadata.cyclesUsed,
          wallTimeMs: Math.round(wallMs),
          securityBits: envelope.metadata.securityBits,
        };
        if (opts.json) printJson(summary);
        else {
          process.stdout.write(
            `proved ${publicInputs.policyId} (${POLICIES[publicInputs.policyId as PolicyId].relation}) -> ${opts.output}\n`,
          );
          process.stdout.write(
            `  proof ${summary.proofBytes} bytes, proving ${summary.provingTimeMs} ms (wall ${summary.wallTimeMs} ms), ${summary.cyclesUsed} VM cycles, ${summary.securityBits}-bit security\n`,
          );
        }
        setExit(EXIT.ok);
      },
    );

  stark
    .command('verify')
    .description('verify a compliance proof; prints the verdict and timings')
    .requiredOption('--proof <file>', 'proof file from `m2m stark prove`')
    .option(
      '--inputs <file>',
      'public inputs to verify against (default: the ones stored in the proof file)',
    )
    .option('--json', 'print the verdict as JSON')
    .action(async (opts: { proof: string; inputs?: string; json?: boolean }) => {
      const file = readProofFile(opts.proof);
      if (file.envelope.kind === 'compliance-batch') {
        const members =
          opts.inputs !== undefined ? (readJson(opts.inputs) as BatchMember[]) : file.members;
        if (members === undefined)
          throw new M2mError(
            'STARK_INVALID_PUBLIC_INPUTS',
            `${opts.proof} carries no batch members; pass --inputs <file>`,
          );
        const verdict = await verifyComplianceBatch(file.envelope, members);
        setExit(
          reportVerdict(verdict, `VALID batch proof over ${members.length} events`, opts.json),
        );
        return;
      }
      const publicInputs =
        opts.inputs !== undefined
          ? (readJson(opts.inputs) as CompliancePublicInputs)
          : file.publicInputs;
      if (publicInputs === undefined)
        throw new M2mError(
          'STARK_INVALID_PUBLIC_INPUTS',
          `${opts.proof} carries no public inputs; pass --inputs <file>`,
        );
      const verdict = await verifyCompliance(file.envelope, publicInputs);
      setExit(
        reportVerdict(
          verdict,
          `VALID ${publicInputs.policyId} proof (${file.envelope.programId})`,
          opts.json,
        ),
      );
    });

  stark
    .command('inspect')
    .description('print what a proof file claims, without verifying it')
    .requiredOption('--proof <file>', 'proof file')
    .option('--json', 'print as JSON')
    .action((opts: { proof: string; json?: boolean }) => {
      const { envelope, publicInputs } = readProofFile(opts.proof);
      const { proof: _bytes, ...header } = envelope;
      const report = {
        ...header,
        proofBytes: envelope.proof.length,
        ...(publicInputs ? { publicInputs } : {}),
      };
      if (opts.json) printJson(report);
      else
        for (const [key, value] of Object.entries(report))
          process.stdout.write(
            `${key.padEnd(14)} ${typeof value === 'object' ? JSON.stringify(value) : String(value)}\n`,
          );
      setExit(EXIT.ok);
    });

  stark
    .command('batch-prove')
    .description('one proof over N events: [{"publicInputs": {...}, "amount": "..."}]')
    .requiredOption('--inputs <file>', 'JSON array of events with their private amounts')
    .option('--output <file>', 'proof file (envelope + members)', 'batch-proof.json')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { inputs: string; output: string; json?: boolean }) => {
      const events = readJson(opts.inputs);
      if (!Array.isArray(events) || events.length === 0) {
        throw new M2mError(
          'STARK_INVALID_PUBLIC_INPUTS',
          `${opts.inputs} must be a non-empty JSON array of {publicInputs, amount}`,
        );
      }
      const { envelope, members } = await proveComplianceBatch(
        events as { publicInputs: CompliancePublicInputs; amount: string }[],
      );
      writeFileSync(
        opts.output,
        `${JSON.stringify({ members, proof: envelopeToJson(envelope) }, null, 2)}\n`,
      );
      const summary = {
        ok: true,
        output: opts.output,
        events: members.length,
        proofBytes: envelope.proof.length,
        provingTimeMs: envelope.metadata.provingTimeMs,
      };
      if (opts.json) printJson(summary);
      else
        process.stdout.write(
          `proved ${members.length} events in one proof -> ${opts.output} (${summary.proofBytes} bytes, ${summary.provingTimeMs} ms)\n`,
        );
      setExit(EXIT.ok);
    });

  stark
    .command('benchmark')
    .description('prove and verify n times; prints medians')
    .option('-n <count>', 'number of proofs', Number, 10)
    .option('--policy <id>', policyHelp, 'aml.threshold')
    .option('--json', 'print as JSON')
    .action(async (opts: { n: number; policy: string; json?: boolean }) => {
      const policy = policyIdOf(opts.policy);
      const prove: number[] = [];
      const verify: number[] = [];
      let bytes = 0;
      for (let i = 0; i < opts.n; i++) {
        const inputs = generatePublicInputs(policy, '10000');
        const { envelope } = await proveCompliance(inputs, '9999');
        prove.push(envelope.metadata.provingTimeMs);
        const verdict = await verifyCompliance(envelope, inputs);
        if (!verdict.valid)
          throw new M2mError(
            'STARK_BENCHMARK_FAILED',
            `proof ${i} did not verify: ${verdict.reason}`,
          );
        verify.push(verdict.verifyTimeMs);
        bytes = envelope.proof.length;
        if (!opts.json) process.stderr.write(`\r  ${i + 1}/${opts.n} proofs`);
      }
      const result = {
        policy,
        runs: opts.n,
        proveMedianMs: median(prove),
        verifyMedianMs: median(verify),
        proofBytes: bytes,
      };
      if (opts.json) printJson(result);
      else
        process.stdout.write(
          `\n${policy}: prove ${result.proveMedianMs} ms, verify ${result.verifyMedianMs.toFixed(1)} ms (in process), proof ${bytes} bytes (medians of ${opts.n})\n`,
        );
      setExit(EXIT.ok);
    });
}
