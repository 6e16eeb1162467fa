import { describe, expect, it } from 'vitest';
import { signEvent, type Tag } from '../../node/dvm/event.js';
import { decryptJobInputs, encryptJobInputs, type JobInputs } from '../../node/dvm/inputs.js';
import { encryptTo, MAX_NIP44_PLAINTEXT_BYTES } from '../../node/dvm/nip44.js';
import { buildJobRequest, jobBodyOf, parseJobRequest } from '../../node/dvm/request.js';
import { buildJobResult, decryptJobOutput, parseJobResult } from '../../node/dvm/result.js';
import {
  customer,
  envelope,
  errorOf,
  failure,
  golden,
  planText,
  provider,
  requestInput,
  stranger,
  withTags,
} from './fixtures.js';

// The private params of NIP-90 "Encrypted Params", verbatim.
const nipPrivateTags: Tag[] = [
  ['i', 'what is the capital of France? ', 'text'],
  ['param', 'model', 'LLaMA-2'],
  ['param', 'max_tokens', '512'],
  ['param', 'temperature', '0.5'],
  ['param', 'top-k', '50'],
  ['param', 'top-p', '0.7'],
  ['param', 'frequency_penalty', '1'],
];
const nipInputs: JobInputs = {
  inputs: [{ data: 'what is the capital of France? ', type: 'text' }],
  params: nipPrivateTags
    .slice(1)
    .map(([, name, value]) => ({ name: name ?? '', value: value ?? '' })),
};

/** A kind 5900 carrying `content` as its encrypted inputs, addressed to the provider. */
const sealed = (content: string) =>
  signEvent(
    5900,
    [
      ['verification', 'zk'],
      ['zkvm', 'any'],
      ['bid', '1000'],
      ['p', provider.pubkey],
      ['encrypted'],
    ],
    content,
    customer.secret,
  );

describe('NIP-44 encrypted inputs (NIP-90 encrypted params)', () => {
  it('the NIP-90 example params round-trip through NIP-44 v2 as the same tag list', () => {
    const ciphertext = encryptJobInputs(nipInputs, customer.secret, provider.pubkey);
    expect(ciphertext).not.toContain('LLaMA');
    const event = sealed(ciphertext);
    expect(decryptJobInputs(event, provider.secret)).toEqual({
      inputs: [
        {
          data: 'what is the capital of France? ',
          type: 'text',
          relay: undefined,
          marker: undefined,
        },
      ],
      params: nipInputs.params,
    });
  });

  it('a private job request round-trips: plan, data and params only in content', () => {
    const input = requestInput({ encrypt: true });
    const event = buildJobRequest(input, customer.secret);
    expect(event.tags).toContainEqual(['encrypted']);
    expect(event.tags).toContainEqual(['p', provider.pubkey]);
    expect(event.tags.some((t) => t[0] === 'i' || t[0] === 'param')).toBe(false);
    expect(event.content).not.toContain('median');
    const request = parseJobRequest(event);
    expect(request).toMatchObject({
      encrypted: true,
      body: undefined,
      bidMsats: 21_000n,
      backend: 'miden',
    });
    expect(jobBodyOf(request, provider.secret)).toEqual({
      plan: { type: 'text', text: planText },
      inputs: input.body.inputs,
      params: input.body.params,
    });
  });

  it('a third key cannot decrypt', () => {
    const request = parseJobRequest(
      buildJobRequest(requestInput({ encrypt: true }), customer.secret),
    );
    expect(failure(() => jobBodyOf(request, stranger.secret)).code).toBe('DVM_DECRYPT_FAILED');
    expect(failure(() => jobBodyOf(request)).code).toBe('DVM_DECRYPT_FAILED');
    // Even when the event is re-addressed to the stranger, the MAC fails: the key pair is wrong.
    const readdressed = withTags(request.event, customer.secret, (tags) =>
      tags.map((t) => (t[0] === 'p' ? ['p', stranger.pubkey] : t)),
    );
    const error = errorOf(() => decryptJobInputs(readdressed, stranger.secret));
    expect(error.code).toBe('DVM_DECRYPT_FAILED');
    expect(error.message).toMatch(/another key|damaged/);
  });

  it('a damaged payload fails with DVM_DECRYPT_FAILED', () => {
    const ciphertext = encryptJobInputs(nipInputs, customer.secret, provider.pubkey);
    const damaged = `${ciphertext.slice(0, 40)}${ciphertext[40] === 'A' ? 'B' : 'A'}${ciphertext.slice(41)}`;
    expect(failure(() => decryptJobInputs(sealed(damaged), provider.secret)).code).toBe(
      'DVM_DECRYPT_FAILED',
    );
  });

  it('decrypted content must be i/param tags, validated like clear ones', () => {
    const encrypt = (text: string) =>
      sealed(encryptTo(text, customer.secret, provider.pubkey, 'test'));
    expect(failure(() => decryptJobInputs(encrypt('not json'), provider.secret)).code).toBe(
      'DVM_BAD_CONTENT',
    );
    expect(failure(() => decryptJobInputs(encrypt('[["bid","1"]]'), provider.secret)).code).toBe(
      'DVM_BAD_CONTENT',
    );
    expect(failure(() => decryptJobInputs(encrypt('[["i","x","blob"]]'), provider.secret))).toEqual(
      {
        code: 'DVM_BAD_TAG',
        tag: 'i',
      },
    );
    // An encrypted request must still send a plan inside.
    const noPlan = parseJobRequest(
      sealed(encryptJobInputs(nipInputs, customer.secret, provider.pubkey)),
    );
    expect(failure(() => jobBodyOf(noPlan, provider.secret))).toEqual({
      code: 'DVM_MISSING_TAG',
      tag: 'i',
    });
  });

  it('refuses plaintext beyond NIP-44 limits with DVM_CONTENT_TOO_LARGE', () => {
    const huge: JobInputs = {
      inputs: [{ data: 'x'.repeat(MAX_NIP44_PLAINTEXT_BYTES), type: 'text' }],
      params: [],
    };
    const error = errorOf(() => encryptJobInputs(huge, customer.secret, provider.pubkey));
    expect(error.code).toBe('DVM_CONTENT_TOO_LARGE');
    expect(error.message).toMatch(/url input/);
  });

  describe('an encrypted request keeps its structure', () => {
    const event = buildJobRequest(requestInput({ encrypt: true }), customer.secret);
    it('refuses clear i or param tags beside the encrypted content', () => {
      for (const tag of [
        ['i', 'x', 'text'],
        ['param', 'a', 'b'],
      ]) {
        const leaked = withTags(event, customer.secret, (tags) => [...tags, tag]);
        expect(failure(() => parseJobRequest(leaked))).toEqual({
          code: 'DVM_BAD_TAG',
          tag: tag[0],
        });
      }
    });
    it('needs exactly one provider', () => {
      const none = withTags(event, customer.secret, (tags) => tags.filter((t) => t[0] !== 'p'));
      expect(failure(() => parseJobRequest(none))).toEqual({ code: 'DVM_MISSING_TAG', tag: 'p' });
      const two = withTags(event, customer.secret, (tags) => [...tags, ['p', stranger.pubkey]]);
      expect(failure(() => parseJobRequest(two))).toEqual({ code: 'DVM_BAD_TAG', tag: 'p' });
      expect(
        failure(() =>
          buildJobRequest(requestInput({ encrypt: true, providers: [] }), customer.secret),
        ),
      ).toEqual({
        code: 'DVM_BAD_TAG',
        tag: 'p',
      });
    });
    it('needs content', () => {
      const empty = signEvent(event.kind, event.tags, '', customer.secret);
      expect(failure(() => parseJobRequest(empty)).code).toBe('DVM_BAD_CONTENT');
    });
  });

  it('the result of a private request encrypts its output for the customer and echoes no inputs', () => {
    const request = parseJobRequest(
      buildJobRequest(requestInput({ encrypt: true }), customer.secret),
    );
    const output = JSON.stringify(golden.output);
    const event = buildJobResult({ request, envelope: envelope(), output }, provider.secret);
    expect(event.tags).toContainEqual(['encrypted']);
    expect(event.tags.some((t) => t[0] === 'i')).toBe(false);
    expect(event.content).not.toContain('median');
    const result = parseJobResult(event);
    expect(result.encrypted).toBe(true);
    expect(decryptJobOutput(result, customer.secret)).toBe(output);
    expect(failure(() => decryptJobOutput(result, stranger.secret)).code).toBe(
      'DVM_DECRYPT_FAILED',
    );
  });
});
