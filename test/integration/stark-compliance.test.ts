import { beforeAll, describe, expect, it } from 'vitest';
import {
  generatePublicInputs,
  proveCompliance,
  proveComplianceBatch,
  verifyCompliance,
  verifyComplianceBatch,
} from '../../zkvm/compliance/compliance.js';
import { M2mError } from '../../zkvm/errors.js';
import { createEnvelope, type ProofEnvelope } from '../../zkvm/proof/envelope.js';
import { findNativeProver } from '../../zkvm/prover/native-process.js';

/**
 * Real proofs from the native prover (guest/, `npm run build:prover`). Under CI=true a missing
 * binary fails the suite: it is never skipped.
 */
const binary = findNativeProver();

const reProof = (envelope: ProofEnvelope, proof: Uint8Array): ProofEnvelope =>
  createEnvelope({ ...envelope, proof });

describe('compliance proofs (native STARK)', () => {
  beforeAll(() => {
    if (binary === undefined)
      throw new Error(
        'm2m-prover is not built: run `npm run build:prover` (CI builds it in .ci/run)',
      );
  });

  const inputs = generatePublicInputs('aml.threshold', '10000');
  let honest: ProofEnvelope;

  it('an honest proof verifies (amount 9999 < threshold 10000)', async () => {
    honest = (await proveCompliance(inputs, '9999')).envelope;
    expect(honest.proof.length).toBeLessThan(64 * 1024);
    expect(honest.metadata.securityBits).toBeGreaterThanOrEqual(96);
    // The compliance program runs about 90 cycles: a measured figure, never a placeholder 0.
    expect(honest.metadata.cyclesUsed).toBeGreaterThan(50);
    expect(honest.metadata.cyclesUsed).toBeLessThan(1 << 16);
    expect((await verifyCompliance(honest, inputs)).valid).toBe(true);
  });

  it('a false statement cannot be proven (amount == threshold, and cap exceeded)', async () => {
    await expect(proveCompliance(inputs, '10000')).rejects.toMatchObject({
      code: 'STARK_POLICY_VIOLATION',
    });
    await expect(
      proveCompliance(generatePublicInputs('order_total.cap', '500'), '501'),
    ).rejects.toMatchObject({ code: 'STARK_POLICY_VIOLATION' });
    const atCap = generatePublicInputs('order_total.cap', '500');
    expect(
      (await verifyCompliance((await proveCompliance(atCap, '500')).envelope, atCap)).valid,
    ).toBe(true);
  });

  it('flipping a byte anywhere in the proof makes it fail', async () => {
    const positions = [
      0,
      1,
      honest.proof.length >> 2,
      honest.proof.length >> 1,
      honest.proof.length - 2,
      honest.proof.length - 1,
    ];
    for (const at of positions) {
      const bytes = Uint8Array.from(honest.proof);
      bytes[at] = (bytes[at] as number) ^ 0x01;
      const verdict = await verifyCompliance(reProof(honest, bytes), inputs);
      expect(verdict.valid, `byte ${at}`).toBe(false);
    }
  });

  it('changing any public input makes it fail', async () => {
    const variants = [
      { ...inputs, sequenceNumber: inputs.sequenceNumber + 1 },
      { ...inputs, eventSigningHash: 'ff'.repeat(32) },
      { ...inputs, policyParams: { threshold: '20000' } },
    ];
    for (const variant of variants)
      expect((await verifyCompliance(honest, variant)).valid).toBe(false);
    const otherProgram = { ...honest, programId: `poseidon2:${'00'.repeat(32)}` };
    expect((await verifyCompliance(otherProgram, inputs)).valid).toBe(false);
    const otherCommitment = {
      ...honest,
      publicInputs: { ...honest.publicInputs, witnessCommitment: `poseidon2:${'11'.repeat(32)}` },
    };
    expect((await verifyCompliance(otherCommitment, inputs)).valid).toBe(false);
  });

  it('enforces the proving timeout with a typed error', async () => {
    const error = await proveCompliance(inputs, '1', { timeoutMs: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(M2mError);
    expect((error as M2mError).code).toBe('PROVER_TIMEOUT');
  });

  it('enforces the memory limit with a typed error', async () => {
    const error = await proveCompliance(inputs, '1', { maxMemoryMb: 8 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(M2mError);
    expect((error as M2mError).code).toBe('PROVER_MEMORY_LIMIT');
  });

  it('a batch proof over 8 events verifies and fails when any member, the order or the count changes', async () => {
    const events = Array.from({ length: 8 }, (_, i) => ({
      publicInputs: generatePublicInputs(i % 2 === 0 ? 'aml.threshold' : 'order_total.cap', '1000'),
      amount: String(100 + i),
    }));
    const { envelope, members } = await proveComplianceBatch(events);
    expect((await verifyComplianceBatch(envelope, members)).valid).toBe(true);
    const tampered = members.map((m, i) =>
      i === 5 ? { ...m, publicInputs: { ...m.publicInputs, sequenceNumber: 99 } } : m,
    );
    expect((await verifyComplianceBatch(envelope, tampered)).valid).toBe(false);
    const swapped = [members[1], members[0], ...members.slice(2)] as typeof members;
    expect((await verifyComplianceBatch(envelope, swapped)).valid).toBe(false);
    expect((await verifyComplianceBatch(envelope, members.slice(0, 7))).valid).toBe(false);
    await expect(
      proveComplianceBatch([
        ...events,
        { publicInputs: generatePublicInputs('aml.threshold', '10'), amount: '10' },
      ]),
    ).rejects.toMatchObject({
      code: 'STARK_POLICY_VIOLATION',
    });
  });
});
