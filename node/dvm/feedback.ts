import type { z } from 'zod';
import {
  baseOf,
  checkSignedEvent,
  KIND_JOB_FEEDBACK,
  type NostrEvent,
  type ParsedEventBase,
  signEvent,
  type Tag,
} from './event.js';
import { type Amount, amountTag, eTag, Hex64, oneOf, TagReader } from './tags.js';

/** NIP-90 Appendix 1 job feedback statuses. */
export const FeedbackStatus = oneOf([
  'payment-required',
  'processing',
  'error',
  'success',
  'partial',
]);
export type FeedbackStatus = z.infer<typeof FeedbackStatus>;

export interface JobFeedbackFields {
  requestId: string;
  relayHint?: string | undefined;
  /** The customer (author of the job request). */
  customer: string;
  status: FeedbackStatus;
  /** Human-readable extra info; required for `error` (the reason). */
  info?: string | undefined;
  /** Required with `payment-required`. */
  amount?: Amount | undefined;
  /** Empty, or a partial result. */
  content: string;
}

export type JobFeedback = ParsedEventBase & JobFeedbackFields;

export interface JobFeedbackInput extends Omit<JobFeedbackFields, 'content'> {
  content?: string | undefined;
  createdAt?: number | undefined;
}

const EX = {
  status: '["status", "payment-required|processing|error|success|partial", "<extra info>"]',
  p: '["p", "<customer pubkey>"]',
  amount: '["amount", "<millisats>", "<optional bolt11>"]',
};

/** Builds and signs a kind 7000 feedback; the result always passes parseJobFeedback. */
export function buildJobFeedback(
  input: JobFeedbackInput,
  providerSecretKey: Uint8Array,
): NostrEvent {
  const status: Tag = ['status', input.status];
  if (input.info !== undefined) status.push(input.info);
  const tags: Tag[] = [status, eTag(input.requestId, input.relayHint), ['p', input.customer]];
  if (input.amount !== undefined) tags.push(amountTag(input.amount));
  const event = signEvent(
    KIND_JOB_FEEDBACK,
    tags,
    input.content ?? '',
    providerSecretKey,
    input.createdAt,
  );
  parseJobFeedback(event);
  return event;
}

export function parseJobFeedback(value: unknown): JobFeedback {
  const event = checkSignedEvent(value, KIND_JOB_FEEDBACK);
  const r = new TagReader(event);
  const statusTag = r.required('status', EX.status);
  const status = r.field(statusTag, 1, FeedbackStatus);
  const info = statusTag[2] === '' ? undefined : statusTag[2];
  if (status === 'error' && info === undefined) {
    throw r.bad(
      'status',
      'is "error" without a reason; add it as the third value, e.g. ["status", "error", "plan exceeds max cycles"]',
    );
  }
  const { requestId, relayHint } = r.requestRef();
  const customer = r.field(r.required('p', EX.p), 1, Hex64);
  const amount = r.amount();
  if (status === 'payment-required' && amount === undefined) {
    throw r.missing('amount', EX.amount, ' (status payment-required says how much)');
  }
  return {
    ...baseOf(event),
    requestId,
    relayHint,
    customer,
    status,
    info,
    amount,
    content: event.content,
  };
}
