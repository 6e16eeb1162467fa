import { z } from 'zod';
import { sha256, toDigest } from '../../zkvm/commitment/digest.js';
import { isM2mError } from '../../zkvm/errors.js';
import {
  type Backend,
  decodeEnvelope,
  encodeEnvelope,
  type ProofEnvelope,
} from '../../zkvm/proof/envelope.js';
import { DVM_ERRORS, dvmError } from './errors.js';
import {
  baseOf,
  checkSignedEvent,
  KIND_JOB_RESULT,
  type NostrEvent,
  type ParsedEventBase,
  signEvent,
  type Tag,
} from './event.js';
import { inputTag, type JobInput, readInputs } from './inputs.js';
import { decryptFrom, encryptTo } from './nip44.js';
import { bodyInputs, type JobRequest, parseJobRequest } from './request.js';
import {
  type Amount,
  amountTag,
  Count,
  Digest,
  eTag,
  Hex64,
  ProvenBackend,
  Sha256,
  TagReader,
} from './tags.js';

/**
 * Largest binary proof envelope sent inline in a `proof` tag (base64 adds a third). Larger proofs
 * are uploaded (Blossom, IPFS) and referenced with `proof-ref`.
 */
export const MAX_INLINE_PROOF_BYTES = 512 * 1024;

/**
 * A `proof-ref` URI: `blossom:<sha256>?server=...` or `ipfs:<cidv1>` (node/storage/ref.ts), or the
 * older `ipfs://<cid>` and Blossom blob URLs `https://<server>/<sha256>`. The tag's digest is
 * checked against the fetched bytes whatever the form.
 */
const ProofUri = z
  .string()
  .max(4096, 'must be at most 4096 characters')
  .refine(
    (text) => /^(blossom:|ipfs:|https:\/\/|http:\/\/)\S+$/.test(text),
    'must be a blossom:, ipfs: or https:// (Blossom) reference',
  );

/** The proof: the binary envelope inline, or where to fetch it and the SHA-256 of its bytes. */
export type ResultProof =
  | { type: 'inline'; envelope: ProofEnvelope }
  | { type: 'ref'; uri: string; sha256: string };

/** The ZK claims of a result, read from its tags. */
export interface ZkClaims {
  backend: Backend;
  programId: string;
  planHash: string;
  dataRoot: string;
  outputHash: string;
  provingTimeMs: number;
  cyclesUsed: number;
}

export type JobResult = ParsedEventBase &
  ZkClaims & {
    /** The job request, itself verified (from the `request` tag). */
    request: JobRequest;
    requestId: string;
    relayHint: string | undefined;
    customer: string;
    /** The request's clear inputs, echoed (none for an encrypted request). */
    inputs: JobInput[];
    amount: Amount | undefined;
    proof: ResultProof;
  } & ({ encrypted: false; output: string } | { encrypted: true; ciphertext: string });

export interface JobResultInput {
  request: JobRequest;
  /** The proof; the ZK tags are taken from it, so they cannot disagree with it. */
  envelope: ProofEnvelope;
  /** Where the binary envelope was uploaded; without it the proof travels inline. */
  proofRef?: string | undefined;
  /** The job output as JSON text; NIP-44 encrypted to the customer when the request was. */
  output: string;
  amount?: Amount | undefined;
  /** Relay where the request was seen (the `e` tag hint). */
  relayHint?: string | undefined;
  createdAt?: number | undefined;
}

const EX = {
  request: '["request", "<job request event as JSON>"]',
  e: '["e", "<job request id>", "<relay hint>"]',
  p: '["p", "<customer pubkey>"]',
  verification: '["verification", "zk"]',
  zkvm: '["zkvm", "miden|risc-zero|sp1"]',
  programId: '["program-id", "<scheme>:<hex>"]',
  planHash: '["plan-hash", "sha256:<64 hex>"]',
  dataRoot: '["data-merkle-root", "<scheme>:<hex>"]',
  outputHash: '["output-hash", "<scheme>:<hex>"]',
  proof: '["proof", "<base64 envelope>"] or ["proof-ref", "<uri>", "sha256:<64 hex>"]',
  provingTime: '["proving-time-ms", "<ms>"]',
  cycles: '["cycles-used", "<cycles>"]',
};

/** Tag name of each claim, and where the envelope holds it. */
const CLAIMS: [keyof ZkClaims, string, (e: ProofEnvelope) => string | number | undefined][] = [
  ['backend', 'zkvm', (e) => e.backend],
  ['programId', 'program-id', (e) => e.programId],
  ['planHash', 'plan-hash', (e) => e.publicInputs.planHash],
  ['dataRoot', 'data-merkle-root', (e) => e.publicInputs.dataRoot],
  ['outputHash', 'output-hash', (e) => e.publicOutputs.outputHash],
  ['provingTimeMs', 'proving-time-ms', (e) => e.metadata.provingTimeMs],
  ['cyclesUsed', 'cycles-used', (e) => e.metadata.cyclesUsed],
];

function claimsOf(envelope: ProofEnvelope): ZkClaims {
  const claims: Record<string, string | number> = {};
  for (const [key, tag, read] of CLAIMS) {
    const value = read(envelope);
    if (value === undefined) {
      throw dvmError(
        DVM_ERRORS.missingTag,
        `the proof envelope has no value for tag "${tag}" (a plan proof carries publicInputs.planHash, publicInputs.dataRoot and publicOutputs.outputHash); prove the plan with zkvm/plan-proof`,
        { tag },
      );
    }
    claims[key] = value;
  }
  return claims as unknown as ZkClaims;
}

const envelopeDigest = (bytes: Uint8Array): string => toDigest(sha256(bytes));

/** Builds and signs a kind 6900 result; the result always passes parseJobResult. */
export function buildJobResult(input: JobResultInput, providerSecretKey: Uint8Array): NostrEvent {
  const { request, envelope } = input;
  const claims = claimsOf(envelope);
  const bytes = encodeEnvelope(envelope);
  let proofTag: Tag;
  if (input.proofRef !== undefined) {
    proofTag = ['proof-ref', input.proofRef, envelopeDigest(bytes)];
  } else if (bytes.length > MAX_INLINE_PROOF_BYTES) {
    throw dvmError(
      DVM_ERRORS.contentTooLarge,
      `the proof envelope is ${bytes.length} bytes, more than ${MAX_INLINE_PROOF_BYTES} sent inline; upload it (Blossom or IPFS) and pass proofRef`,
      { tag: 'proof', bytes: bytes.length, limit: MAX_INLINE_PROOF_BYTES },
    );
  } else {
    proofTag = ['proof', bytes.toString('base64')];
  }
  const tags: Tag[] = [
    ['request', JSON.stringify(request.event)],
    eTag(request.id, input.relayHint),
    ['p', request.pubkey],
  ];
  // NIP-90: the inputs of an encrypted request must not be echoed in clear.
  if (!request.encrypted) {
    tags.push(...bodyInputs(request.body).inputs.map(inputTag));
  }
  if (input.amount !== undefined) tags.push(amountTag(input.amount));
  tags.push(
    ['verification', 'zk'],
    ['zkvm', claims.backend],
    ['program-id', claims.programId],
    ['plan-hash', claims.planHash],
    ['data-merkle-root', claims.dataRoot],
    ['output-hash', claims.outputHash],
    proofTag,
    ['proving-time-ms', String(claims.provingTimeMs)],
    ['cycles-used', String(claims.cyclesUsed)],
  );
  checkJson(input.output, 'the job output');
  let content = input.output;
  if (request.encrypted) {
    content = encryptTo(input.output, providerSecretKey, request.pubkey, 'the job output');
    tags.push(['encrypted']);
  }
  const event = signEvent(KIND_JOB_RESULT, tags, content, providerSecretKey, input.createdAt);
  parseJobResult(event);
  return event;
}

function checkJson(text: string, what: string, eventId?: string): void {
  try {
    JSON.parse(text);
  } catch (cause) {
    throw dvmError(
      DVM_ERRORS.badContent,
      `${what} must be JSON text (the plan's output records), got ${JSON.stringify(text.slice(0, 40))}`,
      { eventId },
      cause,
    );
  }
}

function readRequest(r: TagReader): JobRequest {
  const tag = r.required('request', EX.request);
  let value: unknown;
  try {
    value = JSON.parse(tag[1] ?? '');
  } catch {
    throw r.bad(
      'request',
      'must hold the job request event as JSON text (JSON.stringify of the signed event)',
    );
  }
  try {
    return parseJobRequest(value);
  } catch (error) {
    if (!isM2mError(error)) throw error;
    throw dvmError(
      DVM_ERRORS.badTag,
      `${r.what}: tag "request" holds an invalid job request: ${error.message}`,
      {
        tag: 'request',
        eventId: r.event.id,
        cause: error.code,
      },
    );
  }
}

function readProof(r: TagReader): ResultProof {
  const inline = r.optional('proof', EX.proof);
  const ref = r.optional('proof-ref', EX.proof);
  if (inline !== undefined && ref !== undefined) {
    throw r.bad(
      'proof',
      'and "proof-ref" are both present; carry the proof inline or by reference, not both',
    );
  }
  if (ref !== undefined) {
    return { type: 'ref', uri: r.field(ref, 1, ProofUri), sha256: r.field(ref, 2, Sha256) };
  }
  if (inline === undefined) throw r.missing('proof', EX.proof);
  const text = inline[1] ?? '';
  if (text.length > Math.ceil(MAX_INLINE_PROOF_BYTES / 3) * 4) {
    throw dvmError(
      DVM_ERRORS.contentTooLarge,
      `${r.what}: tag "proof" holds more than ${MAX_INLINE_PROOF_BYTES} bytes; send large proofs by proof-ref`,
      { tag: 'proof', eventId: r.event.id },
    );
  }
  const bytes = Buffer.from(text, 'base64');
  if (text === '' || bytes.toString('base64') !== text) {
    throw r.bad('proof', 'must be the binary proof envelope in standard padded base64');
  }
  try {
    return { type: 'inline', envelope: decodeEnvelope(bytes) };
  } catch (error) {
    if (!isM2mError(error)) throw error;
    throw dvmError(
      DVM_ERRORS.badTag,
      `${r.what}: tag "proof" is not a valid proof envelope: ${error.message}`,
      {
        tag: 'proof',
        eventId: r.event.id,
        cause: error.code,
      },
    );
  }
}

function checkClaims(r: TagReader, claims: ZkClaims, envelope: ProofEnvelope, how: string): void {
  for (const [key, tag, read] of CLAIMS) {
    const inEnvelope = read(envelope);
    if (inEnvelope !== claims[key]) {
      throw r.bad(
        tag,
        `says "${claims[key]}" but the ${how} proof envelope says "${inEnvelope ?? '(nothing)'}"; take the tags from the envelope`,
      );
    }
  }
}

/**
 * The envelope of a result whose proof is by reference, from the fetched bytes: they must hash
 * to the tag's SHA-256 (DVM_BAD_TAG on `proof-ref` otherwise), decode as an envelope, and agree
 * with the result's ZK tags, exactly as an inline proof must.
 */
export function envelopeFromRef(result: JobResult, bytes: Uint8Array): ProofEnvelope {
  if (result.proof.type !== 'ref') return result.proof.envelope;
  const r = new TagReader(result.event);
  if (envelopeDigest(bytes) !== result.proof.sha256)
    throw r.bad(
      'proof-ref',
      `pins ${result.proof.sha256} but the fetched bytes hash to ${envelopeDigest(bytes)}`,
    );
  let envelope: ProofEnvelope;
  try {
    envelope = decodeEnvelope(bytes);
  } catch (error) {
    if (!isM2mError(error)) throw error;
    throw dvmError(
      DVM_ERRORS.badTag,
      `${r.what}: the proof behind "proof-ref" is not a valid proof envelope: ${error.message}`,
      { tag: 'proof-ref', eventId: result.id, cause: error.code },
    );
  }
  const { backend, programId, planHash, dataRoot, outputHash, provingTimeMs, cyclesUsed } = result;
  checkClaims(
    r,
    { backend, programId, planHash, dataRoot, outputHash, provingTimeMs, cyclesUsed },
    envelope,
    'referenced',
  );
  return envelope;
}

/** Verifies and reads a kind 6900 result. The proof itself is checked by the customer's verifier. */
export function parseJobResult(value: unknown): JobResult {
  const event = checkSignedEvent(value, KIND_JOB_RESULT);
  const r = new TagReader(event);
  const request = readRequest(r);
  const { requestId, relayHint } = r.requestRef();
  if (requestId !== request.id) {
    throw r.bad(
      'e',
      `points at ${requestId} but the request tag holds ${request.id}; they must be the same job`,
    );
  }
  const customer = r.field(r.required('p', EX.p), 1, Hex64);
  if (customer !== request.pubkey) {
    throw r.bad(
      'p',
      `names ${customer} but the job request is by ${request.pubkey}; tag the customer`,
    );
  }
  const verification = r.required('verification', EX.verification);
  if (verification[1] !== 'zk')
    throw r.bad('verification', `must be "zk", got "${verification[1] ?? ''}"`);
  const claims: ZkClaims = {
    backend: r.field(r.required('zkvm', EX.zkvm), 1, ProvenBackend),
    programId: r.field(r.required('program-id', EX.programId), 1, Digest),
    planHash: r.field(r.required('plan-hash', EX.planHash), 1, Sha256),
    dataRoot: r.field(r.required('data-merkle-root', EX.dataRoot), 1, Digest),
    outputHash: r.field(r.required('output-hash', EX.outputHash), 1, Digest),
    provingTimeMs: r.field(r.required('proving-time-ms', EX.provingTime), 1, Count('milliseconds')),
    cyclesUsed: r.field(r.required('cycles-used', EX.cycles), 1, Count('cycles')),
  };
  const proof = readProof(r);
  if (proof.type === 'inline') checkClaims(r, claims, proof.envelope, 'inline');
  const base = {
    ...baseOf(event),
    ...claims,
    request,
    requestId,
    relayHint,
    customer,
    inputs: readInputs(r).inputs,
    amount: r.amount(),
    proof,
  };
  if (r.all('encrypted').length > 0) return { ...base, encrypted: true, ciphertext: event.content };
  checkJson(event.content, `job result ${event.id}: content`, event.id);
  return { ...base, encrypted: false, output: event.content };
}

/** The customer's side: the output of a result to an encrypted request. */
export function decryptJobOutput(result: JobResult, customerSecretKey: Uint8Array): string {
  if (!result.encrypted) return result.output;
  const what = `job result ${result.id}`;
  const output = decryptFrom(result.ciphertext, customerSecretKey, result.pubkey, what);
  checkJson(output, `${what}: decrypted output`, result.id);
  return output;
}

/** The SHA-256 a `proof-ref` pins: over the binary envelope bytes as uploaded. */
export const proofRefDigest = (envelope: ProofEnvelope): string =>
  envelopeDigest(encodeEnvelope(envelope));
