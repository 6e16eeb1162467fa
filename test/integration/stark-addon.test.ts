import { beforeAll, describe, expect, it } from 'vitest';
import {
  type ComplianceProof,
  generatePublicInputs,
  proveCompliance,
  proveComplianceBatch,
  verifyCompliance,
  verifyComplianceBatch,
} from '../../zkvm/compliance/compliance.js';
import { M2mError } from '../../zkvm/errors.js';
import { createEnvelope } from '../../zkvm/proof/envelope.js';
import {
  findNativeAddon,
  IN_PROCESS_COMMANDS,
  loadNativeAddon,
  nativeAddonStatus,
  verifyInProcess,
} from '../../zkvm/prover/native-addon.js';
import { findNativeProver } from '../../zkvm/prover/native-process.js';

/**
 * In-process verification through the napi addon (guest/m2m-stark-node), on real proofs from the
 * m2m-prover child process. Both come from `npm run build:prover`. Under CI=true a missing
 * addon or binary fails the suite: it is never skipped.
 */
const caught = (f: () => unknown): unknown => {
  try {
    f();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
};

const verifyRequest = ({ envelope, publicInputs }: ComplianceProof) => ({
  publicInputs,
  witnessCommitment: envelope.publicInputs.witnessCommitment,
  proof: Buffer.from(envelope.proof).toString('base64'),
  proofHash: envelope.proofHash,
  programId: envelope.programId,
  publicInputsHash: envelope.publicInputs.publicInputsHash,
});

describe('in-process STARK verification (napi addon)', () => {
  let honest: ComplianceProof;

  beforeAll(async () => {
    if (findNativeAddon() === undefined || findNativeProver() === undefined)
      throw new Error(
        'the native prover or its in-process verifier addon is not built: run `npm run build:prover` (CI builds both in .ci/run)',
      );
    loadNativeAddon();
    honest = await proveCompliance(generatePublicInputs('aml.threshold', '10000'), '9999');
  });

  it('loads once and answers info with the same engine as the binary', () => {
    expect(loadNativeAddon()).toBe(loadNativeAddon());
    const info = verifyInProcess<{
      engine: string;
      engineVersion: string;
      inProcess: boolean;
      inProcessCommands: string[];
      securityBits: number;
    }>('info');
    expect(info.engine).toBe('miden-vm');
    expect(info.engineVersion).toBe('0.23.5');
    expect(info.inProcess).toBe(true);
    expect(info.inProcessCommands).toEqual([...IN_PROCESS_COMMANDS]);
    expect(info.inProcessCommands).not.toContain('plan-prove');
    expect(info.securityBits).toBeGreaterThanOrEqual(96);
    expect(nativeAddonStatus()).toMatchObject({ loadable: true });
  });

  it('a valid proof verifies in process', async () => {
    const response = verifyInProcess<{ valid: boolean; publicInputsHash: string }>(
      'compliance-verify',
      verifyRequest(honest),
    );
    expect(response.valid).toBe(true);
    expect(response.publicInputsHash).toBe(honest.envelope.publicInputs.publicInputsHash);
    const verdict = await verifyCompliance(honest.envelope, honest.publicInputs);
    expect(verdict).toMatchObject({
      valid: true,
      inProcess: true,
      programId: honest.envelope.programId,
    });
    expect(verdict.reason).toBeUndefined();
  });

  it('a tampered proof is rejected with a reason and a typed code', async () => {
    const bytes = Uint8Array.from(honest.envelope.proof);
    const at = bytes.length >> 1;
    bytes[at] = (bytes[at] as number) ^ 0x01;
    const tampered = createEnvelope({ ...honest.envelope, proof: bytes });
    const verdict = await verifyCompliance(tampered, honest.publicInputs);
    expect(verdict.valid).toBe(false);
    expect(verdict.inProcess).toBe(true);
    expect(verdict.reason).toMatch(/^[A-Z_]+: ./);

    // The proof bytes no longer match the stated hash: the same code as the child process.
    const error = caught(() =>
      verifyInProcess('compliance-verify', {
        ...verifyRequest(honest),
        proof: Buffer.from(bytes).toString('base64'),
      }),
    );
    expect(error).toBeInstanceOf(M2mError);
    expect((error as M2mError).code).toBe('PROOF_HASH_MISMATCH');
    // Without the hash check the STARK itself rejects it.
    const { proofHash: _dropped, ...withoutHash } = {
      ...verifyRequest(honest),
      proof: Buffer.from(bytes).toString('base64'),
    };
    const stark = caught(() => verifyInProcess('compliance-verify', withoutHash));
    expect(stark).toBeInstanceOf(M2mError);
    expect((stark as M2mError).code).not.toMatch(/^PROVER_/);
    expect((stark as M2mError).message.length).toBeGreaterThan(0);
  });

  it('changed public inputs are rejected with a reason', async () => {
    const { publicInputs } = honest;
    const variants = [
      { ...publicInputs, sequenceNumber: publicInputs.sequenceNumber + 1 },
      { ...publicInputs, eventSigningHash: 'ee'.repeat(32) },
      { ...publicInputs, policyParams: { threshold: '20000' } },
    ];
    for (const variant of variants) {
      const verdict = await verifyCompliance(honest.envelope, variant);
      expect(verdict.valid).toBe(false);
      expect(verdict.reason).toMatch(/^[A-Z_]+: ./);
    }
    // Proof checked against other inputs, without the expected hash: the STARK says no.
    const { publicInputsHash: _dropped, ...request } = {
      ...verifyRequest(honest),
      publicInputs: variants[0],
    };
    const error = caught(() => verifyInProcess('compliance-verify', request));
    expect((error as M2mError).code).toBe('VERIFICATION_FAILED');
  });

  it('a prove command sent to the addon is refused', () => {
    for (const command of ['compliance-prove', 'compliance-batch-prove']) {
      const error = caught(() =>
        verifyInProcess(command, { publicInputs: honest.publicInputs, amount: '1' }),
      );
      expect(error).toBeInstanceOf(M2mError);
      expect((error as M2mError).code).toBe('UNKNOWN_COMMAND');
      expect((error as M2mError).message).toMatch(/child process/);
    }
    // Straight at the addon, below the TypeScript wrapper.
    const raw = caught(() => loadNativeAddon().addon.call('compliance-prove', '{}')) as Error & {
      code?: string;
    };
    expect(raw.code).toBe('UNKNOWN_COMMAND');
    expect(JSON.parse(raw.message)).toMatchObject({ error: { code: 'UNKNOWN_COMMAND' } });
  });

  it('malformed requests get the prover codes, not crashes', () => {
    const error = caught(() => verifyInProcess('compliance-verify', { proof: 'x' }));
    expect((error as M2mError).code).toBe('INVALID_REQUEST');
    const raw = caught(() => loadNativeAddon().addon.complianceVerify('{not json')) as Error & {
      code?: string;
    };
    expect(raw.code).toBe('INVALID_REQUEST');
  });

  it('verifies 20 proofs in process, accepting each and rejecting each under the wrong inputs', async () => {
    const proofs: ComplianceProof[] = [];
    for (let i = 0; i < 20; i++) {
      const policy = i % 2 === 0 ? 'aml.threshold' : 'order_total.cap';
      proofs.push(await proveCompliance(generatePublicInputs(policy, '5000'), String(1000 + i)));
    }
    for (const [i, proof] of proofs.entries()) {
      const verdict = await verifyCompliance(proof.envelope, proof.publicInputs);
      expect(verdict, `proof ${i}`).toMatchObject({ valid: true, inProcess: true });
      const other = proofs[(i + 1) % proofs.length] as ComplianceProof;
      const wrong = await verifyCompliance(proof.envelope, other.publicInputs);
      expect(wrong.valid, `proof ${i} against the inputs of ${i + 1}`).toBe(false);
    }
  });

  it('a batch proof verifies in process and fails for a changed member', async () => {
    const events = Array.from({ length: 4 }, (_, i) => ({
      publicInputs: generatePublicInputs('order_total.cap', '1000'),
      amount: String(10 + i),
    }));
    const { envelope, members } = await proveComplianceBatch(events);
    expect(await verifyComplianceBatch(envelope, members)).toMatchObject({
      valid: true,
      inProcess: true,
    });
    const tampered = members.map((m, i) =>
      i === 2 ? { ...m, publicInputs: { ...m.publicInputs, sequenceNumber: 7 } } : m,
    );
    const verdict = await verifyComplianceBatch(envelope, tampered);
    expect(verdict.valid).toBe(false);
    expect(verdict.reason).toMatch(/^BATCH_DIGEST_MISMATCH: /);
  });
});
