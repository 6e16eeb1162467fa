import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createEnvelope,
  decodeEnvelope,
  encodeEnvelope,
  envelopeFromJson,
  envelopeToJson,
  readEnvelope,
} from '../../zkvm/proof/envelope.js';
import { codeOf } from '../support/errors.js';

const envelope = createEnvelope({
  kind: 'plan',
  backend: 'miden',
  programId: `rpo256:${'ab'.repeat(32)}`,
  publicInputs: {
    planHash: `sha256:${'11'.repeat(32)}`,
    jobRequestHash: `sha256:${'22'.repeat(32)}`,
  },
  publicOutputs: { outputHash: `sha256:${'33'.repeat(32)}` },
  metadata: { provingTimeMs: 1200, cyclesUsed: 65536, memoryUsed: 1 << 20 },
  proof: new Uint8Array(randomBytes(4096)),
});

describe('proof envelope', () => {
  it('round-trips through binary and JSON', () => {
    expect(decodeEnvelope(encodeEnvelope(envelope))).toEqual(envelope);
    expect(envelopeFromJson(JSON.parse(JSON.stringify(envelopeToJson(envelope))))).toEqual(
      envelope,
    );
    expect(readEnvelope(encodeEnvelope(envelope))).toEqual(envelope);
    expect(readEnvelope(Buffer.from(JSON.stringify(envelopeToJson(envelope))))).toEqual(envelope);
  });

  it('binary encoding is deterministic', () => {
    expect(encodeEnvelope(envelope).equals(encodeEnvelope({ ...envelope }))).toBe(true);
  });

  it('rejects a flipped proof byte with PROOF_HASH_MISMATCH', () => {
    const bytes = encodeEnvelope(envelope);
    bytes.writeUInt8((bytes.at(-10) as number) ^ 0x01, bytes.length - 10);
    expect(codeOf(() => decodeEnvelope(bytes))).toBe('PROOF_HASH_MISMATCH');
  });

  it('rejects truncation, bad magic, unknown versions and malformed headers with PROOF_MALFORMED', () => {
    const bytes = encodeEnvelope(envelope);
    expect(codeOf(() => decodeEnvelope(bytes.subarray(0, bytes.length - 1)))).toBe(
      'PROOF_MALFORMED',
    );
    expect(codeOf(() => decodeEnvelope(Buffer.concat([Buffer.from('X'), bytes.subarray(1)])))).toBe(
      'PROOF_MALFORMED',
    );
    const v2 = Buffer.from(bytes);
    v2[8] = 2;
    expect(codeOf(() => decodeEnvelope(v2))).toBe('PROOF_MALFORMED');
    expect(
      codeOf(() => envelopeFromJson({ ...envelopeToJson(envelope), backend: 'quantum' })),
    ).toBe('PROOF_MALFORMED');
    expect(codeOf(() => envelopeFromJson({ ...envelopeToJson(envelope), proof: '!!' }))).toBe(
      'PROOF_MALFORMED',
    );
    expect(codeOf(() => readEnvelope(Buffer.from('not a proof')))).toBe('PROOF_MALFORMED');
  });
});
