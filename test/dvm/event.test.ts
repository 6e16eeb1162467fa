import { finalizeEvent } from 'nostr-tools/pure';
import { describe, expect, it } from 'vitest';
import { MAX_EVENT_BYTES, signEvent } from '../../node/dvm/event.js';
import { parseJobFeedback } from '../../node/dvm/feedback.js';
import { parseHandler } from '../../node/dvm/handler.js';
import { parseJobRequest } from '../../node/dvm/request.js';
import { parseJobResult } from '../../node/dvm/result.js';
import { customer, errorOf, failure, requestEvent, stranger } from './fixtures.js';

const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

describe('signed event checks', () => {
  const event = requestEvent();

  it('accepts the untouched event', () => {
    expect(parseJobRequest(copy(event)).id).toBe(event.id);
  });

  it('rejects tampered content with DVM_BAD_EVENT', () => {
    expect(failure(() => parseJobRequest({ ...copy(event), content: 'x' })).code).toBe(
      'DVM_BAD_EVENT',
    );
  });

  it('rejects a tampered tag with DVM_BAD_EVENT', () => {
    const tampered = copy(event);
    tampered.tags = tampered.tags.map((t) => (t[0] === 'bid' ? ['bid', '1'] : t));
    expect(failure(() => parseJobRequest(tampered)).code).toBe('DVM_BAD_EVENT');
  });

  it('rejects a signature by another key with DVM_BAD_EVENT', () => {
    const other = signEvent(
      event.kind,
      event.tags,
      event.content,
      stranger.secret,
      event.created_at,
    );
    const forged = { ...copy(event), sig: other.sig };
    const error = errorOf(() => parseJobRequest(forged));
    expect(error.code).toBe('DVM_BAD_EVENT');
    expect(error.message).toMatch(/signature/);
  });

  it('rejects a recomputed id without a new signature with DVM_BAD_EVENT', () => {
    const resigned = signEvent(
      event.kind,
      event.tags,
      'changed',
      customer.secret,
      event.created_at,
    );
    expect(
      failure(() => parseJobRequest({ ...copy(event), id: resigned.id, content: 'changed' })).code,
    ).toBe('DVM_BAD_EVENT');
  });

  it('does not trust the verdict nostr-tools caches on a finalized object', () => {
    // finalizeEvent marks its result as verified; mutating it afterwards must still be caught.
    const finalized = finalizeEvent(
      { kind: event.kind, tags: copy(event.tags), content: '', created_at: event.created_at },
      customer.secret,
    );
    finalized.tags = finalized.tags.map((t) => (t[0] === 'bid' ? ['bid', '1'] : t));
    expect(failure(() => parseJobRequest(finalized)).code).toBe('DVM_BAD_EVENT');
  });

  it('rejects values that are not events with DVM_BAD_EVENT', () => {
    for (const value of [
      null,
      'event',
      42,
      {},
      { ...copy(event), tags: [[1]] },
      { ...copy(event), pubkey: 'xy' },
    ]) {
      expect(failure(() => parseJobRequest(value)).code).toBe('DVM_BAD_EVENT');
    }
  });

  it('rejects another kind with DVM_WRONG_KIND, whichever parser is used', () => {
    const note = signEvent(1, [], 'hello', customer.secret);
    for (const parse of [parseJobRequest, parseJobResult, parseJobFeedback, parseHandler]) {
      const error = errorOf(() => parse(note));
      expect(error.code).toBe('DVM_WRONG_KIND');
      expect(error.message).toMatch(/expected a .*kind \d+/);
    }
    expect(failure(() => parseJobResult(event)).code).toBe('DVM_WRONG_KIND');
  });

  it('rejects an event over the size limit with DVM_CONTENT_TOO_LARGE', () => {
    const big = signEvent(event.kind, event.tags, 'x'.repeat(MAX_EVENT_BYTES), customer.secret);
    expect(failure(() => parseJobRequest(big)).code).toBe('DVM_CONTENT_TOO_LARGE');
  });
});
