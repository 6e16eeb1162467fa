import { describe, expect, it } from 'vitest';
import { signEvent, type Tag } from '../../node/dvm/event.js';
import { parseJobRequest } from '../../node/dvm/request.js';
import {
  buildJobResult,
  type JobResultInput,
  MAX_INLINE_PROOF_BYTES,
  parseJobResult,
  proofRefDigest,
} from '../../node/dvm/result.js';
import { createEnvelope, encodeEnvelope } from '../../zkvm/proof/envelope.js';
import {
  addTag,
  customer,
  dataText,
  dropTag,
  envelope,
  errorOf,
  failure,
  golden,
  planText,
  provider,
  requestEvent,
  setTag,
  stranger,
  withTags,
} from './fixtures.js';

const request = parseJobRequest(requestEvent());
const proof = envelope();
const output = JSON.stringify(golden.output);

function resultInput(overrides: Partial<JobResultInput> = {}): JobResultInput {
  return {
    request,
    envelope: proof,
    output,
    amount: { msats: 21_000n, bolt11: 'lnbc210n1pexample' },
    relayHint: 'wss://relay.example.com',
    createdAt: 1_700_000_100,
    ...overrides,
  };
}

const resultEvent = (overrides: Partial<JobResultInput> = {}) =>
  buildJobResult(resultInput(overrides), provider.secret);

describe('job result (kind 6900)', () => {
  it('built from a proof envelope, parses back to the same fields', () => {
    const event = resultEvent();
    const parsed = parseJobResult(event);
    expect(parsed).toMatchObject({
      id: event.id,
      pubkey: provider.pubkey,
      createdAt: 1_700_000_100,
      requestId: request.id,
      relayHint: 'wss://relay.example.com',
      customer: customer.pubkey,
      amount: { msats: 21_000n, bolt11: 'lnbc210n1pexample' },
      backend: 'miden',
      programId: proof.programId,
      planHash: golden.planHash,
      dataRoot: golden.dataRoot,
      outputHash: golden.outputHash,
      provingTimeMs: 5123,
      cyclesUsed: golden.cyclesUsed,
      encrypted: false,
      output,
    });
    expect(parsed.proof).toEqual({ type: 'inline', envelope: proof });
    expect(parsed.request.event).toEqual(request.event);
    expect(parsed.inputs).toEqual([
      { data: planText, type: 'text', relay: undefined, marker: 'plan' },
      { data: dataText, type: 'text', relay: undefined, marker: 'data' },
    ]);
  });

  it('carries the NIP-90 tags and the ZK tags', () => {
    const event = resultEvent();
    const names = event.tags.map((t) => t[0]);
    expect(names).toEqual([
      'request',
      'e',
      'p',
      'i',
      'i',
      'amount',
      'verification',
      'zkvm',
      'program-id',
      'plan-hash',
      'data-merkle-root',
      'output-hash',
      'proof',
      'proving-time-ms',
      'cycles-used',
    ]);
    expect(event.tags).toContainEqual(['proof', encodeEnvelope(proof).toString('base64')]);
    expect(event.tags).toContainEqual(['e', request.id, 'wss://relay.example.com']);
    expect(event.content).toBe(output);
  });

  it('references a large proof by uri and sha256 of the envelope bytes', () => {
    const event = resultEvent({ proofRef: 'https://blossom.example.com/abc' });
    const sha = proofRefDigest(proof);
    expect(event.tags).toContainEqual(['proof-ref', 'https://blossom.example.com/abc', sha]);
    expect(event.tags.some((t) => t[0] === 'proof')).toBe(false);
    expect(parseJobResult(event).proof).toEqual({
      type: 'ref',
      uri: 'https://blossom.example.com/abc',
      sha256: sha,
    });
  });

  it('refuses to inline a proof over the limit with DVM_CONTENT_TOO_LARGE', () => {
    const big = envelope(MAX_INLINE_PROOF_BYTES);
    expect(failure(() => resultEvent({ envelope: big })).code).toBe('DVM_CONTENT_TOO_LARGE');
    expect(
      parseJobResult(resultEvent({ envelope: big, proofRef: 'ipfs://bafybeigdyrzt' })).proof.type,
    ).toBe('ref');
  });

  it('refuses an envelope without the plan-proof statement', () => {
    const compliance = createEnvelope({ ...proof, publicInputs: {}, publicOutputs: {} });
    expect(failure(() => resultEvent({ envelope: compliance }))).toEqual({
      code: 'DVM_MISSING_TAG',
      tag: 'plan-hash',
    });
  });

  it('refuses output that is not JSON with DVM_BAD_CONTENT', () => {
    expect(failure(() => resultEvent({ output: 'median: 3' })).code).toBe('DVM_BAD_CONTENT');
    const event = resultEvent();
    const resigned = signEvent(event.kind, event.tags, 'median: 3', provider.secret);
    expect(failure(() => parseJobResult(resigned)).code).toBe('DVM_BAD_CONTENT');
  });

  describe('rejects each missing required tag with DVM_MISSING_TAG naming it', () => {
    const event = resultEvent();
    it.each([
      'request',
      'e',
      'p',
      'verification',
      'zkvm',
      'program-id',
      'plan-hash',
      'data-merkle-root',
      'output-hash',
      'proof',
      'proving-time-ms',
      'cycles-used',
    ])('%s', (name) => {
      const error = errorOf(() => parseJobResult(withTags(event, provider.secret, dropTag(name))));
      expect(error.code).toBe('DVM_MISSING_TAG');
      expect(error.details?.tag).toBe(name);
    });
  });

  describe('rejects each bad tag with DVM_BAD_TAG naming it', () => {
    const event = resultEvent();
    const other = requestEvent({ bidMsats: 1n });
    const cases: [string, string, (tags: Tag[]) => Tag[]][] = [
      ['request', 'not JSON', setTag('request', '{')],
      [
        'request',
        'tampered request',
        setTag('request', JSON.stringify({ ...request.event, content: 'x' })),
      ],
      [
        'request',
        'not a job request',
        setTag('request', JSON.stringify(withTags(other, customer.secret, dropTag('bid')))),
      ],
      ['e', 'another job', setTag('e', other.id)],
      ['e', 'not an id', setTag('e', 'xyz')],
      ['p', 'not the customer', setTag('p', stranger.pubkey)],
      ['verification', 'not zk', setTag('verification', 'tee')],
      ['zkvm', 'any is not a backend', setTag('zkvm', 'any')],
      ['program-id', 'not a digest', setTag('program-id', 'abc')],
      ['plan-hash', 'not sha256', setTag('plan-hash', `poseidon2:${'00'.repeat(32)}`)],
      [
        'plan-hash',
        'disagrees with the envelope',
        setTag('plan-hash', `sha256:${'00'.repeat(32)}`),
      ],
      [
        'data-merkle-root',
        'disagrees with the envelope',
        setTag('data-merkle-root', `sha256:${'00'.repeat(32)}`),
      ],
      [
        'output-hash',
        'disagrees with the envelope',
        setTag('output-hash', `sha256:${'01'.repeat(32)}`),
      ],
      ['zkvm', 'disagrees with the envelope', setTag('zkvm', 'sp1')],
      [
        'program-id',
        'disagrees with the envelope',
        setTag('program-id', `poseidon2:${'cd'.repeat(32)}`),
      ],
      ['proving-time-ms', 'disagrees with the envelope', setTag('proving-time-ms', '1')],
      ['cycles-used', 'negative', setTag('cycles-used', '-1')],
      ['cycles-used', 'disagrees with the envelope', setTag('cycles-used', '7')],
      ['proof', 'not base64', setTag('proof', 'not base64!')],
      ['proof', 'not an envelope', setTag('proof', Buffer.from('hello').toString('base64'))],
      ['proof', 'damaged envelope', setTag('proof', flipLastByte(encodeEnvelope(proof)))],
      [
        'proof',
        'with proof-ref too',
        addTag('proof-ref', 'https://x.example/p', proofRefDigest(proof)),
      ],
      ['amount', 'not msats', setTag('amount', '1 sat')],
      ['amount', 'bad bolt11', setTag('amount', '1000', 'invoice')],
    ];
    it.each(cases)('%s: %s', (name, _why, edit) => {
      const error = errorOf(() => parseJobResult(withTags(event, provider.secret, edit)));
      expect(error.code).toBe('DVM_BAD_TAG');
      expect(error.details?.tag).toBe(name);
    });

    it('proof-ref with a bad uri or digest', () => {
      const ref = resultEvent({ proofRef: 'https://blossom.example.com/abc' });
      expect(
        failure(() =>
          parseJobResult(
            withTags(ref, provider.secret, setTag('proof-ref', 'ftp://x', proofRefDigest(proof))),
          ),
        ),
      ).toEqual({
        code: 'DVM_BAD_TAG',
        tag: 'proof-ref',
      });
      expect(
        failure(() =>
          parseJobResult(withTags(ref, provider.secret, setTag('proof-ref', 'ipfs://x', 'abc'))),
        ),
      ).toEqual({
        code: 'DVM_BAD_TAG',
        tag: 'proof-ref',
      });
    });

    it('a damaged proof says which envelope check failed', () => {
      const error = errorOf(() =>
        parseJobResult(
          withTags(event, provider.secret, setTag('proof', flipLastByte(encodeEnvelope(proof)))),
        ),
      );
      expect(error.details?.cause).toBe('PROOF_HASH_MISMATCH');
    });
  });
});

function flipLastByte(bytes: Buffer): string {
  const copy = Buffer.from(bytes);
  copy[copy.length - 1] = (copy[copy.length - 1] ?? 0) ^ 1;
  return copy.toString('base64');
}
