import { describe, expect, it } from 'vitest';
import { signEvent, type Tag } from '../../node/dvm/event.js';
import { buildHandler, type HandlerInput, parseHandler } from '../../node/dvm/handler.js';
import { addTag, dropTag, failure, provider, setTag, withTags } from './fixtures.js';

const programId = `poseidon2:${'ab'.repeat(32)}`;

const handlerInput = (overrides: Partial<HandlerInput> = {}): HandlerInput => ({
  identifier: 'm2m-zk-compute',
  metadata: {
    name: 'm2m prover',
    about: 'Execution plans proven on Miden',
    picture: 'https://x.example/p.png',
  },
  programs: [
    { backend: 'miden', programId, version: '1.2.0' },
    { backend: 'sp1', programId: `sha256:${'cd'.repeat(32)}`, version: '0.9.1' },
  ],
  prices: [
    { msats: 10_000n, unit: 'per-job' },
    { msats: 250n, unit: 'per-mcycle' },
  ],
  createdAt: 1_700_000_000,
  ...overrides,
});

describe('handler announcement (kind 31990, NIP-89)', () => {
  it('round-trips every field', () => {
    const event = buildHandler(handlerInput(), provider.secret);
    expect(event.kind).toBe(31990);
    expect(event.tags).toEqual([
      ['d', 'm2m-zk-compute'],
      ['k', '5900'],
      ['zkvm', 'miden', programId, '1.2.0'],
      ['zkvm', 'sp1', `sha256:${'cd'.repeat(32)}`, '0.9.1'],
      ['price', '10000', 'per-job'],
      ['price', '250', 'per-mcycle'],
    ]);
    const { createdAt: _, ...fields } = handlerInput();
    expect(parseHandler(event)).toMatchObject({
      ...fields,
      kinds: [5900],
      pubkey: provider.pubkey,
      createdAt: 1_700_000_000,
    });
  });

  it('accepts other k tags besides 5900', () => {
    const event = withTags(
      buildHandler(handlerInput(), provider.secret),
      provider.secret,
      addTag('k', '5001'),
    );
    expect(parseHandler(event).kinds).toEqual([5900, 5001]);
  });

  describe('rejects bad or missing tags, naming them', () => {
    const event = buildHandler(handlerInput(), provider.secret);
    const cases: [string, string, (tags: Tag[]) => Tag[]][] = [
      ['DVM_MISSING_TAG', 'd', dropTag('d')],
      ['DVM_MISSING_TAG', 'k', dropTag('k')],
      ['DVM_MISSING_TAG', 'k', setTag('k', '5001')],
      ['DVM_MISSING_TAG', 'zkvm', dropTag('zkvm')],
      ['DVM_MISSING_TAG', 'price', dropTag('price')],
      ['DVM_BAD_TAG', 'd', setTag('d', '')],
      ['DVM_BAD_TAG', 'd', addTag('d', 'other')],
      ['DVM_BAD_TAG', 'k', setTag('k', 'dvm')],
      ['DVM_BAD_TAG', 'zkvm', setTag('zkvm', 'any', programId, '1.0.0')],
      ['DVM_BAD_TAG', 'zkvm', setTag('zkvm', 'miden', 'not-a-digest', '1.0.0')],
      ['DVM_BAD_TAG', 'zkvm', setTag('zkvm', 'miden', programId, 'v1')],
      ['DVM_BAD_TAG', 'zkvm', setTag('zkvm', 'miden', programId)],
      ['DVM_BAD_TAG', 'price', setTag('price', '10', 'per-hour')],
      ['DVM_BAD_TAG', 'price', setTag('price', '0.5', 'per-job')],
      ['DVM_BAD_TAG', 'price', addTag('price', '1', 'per-job')],
    ];
    it.each(cases)('%s %s', (code, tag, edit) => {
      expect(failure(() => parseHandler(withTags(event, provider.secret, edit)))).toEqual({
        code,
        tag,
      });
    });
  });

  it('rejects content that is not metadata JSON with DVM_BAD_CONTENT', () => {
    const event = buildHandler(handlerInput(), provider.secret);
    for (const content of ['', 'name', '[]', '{"about":"no name"}', '{"name":""}']) {
      const resigned = signEvent(event.kind, event.tags, content, provider.secret);
      expect(failure(() => parseHandler(resigned)).code).toBe('DVM_BAD_CONTENT');
    }
  });
});
