import { beforeAll, describe, expect, it } from 'vitest';
import { generatePublicInputs, proveCompliance } from '../../zkvm/compliance/compliance.js';
import { createEnvelope, type ProofEnvelope } from '../../zkvm/proof/envelope.js';
import { createComplianceProver } from '../../zkvm/prover/prover.js';
import { DEFAULT_PROGRAMS } from '../../zkvm/registry/default-programs.js';
import { ProgramRegistry } from '../../zkvm/registry/registry.js';
import { ZKVerifier } from '../../zkvm/verifier/verifier.js';

/** The verifier over real compliance proofs and a real (SQLite) registry. */
describe('ZKVerifier', () => {
  const inputs = generatePublicInputs('aml.threshold', '10000');
  let proof: ProofEnvelope;

  beforeAll(async () => {
    proof = (await proveCompliance(inputs, '1234')).envelope;
  });

  it('accepts a valid proof of a registered program and caches the verdict', async () => {
    const verifier = new ZKVerifier(new ProgramRegistry());
    const first = await verifier.verify(proof, { kind: 'compliance', publicInputs: inputs });
    expect(first).toMatchObject({ valid: true, cached: false, programId: proof.programId });
    const second = await verifier.verify(proof, { kind: 'compliance', publicInputs: inputs });
    expect(second).toMatchObject({ valid: true, cached: true });
  });

  it('rejects an unknown program with its reason', async () => {
    const verifier = new ZKVerifier(new ProgramRegistry({ embedded: [] }));
    const verdict = await verifier.verify(proof, { kind: 'compliance', publicInputs: inputs });
    expect(verdict).toMatchObject({ valid: false, code: 'PROGRAM_UNKNOWN' });
  });

  it('rejects a deprecated program with the deprecation reason', async () => {
    const registry = new ProgramRegistry();
    registry.deprecate(proof.programId, 'CVE-2026-0001: limit check bypass');
    const verdict = await new ZKVerifier(registry).verify(proof, {
      kind: 'compliance',
      publicInputs: inputs,
    });
    expect(verdict.valid).toBe(false);
    expect(verdict.code).toBe('PROGRAM_DEPRECATED');
    expect(verdict.reason).toContain('CVE-2026-0001');
  });

  it('rejects a proof for other public inputs, a tampered proof, and the wrong kind', async () => {
    const verifier = new ZKVerifier(new ProgramRegistry());
    const other = generatePublicInputs('aml.threshold', '10000');
    expect(await verifier.verify(proof, { kind: 'compliance', publicInputs: other })).toMatchObject(
      { valid: false, code: 'PROOF_INVALID' },
    );
    const bytes = Uint8Array.from(proof.proof);
    bytes[100] = (bytes[100] as number) ^ 0x80;
    const tampered = createEnvelope({ ...proof, proof: bytes });
    expect(
      await verifier.verify(tampered, { kind: 'compliance', publicInputs: inputs }),
    ).toMatchObject({ valid: false, code: 'PROOF_INVALID' });
    expect(await verifier.verify(proof, `sha256:${'ab'.repeat(32)}`)).toMatchObject({
      valid: false,
      code: 'PROOF_KIND_MISMATCH',
    });
  });

  it('refuses programs below a required version', async () => {
    const verifier = new ZKVerifier(new ProgramRegistry(), { minProgramVersion: '0.2.0' });
    expect(
      await verifier.verify(proof, { kind: 'compliance', publicInputs: inputs }),
    ).toMatchObject({ valid: false, code: 'PROGRAM_VERSION_TOO_OLD' });
    // The compliance program is 0.1.0, below the required 0.2.0 (the plan compiler is 0.2.0).
    expect(DEFAULT_PROGRAMS.find((p) => p.programId === proof.programId)?.version).toBe('0.1.0');
  });

  it('verifyBatch reports each verdict', async () => {
    const verifier = new ZKVerifier(new ProgramRegistry());
    const batch = await verifier.verifyBatch([
      { envelope: proof, expected: { kind: 'compliance', publicInputs: inputs } },
      {
        envelope: proof,
        expected: {
          kind: 'compliance',
          publicInputs: generatePublicInputs('aml.threshold', '10000'),
        },
      },
    ]);
    expect(batch.validCount).toBe(1);
    expect(batch.allValid).toBe(false);
    expect(batch.results.map((r) => r.valid)).toEqual([true, false]);
  });
});

describe('createComplianceProver', () => {
  it('selects the native backend, names its program, and returns metadata', async () => {
    const prover = await createComplianceProver('order_total.cap', 'any');
    expect(prover.backend).toBe('miden');
    expect(prover.programId).toBe(
      DEFAULT_PROGRAMS.find((p) => p.name === 'compliance/order_total.cap')?.programId,
    );
    const inputs = generatePublicInputs('order_total.cap', '700');
    const out = await prover.prove(inputs, { amount: '700' });
    expect(out.proof.programId).toBe(prover.programId);
    expect(out.metadata.provingTimeMs).toBeGreaterThan(0);
    await expect(
      prover.prove(generatePublicInputs('aml.threshold', '700'), { amount: '1' }),
    ).rejects.toMatchObject({ code: 'STARK_INVALID_PUBLIC_INPUTS' });
  });

  it('refuses backends that cannot run here, with the reason', async () => {
    await expect(createComplianceProver('aml.threshold', 'risc-zero')).rejects.toMatchObject({
      code: 'PROVER_BACKEND_UNAVAILABLE',
    });
    await expect(createComplianceProver('aml.threshold', 'sp1')).rejects.toMatchObject({
      code: 'PROVER_BACKEND_UNAVAILABLE',
    });
  });
});
