import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertValidPlan } from '../../zkvm/plan/validate.js';
import { planDataRootPoseidon, planOutputHashPoseidon } from '../../zkvm/plan-proof/commitments.js';
import { compilePlan } from '../../zkvm/plan-proof/compile.js';
import { digestToHex } from '../../zkvm/plan-proof/encode.js';
import { planProgramId } from '../../zkvm/plan-proof/native.js';
import {
  type PlanProof,
  preparePlanProof,
  provePlan,
  proveProgram,
  runProgram,
} from '../../zkvm/plan-proof/prove.js';
import { verifyPlanProof } from '../../zkvm/plan-proof/verify.js';
import type { AdviceEntry } from '../../zkvm/plan-proof/witness.js';
import { createEnvelope, type ProofEnvelope } from '../../zkvm/proof/envelope.js';
import { findNativeProver } from '../../zkvm/prover/native-process.js';
import { createPlanProver } from '../../zkvm/prover/prover.js';
import { ProgramRegistry } from '../../zkvm/registry/registry.js';
import { ZKVerifier } from '../../zkvm/verifier/verifier.js';

/**
 * Plan-execution proofs against the real Miden prover (child process) and verifier (addon).
 * Under CI=true a missing binary fails the suite: it is never skipped.
 */
const load = (name: string) => ({
  validated: assertValidPlan(readFileSync(`plans/${name}.yaml`, 'utf8'), { file: name }),
  data: JSON.parse(readFileSync(`plans/data/${name}.json`, 'utf8')) as Record<string, unknown[]>,
});

const PROVABLE = [
  'aml-screening',
  'api-catalog',
  'inventory-reconciliation',
  'loan-payoff',
  'median-price',
  'orders-over-threshold',
  'sensor-summary',
];
/** Proven in full here; the larger plans are proven by `npm run bench:zkvm`. */
const PROVEN_IN_TESTS = ['inventory-reconciliation', 'sensor-summary', 'median-price'];

const withProof = (envelope: ProofEnvelope, changes: Partial<ProofEnvelope>): ProofEnvelope =>
  createEnvelope({ ...envelope, ...changes });

beforeAll(() => {
  if (findNativeProver() === undefined)
    throw new Error(
      'm2m-prover is not built: run `npm run build:prover` (CI builds it in .ci/run)',
    );
});

describe('plan programs compute exactly what the reference executor computes', () => {
  it.each(PROVABLE)('%s: the VM output hash is the hash of the reference output', async (name) => {
    const { validated, data } = load(name);
    const prepared = preparePlanProof(validated, data);
    const run = await runProgram(
      prepared.compiled.masm,
      prepared.stackInputs,
      prepared.witness.advice,
    );
    const vmOutput = run.stackOutputs.slice(0, 4).map(BigInt);
    // The padded length is the next power of two of the longest trace segment (the chiplets
    // share one, so their rows add up).
    const { main, range, hash, bitwise, memory } = run.traceRows;
    expect(main).toBe(run.cycles);
    const longest = Math.max(main, range, hash + bitwise + memory + 1);
    expect(run.traceLength).toBeGreaterThanOrEqual(longest);
    expect(run.traceLength).toBeLessThan(2 * longest);
    expect(`poseidon2:${digestToHex(vmOutput)}`).toBe(
      planOutputHashPoseidon(validated.plan, validated.planHash, prepared.execution.output),
    );
  });

  it('compiles deterministically, whatever the key order of the plan document', () => {
    const { validated } = load('loan-payoff');
    const reordered = JSON.parse(JSON.stringify(validated.plan, null, 0), (_k, v) =>
      v && typeof v === 'object' && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).reverse())
        : v,
    );
    expect(compilePlan(reordered, validated.planHash).masm).toBe(
      compilePlan(validated.plan, validated.planHash).masm,
    );
  });

  it('refuses a plan with an unsupported operation before proving, naming it', async () => {
    const { data } = load('api-catalog');
    const text = readFileSync('plans/api-catalog.yaml', 'utf8')
      .replace('format: json', 'format: csv')
      .replace('format: csv, field: csv', 'format: json, field: csv');
    const validated = assertValidPlan(text, { file: 'api-catalog (csv in, json out)' });
    await expect(provePlan(validated, data)).rejects.toMatchObject({
      code: 'BACKEND_UNSUPPORTED_OPERATION',
      message: expect.stringContaining(
        'step "items": transform parse (format csv); step "csv": transform serialize (format json)',
      ),
    });
  });
});

describe('plan proofs (real STARKs)', () => {
  const proofs = new Map<string, PlanProof>();

  it.each(PROVEN_IN_TESTS)(
    '%s: proves and verifies in process; the statement matches the data and output',
    async (name) => {
      const { validated, data } = load(name);
      const proof = await provePlan(validated, data);
      proofs.set(name, proof);
      expect(proof.envelope.proof.length).toBeLessThan(256 * 1024);
      expect(proof.envelope.metadata.securityBits).toBeGreaterThanOrEqual(96);
      expect(proof.envelope.metadata.cyclesUsed).toBeGreaterThan(0);
      const verdict = verifyPlanProof(proof.envelope, {
        planHash: validated.planHash,
        dataRoot: planDataRootPoseidon(validated.plan, data),
        outputHash: planOutputHashPoseidon(
          validated.plan,
          validated.planHash,
          proof.execution.output,
        ),
      });
      expect(verdict).toMatchObject({ valid: true });
    },
    120_000,
  );

  const honest = () => proofs.get('inventory-reconciliation') as PlanProof;

  it('flipping a byte anywhere in the proof makes it fail', () => {
    const { envelope } = honest();
    const n = envelope.proof.length;
    for (const at of [0, 1, n >> 3, n >> 2, n >> 1, n - 2, n - 1]) {
      const bytes = Uint8Array.from(envelope.proof);
      bytes[at] = (bytes[at] as number) ^ 0x01;
      expect(verifyPlanProof(withProof(envelope, { proof: bytes })).valid, `byte ${at}`).toBe(
        false,
      );
    }
  });

  it('changing the data root or the output hash makes the STARK fail', () => {
    const { envelope } = honest();
    const other = proofs.get('sensor-summary') as PlanProof;
    const wrongRoot = withProof(envelope, {
      publicInputs: { ...envelope.publicInputs, dataRoot: other.statement.dataRoot },
    });
    expect(verifyPlanProof(wrongRoot)).toMatchObject({ valid: false, code: 'PROOF_INVALID' });
    const wrongOutput = withProof(envelope, {
      publicOutputs: { outputHash: other.statement.outputHash },
    });
    expect(verifyPlanProof(wrongOutput)).toMatchObject({ valid: false, code: 'PROOF_INVALID' });
  });

  it('a proof for plan A is rejected for plan B', () => {
    const a = honest();
    const b = proofs.get('sensor-summary') as PlanProof;
    // B's plan and hash in A's envelope: the STARK is for another program.
    const swapped = withProof(a.envelope, {
      publicInputs: {
        ...a.envelope.publicInputs,
        plan: b.envelope.publicInputs.plan as string,
        planHash: b.statement.planHash,
        jobRequestHash: b.statement.jobRequestHash,
        programHash: b.statement.programHash,
      },
    });
    expect(verifyPlanProof(swapped)).toMatchObject({ valid: false, code: 'PROOF_INVALID' });
    // A verifier expecting B's plan rejects A's proof before any STARK work.
    expect(verifyPlanProof(a.envelope, { planHash: b.statement.planHash })).toMatchObject({
      valid: false,
      code: 'STATEMENT_MISMATCH',
    });
    // The plan hash must be the hash of the carried plan, and the program hash its program.
    expect(
      verifyPlanProof(
        withProof(a.envelope, {
          publicInputs: { ...a.envelope.publicInputs, planHash: b.statement.planHash },
        }),
      ),
    ).toMatchObject({ valid: false, code: 'PLAN_HASH_MISMATCH' });
    expect(
      verifyPlanProof(
        withProof(a.envelope, {
          publicInputs: { ...a.envelope.publicInputs, programHash: b.statement.programHash },
        }),
      ),
    ).toMatchObject({ valid: false, code: 'PROGRAM_HASH_MISMATCH' });
  });

  it('the ZKVerifier checks the registry and the job, then the proof', async () => {
    const { envelope, statement } = honest();
    const registry = new ProgramRegistry();
    const verifier = new ZKVerifier(registry);
    expect(await verifier.verify(envelope, statement.jobRequestHash)).toMatchObject({
      valid: true,
      outputHash: statement.outputHash,
    });
    expect(await verifier.verify(envelope, `sha256:${'0'.repeat(64)}`)).toMatchObject({
      valid: false,
      code: 'JOB_HASH_MISMATCH',
    });
    const unknown = withProof(envelope, { programId: `sha256:${'1'.repeat(64)}` });
    expect(await verifier.verify(unknown, statement.jobRequestHash)).toMatchObject({
      valid: false,
      code: 'PROGRAM_UNKNOWN',
    });
    registry.deprecate(envelope.programId, 'compiler bug CVE-2026-0002');
    expect(await new ZKVerifier(registry).verify(envelope, statement.jobRequestHash)).toMatchObject(
      { valid: false, code: 'PROGRAM_DEPRECATED' },
    );
    registry.close();
  });
});

describe('the plan Prover factory', () => {
  it('selects miden for any, proves through the Prover interface, refuses absent backends', async () => {
    const prover = await createPlanProver('any');
    expect(prover).toMatchObject({ backend: 'miden', programId: planProgramId() });
    const { validated, data } = load('inventory-reconciliation');
    const out = await prover.prove(validated, { data });
    expect(out.metadata.cyclesUsed).toBeGreaterThan(0);
    expect(out.metadata.memoryUsed).toBeGreaterThan(0);
    expect(out.publicOutputs.outputHash).toMatch(/^poseidon2:[0-9a-f]{64}$/);
    expect(verifyPlanProof(out.proof, { planHash: validated.planHash }).valid).toBe(true);
    await expect(createPlanProver('risc-zero')).rejects.toMatchObject({
      code: 'PROVER_BACKEND_UNAVAILABLE',
    });
  }, 120_000);
});

describe('a false statement cannot be proven', () => {
  const tamper = (
    advice: AdviceEntry[],
    key: bigint,
    change: (values: bigint[]) => bigint[],
  ): AdviceEntry[] =>
    advice.map((e) => (e.key === key ? { key: e.key, values: change(e.values.slice()) } : e));

  it('wrong aggregate groups, median ranks or output order fail in the VM', async () => {
    const cases: [string, (p: ReturnType<typeof preparePlanProof>) => AdviceEntry[]][] = [
      [
        'orders-over-threshold',
        // the first record is put in the next group
        (p) =>
          tamper(p.witness.advice, 2_000_000n, (v) => {
            const groups = v[0] as bigint;
            v[1] = ((v[1] as bigint) + 1n) % groups;
            return v;
          }),
      ],
      [
        'median-price',
        // two median ranks swapped: the slots end up out of order
        (p) =>
          tamper(p.witness.advice, 2_000_000n, (v) => {
            const [r0, r1] = [v[1] as bigint, v[2] as bigint];
            v[1] = r1;
            v[2] = r0;
            return v;
          }),
      ],
      [
        'aml-screening',
        // the first two output positions swapped
        (p) =>
          tamper(p.witness.advice, 3_000_000n, (v) =>
            v.map((x) => (x === 0n ? 1n : x === 1n ? 0n : x)),
          ),
      ],
    ];
    for (const [name, bad] of cases) {
      const { validated, data } = load(name);
      const p = preparePlanProof(validated, data);
      await expect(runProgram(p.compiled.masm, p.stackInputs, bad(p)), name).rejects.toMatchObject({
        code: 'M2M_PLAN_BAD_HINT',
      });
    }
  });

  it('data that does not hash to the public data root is refused, and the prover refuses too', async () => {
    const { validated, data } = load('inventory-reconciliation');
    const p = preparePlanProof(validated, data);
    const changed = tamper(p.witness.advice, 1_000_000n, (v) => {
      v[5] = (v[5] as bigint) + 1n;
      return v;
    });
    await expect(proveProgram(p.compiled.masm, p.stackInputs, changed)).rejects.toMatchObject({
      code: 'M2M_PLAN_WRONG_DATA',
    });
  });

  it('a stated plan hash other than the compiled plan fails', async () => {
    const { validated, data } = load('inventory-reconciliation');
    const p = preparePlanProof(validated, data);
    const inputs = p.stackInputs.slice();
    inputs[0] = String(BigInt(inputs[0] as string) ^ 1n);
    await expect(runProgram(p.compiled.masm, inputs, p.witness.advice)).rejects.toMatchObject({
      code: 'M2M_PLAN_WRONG_PLAN',
    });
  });
});
