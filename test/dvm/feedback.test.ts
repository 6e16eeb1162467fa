import { describe, expect, it } from 'vitest';
import type { Tag } from '../../node/dvm/event.js';
import {
  buildJobFeedback,
  type JobFeedbackInput,
  parseJobFeedback,
} from '../../node/dvm/feedback.js';
import {
  addTag,
  customer,
  dropTag,
  errorOf,
  failure,
  provider,
  setTag,
  withTags,
} from './fixtures.js';

const requestId = 'ab'.repeat(32);

const feedbackInput = (overrides: Partial<JobFeedbackInput> = {}): JobFeedbackInput => ({
  requestId,
  relayHint: 'wss://relay.example.com',
  customer: customer.pubkey,
  status: 'payment-required',
  info: 'pay to start proving',
  amount: { msats: 50_000n, bolt11: 'lnbc500n1pexample' },
  createdAt: 1_700_000_050,
  ...overrides,
});

describe('job feedback (kind 7000)', () => {
  it('round-trips every field', () => {
    const event = buildJobFeedback(feedbackInput(), provider.secret);
    expect(event.tags).toEqual([
      ['status', 'payment-required', 'pay to start proving'],
      ['e', requestId, 'wss://relay.example.com'],
      ['p', customer.pubkey],
      ['amount', '50000', 'lnbc500n1pexample'],
    ]);
    const { createdAt, ...fields } = feedbackInput();
    expect(parseJobFeedback(event)).toMatchObject({
      ...fields,
      id: event.id,
      pubkey: provider.pubkey,
      createdAt,
      content: '',
    });
  });

  it.each(['processing', 'success', 'partial'] as const)(
    'status %s needs neither info nor amount',
    (status) => {
      const parsed = parseJobFeedback(
        buildJobFeedback(
          feedbackInput({
            status,
            info: undefined,
            amount: undefined,
            relayHint: undefined,
            content: status === 'partial' ? '[{"n":"1"}]' : '',
          }),
          provider.secret,
        ),
      );
      expect(parsed).toMatchObject({
        status,
        info: undefined,
        amount: undefined,
        relayHint: undefined,
      });
    },
  );

  it('an error carries its human reason', () => {
    const parsed = parseJobFeedback(
      buildJobFeedback(
        feedbackInput({
          status: 'error',
          info: 'max-proving-time 5 s is below our 40 s',
          amount: undefined,
        }),
        provider.secret,
      ),
    );
    expect(parsed.info).toBe('max-proving-time 5 s is below our 40 s');
    const error = errorOf(() =>
      buildJobFeedback(feedbackInput({ status: 'error', info: undefined }), provider.secret),
    );
    expect(error).toMatchObject({ code: 'DVM_BAD_TAG', details: { tag: 'status' } });
    expect(error.message).toMatch(/reason/);
  });

  it('payment-required needs an amount', () => {
    expect(
      failure(() => buildJobFeedback(feedbackInput({ amount: undefined }), provider.secret)),
    ).toEqual({
      code: 'DVM_MISSING_TAG',
      tag: 'amount',
    });
  });

  describe('rejects bad or missing tags, naming them', () => {
    const event = buildJobFeedback(feedbackInput(), provider.secret);
    const cases: [string, string, (tags: Tag[]) => Tag[]][] = [
      ['DVM_MISSING_TAG', 'status', dropTag('status')],
      ['DVM_MISSING_TAG', 'e', dropTag('e')],
      ['DVM_MISSING_TAG', 'p', dropTag('p')],
      ['DVM_BAD_TAG', 'status', setTag('status', 'done')],
      ['DVM_BAD_TAG', 'status', addTag('status', 'processing')],
      ['DVM_BAD_TAG', 'e', setTag('e', 'nope')],
      ['DVM_BAD_TAG', 'e', setTag('e', requestId, 'https://not-a-relay')],
      ['DVM_BAD_TAG', 'p', setTag('p', 'AB'.repeat(32))],
      ['DVM_BAD_TAG', 'amount', setTag('amount', '')],
    ];
    it.each(cases)('%s %s', (code, tag, edit) => {
      expect(failure(() => parseJobFeedback(withTags(event, provider.secret, edit)))).toEqual({
        code,
        tag,
      });
    });
  });
});
