import { z } from 'zod';
import { canonicalJson, SHA256_DIGEST_RE, sha256, toDigest } from '../commitment/digest.js';
import { M2mError } from '../errors.js';

/**
 * The proof envelope: everything a verifier needs besides the program registry.
 *
 * Binary layout (all integers big-endian):
 *   "M2MPROOF" (8 bytes) | format version u8 (=1) | header length u32 | header (RFC 8785 JSON)
 *   | proof length u32 | proof bytes
 * The header is the envelope without `proof`. `proofHash` is SHA-256 of the proof bytes and is
 * checked on every decode, so a damaged transfer is caught before any verifier runs.
 * JSON form: the header fields plus `proof` as base64.
 */
export const ENVELOPE_VERSION = 1;
const MAGIC = Buffer.from('M2MPROOF', 'ascii');
/** A proof larger than this is refused on decode (issue 3 targets proofs well under 1 MiB). */
export const MAX_PROOF_BYTES = 16 * 1024 * 1024;

export const Backend = z.enum(['miden', 'risc-zero', 'sp1']);
export type Backend = z.infer<typeof Backend>;

const Digestish = z.string().regex(/^[a-z0-9]+:[0-9a-f]+$/, 'digest: "<scheme>:<hex>"');

export const ProofHeader = z
  .object({
    version: z.literal(ENVELOPE_VERSION),
    kind: z.enum(['plan', 'compliance', 'compliance-batch']),
    backend: Backend,
    programId: Digestish,
    /** Statement inputs, e.g. {jobRequestHash, planHash, dataRoot} for a plan proof. */
    publicInputs: z.record(z.string(), z.string()),
    /** Statement outputs, e.g. {outputHash}. */
    publicOutputs: z.record(z.string(), z.string()),
    metadata: z
      .object({
        provingTimeMs: z.number().int().nonnegative(),
        cyclesUsed: z.number().int().nonnegative(),
        memoryUsed: z.number().int().nonnegative(),
        securityBits: z.number().int().positive().optional(),
      })
      .strict(),
    proofHash: z.string().regex(SHA256_DIGEST_RE),
  })
  .strict();
export type ProofHeader = z.infer<typeof ProofHeader>;

export interface ProofEnvelope extends ProofHeader {
  proof: Uint8Array;
}

export function proofHashOf(proof: Uint8Array): string {
  return toDigest(sha256(proof));
}

/** Builds an envelope, computing `proofHash`. */
export function createEnvelope(
  fields: Omit<ProofEnvelope, 'version' | 'proofHash'>,
): ProofEnvelope {
  const envelope = {
    ...fields,
    version: ENVELOPE_VERSION as 1,
    proofHash: proofHashOf(fields.proof),
  };
  parseHeader(headerOf(envelope));
  return envelope;
}

const headerOf = ({ proof: _proof, ...header }: ProofEnvelope): ProofHeader => header;

function parseHeader(value: unknown): ProofHeader {
  const parsed = ProofHeader.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new M2mError(
      'PROOF_MALFORMED',
      `proof envelope: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
    );
  }
  return parsed.data;
}

function checkHash(header: ProofHeader, proof: Uint8Array): ProofEnvelope {
  if (proof.length > MAX_PROOF_BYTES) {
    throw new M2mError(
      'PROOF_TOO_LARGE',
      `proof is ${proof.length} bytes, more than ${MAX_PROOF_BYTES}`,
    );
  }
  const actual = proofHashOf(proof);
  if (actual !== header.proofHash) {
    throw new M2mError(
      'PROOF_HASH_MISMATCH',
      `proof bytes hash to ${actual}, the envelope says ${header.proofHash}`,
    );
  }
  return { ...header, proof };
}

export function encodeEnvelope(envelope: ProofEnvelope): Buffer {
  const header = Buffer.from(canonicalJson(headerOf(envelope)), 'utf8');
  const lengths = Buffer.alloc(4);
  lengths.writeUInt32BE(header.length);
  const proofLength = Buffer.alloc(4);
  proofLength.writeUInt32BE(envelope.proof.length);
  return Buffer.concat([
    MAGIC,
    Buffer.of(ENVELOPE_VERSION),
    lengths,
    header,
    proofLength,
    envelope.proof,
  ]);
}

export function decodeEnvelope(bytes: Uint8Array): ProofEnvelope {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (why: string): never => {
    throw new M2mError('PROOF_MALFORMED', `binary proof envelope: ${why}`);
  };
  if (buf.length < 17 || !buf.subarray(0, 8).equals(MAGIC)) fail('missing "M2MPROOF" magic');
  if (buf[8] !== ENVELOPE_VERSION)
    fail(`format version ${buf[8]} is not supported (expected ${ENVELOPE_VERSION})`);
  const headerLength = buf.readUInt32BE(9);
  const headerEnd = 13 + headerLength;
  if (headerEnd + 4 > buf.length) fail('header length runs past the end');
  let header: unknown;
  try {
    header = JSON.parse(buf.subarray(13, headerEnd).toString('utf8'));
  } catch {
    fail('header is not JSON');
  }
  const proofLength = buf.readUInt32BE(headerEnd);
  if (headerEnd + 4 + proofLength !== buf.length) fail('proof length does not match the data');
  return checkHash(parseHeader(header), new Uint8Array(buf.subarray(headerEnd + 4)));
}

export function envelopeToJson(envelope: ProofEnvelope): Record<string, unknown> {
  return { ...headerOf(envelope), proof: Buffer.from(envelope.proof).toString('base64') };
}

export function envelopeFromJson(value: unknown): ProofEnvelope {
  if (
    value === null ||
    typeof value !== 'object' ||
    typeof (value as { proof?: unknown }).proof !== 'string'
  ) {
    throw new M2mError('PROOF_MALFORMED', 'JSON proof envelope needs a base64 "proof" field');
  }
  const { proof, ...header } = value as { proof: string };
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(proof))
    throw new M2mError('PROOF_MALFORMED', 'proof is not base64');
  return checkHash(parseHeader(header), new Uint8Array(Buffer.from(proof, 'base64')));
}

/** Reads either form: binary (magic) or JSON text. */
export function readEnvelope(bytes: Uint8Array): ProofEnvelope {
  if (bytes.length >= 8 && Buffer.from(bytes.subarray(0, 8)).equals(MAGIC))
    return decodeEnvelope(bytes);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new M2mError('PROOF_MALFORMED', 'proof file is neither a binary envelope nor JSON');
  }
  return envelopeFromJson(json);
}
