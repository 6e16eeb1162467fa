import { describe, expect, it } from 'vitest';
import type { Tag } from '../../node/dvm/event.js';
import {
  buildJobRequest,
  DEFAULT_MAX_PROVING_TIME_SEC,
  jobBodyOf,
  parseJobRequest,
  requirementsOf,
} from '../../node/dvm/request.js';
import {
  addTag,
  customer,
  dataText,
  dropTag,
  errorOf,
  failure,
  planText,
  provider,
  requestEvent,
  requestInput,
  setTag,
  withTags,
} from './fixtures.js';

describe('job request (kind 5900)', () => {
  it('round-trips every field', () => {
    const input = requestInput();
    const event = buildJobRequest(input, customer.secret);
    const parsed = parseJobRequest(event);
    expect(parsed).toMatchObject({
      id: event.id,
      pubkey: customer.pubkey,
      createdAt: 1_700_000_000,
      backend: 'miden',
      minProgramVersion: '1.0.0',
      maxProvingTimeSec: 120,
      bidMsats: 21_000n,
      output: 'application/json',
      relays: ['wss://relay.example.com'],
      providers: [provider.pubkey],
      encrypted: false,
    });
    expect(parsed.body).toEqual({
      plan: { type: 'text', text: planText, planHash: undefined },
      inputs: [{ data: dataText, type: 'text', relay: undefined, marker: 'data' }],
      params: [{ name: 'note', value: 'median price run' }],
    });
    expect(jobBodyOf(parsed)).toBe(parsed.body);
  });

  it('writes the NIP-90 and ZK tags in the documented layout', () => {
    const event = requestEvent();
    expect(event.kind).toBe(5900);
    expect(event.content).toBe('');
    expect(event.tags).toEqual([
      ['verification', 'zk'],
      ['zkvm', 'miden'],
      ['min-program-version', '1.0.0'],
      ['max-proving-time', '120'],
      ['bid', '21000'],
      ['output', 'application/json'],
      ['relays', 'wss://relay.example.com'],
      ['p', provider.pubkey],
      ['i', planText, 'text', '', 'plan'],
      ['i', dataText, 'text', '', 'data'],
      ['param', 'note', 'median price run'],
    ]);
  });

  it('sends a plan by reference with its plan-hash param', () => {
    const planHash = `sha256:${'aa'.repeat(32)}`;
    const event = requestEvent({
      body: {
        plan: { type: 'url', url: 'https://plans.example.com/p.yaml', planHash },
        inputs: [],
        params: [],
      },
    });
    expect(event.tags).toContainEqual(['i', 'https://plans.example.com/p.yaml', 'url', '', 'plan']);
    expect(event.tags).toContainEqual(['param', 'plan-hash', planHash]);
    expect(parseJobRequest(event).body?.plan).toEqual({
      type: 'url',
      url: 'https://plans.example.com/p.yaml',
      planHash,
    });
    const noHash = withTags(event, customer.secret, (tags) =>
      tags.filter((t) => t[1] !== 'plan-hash'),
    );
    expect(failure(() => parseJobRequest(noHash))).toEqual({
      code: 'DVM_MISSING_TAG',
      tag: 'param',
    });
    const badHash = withTags(event, customer.secret, (tags) =>
      tags.map((t) => (t[1] === 'plan-hash' ? ['param', 'plan-hash', 'md5:00'] : t)),
    );
    expect(failure(() => parseJobRequest(badHash))).toEqual({ code: 'DVM_BAD_TAG', tag: 'param' });
  });

  it('omits optional tags and reads them back as absent', () => {
    const parsed = parseJobRequest(
      requestEvent({
        minProgramVersion: undefined,
        maxProvingTimeSec: undefined,
        output: undefined,
        relays: [],
        providers: [],
      }),
    );
    expect(parsed).toMatchObject({ relays: [], providers: [] });
    expect(parsed.minProgramVersion).toBeUndefined();
    expect(parsed.maxProvingTimeSec).toBeUndefined();
    expect(parsed.output).toBeUndefined();
  });

  it('requirementsOf gives the ZK requirements, with the default proving time', () => {
    const event = requestEvent({ backend: 'any', maxProvingTimeSec: undefined });
    const expected = {
      verification: 'zk',
      backend: 'any',
      minProgramVersion: '1.0.0',
      maxProvingTimeSec: DEFAULT_MAX_PROVING_TIME_SEC,
      bidMsats: 21_000n,
    };
    expect(requirementsOf(event)).toEqual(expected);
    expect(requirementsOf(parseJobRequest(event))).toEqual(expected);
    expect(requirementsOf(requestEvent()).maxProvingTimeSec).toBe(120);
  });

  describe('rejects each missing required tag with DVM_MISSING_TAG naming it', () => {
    const event = requestEvent();
    it.each(['verification', 'zkvm', 'bid'])('%s', (name) => {
      const error = errorOf(() => parseJobRequest(withTags(event, customer.secret, dropTag(name))));
      expect(error.code).toBe('DVM_MISSING_TAG');
      expect(error.details?.tag).toBe(name);
      expect(error.message).toContain(`add ["${name}"`);
    });
    it('the plan input', () => {
      const noPlan = withTags(event, customer.secret, (tags) =>
        tags.filter((t) => t[4] !== 'plan'),
      );
      const error = errorOf(() => parseJobRequest(noPlan));
      expect(error).toMatchObject({ code: 'DVM_MISSING_TAG', details: { tag: 'i' } });
      expect(error.message).toContain('marker "plan"');
    });
  });

  describe('rejects each bad tag with DVM_BAD_TAG naming it', () => {
    const event = requestEvent();
    const plan = (edit: (t: Tag) => Tag) => (tags: Tag[]) =>
      tags.map((t) => (t[4] === 'plan' ? edit(t) : t));
    const cases: [string, string, (tags: Tag[]) => Tag[]][] = [
      ['verification', 'not zk', setTag('verification', 'hash')],
      ['verification', 'repeated', addTag('verification', 'zk')],
      ['zkvm', 'unknown backend', setTag('zkvm', 'jolt')],
      ['zkvm', 'empty', setTag('zkvm')],
      ['min-program-version', 'not semver', setTag('min-program-version', '1.0')],
      ['max-proving-time', 'zero', setTag('max-proving-time', '0')],
      ['max-proving-time', 'fraction', setTag('max-proving-time', '1.5')],
      ['bid', 'negative', setTag('bid', '-5')],
      ['bid', 'leading zero', setTag('bid', '021000')],
      ['bid', 'over 64 bits', setTag('bid', '18446744073709551616')],
      ['bid', 'repeated', addTag('bid', '1')],
      ['output', 'not a MIME type', setTag('output', 'json')],
      ['relays', 'not a websocket URL', setTag('relays', 'https://relay.example.com')],
      ['relays', 'empty list', setTag('relays')],
      ['p', 'not hex', setTag('p', 'npub1xyz')],
      ['i', 'unknown input type', plan((t) => ['i', t[1] ?? '', 'blob', '', 'plan'])],
      ['i', 'plan of type event', plan(() => ['i', 'ab'.repeat(32), 'event', '', 'plan'])],
      ['i', 'bad relay hint', plan((t) => ['i', t[1] ?? '', 'text', 'http://x', 'plan'])],
      ['i', 'two plans', (tags) => [...tags, ['i', 'x: 1', 'text', '', 'plan']]],
      ['i', 'event input that is no id', addTag('i', 'not-an-id', 'event')],
      ['param', 'param without a name', addTag('param', '', 'v')],
    ];
    it.each(cases)('%s: %s', (name, _why, edit) => {
      const error = errorOf(() => parseJobRequest(withTags(event, customer.secret, edit)));
      expect(error.code).toBe('DVM_BAD_TAG');
      expect(error.details?.tag).toBe(name);
      expect(error.message).toContain(`tag "${name}"`);
    });
  });

  it('a bad value message says what a good one looks like', () => {
    const event = withTags(requestEvent(), customer.secret, setTag('bid', '12.5'));
    expect(errorOf(() => parseJobRequest(event)).message).toMatch(
      /tag "bid" must be a whole number of millisats such as "21000", got "12.5"/,
    );
  });

  describe('NIP-90 example tags (fixtures from the NIP text)', () => {
    // The job request template of NIP-90, "Job request (kind:5000-5999)".
    const nipTags: Tag[] = [
      ['i', 'https://example.com/input.mp3', 'url', 'wss://relay.example.com', 'audio'],
      ['output', 'text/plain'],
      ['relays', 'wss://relay.example.com'],
      ['bid', '5000'],
      ['t', 'bitcoin'],
    ];
    const withZk: Tag[] = [
      ['verification', 'zk'],
      ['zkvm', 'any'],
      ['i', planText, 'text', '', 'plan'],
      ...nipTags,
    ];

    it('a plain NIP-90 request is refused for lacking the ZK verification tag', () => {
      const event = withTags(requestEvent(), customer.secret, () => nipTags);
      expect(failure(() => parseJobRequest(event))).toEqual({
        code: 'DVM_MISSING_TAG',
        tag: 'verification',
      });
    });

    it('with the ZK tags and a plan, its inputs, output, relays and bid are read as NIP-90 says', () => {
      const parsed = parseJobRequest(withTags(requestEvent(), customer.secret, () => withZk));
      expect(parsed).toMatchObject({ backend: 'any', bidMsats: 5000n, output: 'text/plain' });
      expect(parsed.relays).toEqual(['wss://relay.example.com']);
      expect(parsed.body?.inputs).toEqual([
        {
          data: 'https://example.com/input.mp3',
          type: 'url',
          relay: 'wss://relay.example.com',
          marker: 'audio',
        },
      ]);
    });
  });
});
