import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { type NostrEvent, signEvent, type Tag } from '../../node/dvm/event.js';
import { buildJobRequest, type JobRequestInput } from '../../node/dvm/request.js';
import { M2mError } from '../../zkvm/errors.js';
import { createEnvelope, type ProofEnvelope } from '../../zkvm/proof/envelope.js';

/** Shared builders for the DVM tests (never imported by the project). */
export interface Keys {
  secret: Uint8Array;
  pubkey: string;
}

export function keys(): Keys {
  const secret = generateSecretKey();
  return { secret, pubkey: getPublicKey(secret) };
}

export const customer = keys();
export const provider = keys();
export const stranger = keys();

const root = new URL('../../', import.meta.url);
export const planText = readFileSync(new URL('plans/median-price.yaml', root), 'utf8');
export const dataText = readFileSync(new URL('plans/data/median-price.json', root), 'utf8');
export const golden = JSON.parse(
  readFileSync(new URL('plans/golden/median-price.json', root), 'utf8'),
) as {
  planHash: string;
  dataRoot: string;
  outputHash: string;
  cyclesUsed: number;
  output: unknown;
};

export function requestInput(overrides: Partial<JobRequestInput> = {}): JobRequestInput {
  return {
    backend: 'miden',
    minProgramVersion: '1.0.0',
    maxProvingTimeSec: 120,
    bidMsats: 21_000n,
    output: 'application/json',
    relays: ['wss://relay.example.com'],
    providers: [provider.pubkey],
    body: {
      plan: { type: 'text', text: planText },
      inputs: [{ data: dataText, type: 'text', marker: 'data' }],
      params: [{ name: 'note', value: 'median price run' }],
    },
    createdAt: 1_700_000_000,
    ...overrides,
  };
}

export const requestEvent = (overrides: Partial<JobRequestInput> = {}): NostrEvent =>
  buildJobRequest(requestInput(overrides), customer.secret);

/** A plan-proof envelope over the golden median-price job, with dummy proof bytes. */
export function envelope(proofBytes = 2048): ProofEnvelope {
  return createEnvelope({
    kind: 'plan',
    backend: 'miden',
    programId: `poseidon2:${'ab'.repeat(32)}`,
    publicInputs: {
      planHash: golden.planHash,
      dataRoot: golden.dataRoot,
      jobRequestHash: `sha256:${'22'.repeat(32)}`,
    },
    publicOutputs: { outputHash: golden.outputHash },
    metadata: { provingTimeMs: 5123, cyclesUsed: golden.cyclesUsed, memoryUsed: 1 << 20 },
    proof: new Uint8Array(randomBytes(proofBytes)),
  });
}

/** Re-signs `event` by its author with tags changed by `edit` (a valid signature on bad tags). */
export function withTags(
  event: NostrEvent,
  secret: Uint8Array,
  edit: (tags: Tag[]) => Tag[],
): NostrEvent {
  return signEvent(
    event.kind,
    edit(event.tags.map((t) => [...t])),
    event.content,
    secret,
    event.created_at,
  );
}

export const dropTag = (name: string) => (tags: Tag[]) => tags.filter((t) => t[0] !== name);
export const setTag =
  (name: string, ...values: string[]) =>
  (tags: Tag[]) =>
    tags.map((t) => (t[0] === name ? [name, ...values] : t));
export const addTag =
  (...tag: string[]) =>
  (tags: Tag[]) => [...tags, tag];

/** The M2mError `fn` throws (fails the test when it throws nothing or something untyped). */
export function errorOf(fn: () => unknown): M2mError {
  try {
    fn();
  } catch (error) {
    if (error instanceof M2mError) return error;
    throw new Error(`expected an M2mError, got ${String(error)}`);
  }
  throw new Error('expected an M2mError, nothing was thrown');
}

/** `{code, tag}` of the error, for compact expectations. */
export function failure(fn: () => unknown): { code: string; tag: unknown } {
  const error = errorOf(fn);
  return { code: error.code, tag: error.details?.tag };
}
