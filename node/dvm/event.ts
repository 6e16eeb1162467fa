import type { NostrEvent } from 'nostr-tools/core';
import { finalizeEvent, validateEvent, verifyEvent } from 'nostr-tools/pure';
import { DVM_ERRORS, dvmError } from './errors.js';

export type { NostrEvent };
export type Tag = string[];

/** The market's kinds: NIP-90 request/result/feedback and the NIP-89 handler announcement. */
export const KIND_JOB_REQUEST = 5900;
export const KIND_JOB_RESULT = 6900;
export const KIND_JOB_FEEDBACK = 7000;
export const KIND_HANDLER = 31990;

const KIND_NAMES: Record<number, string> = {
  [KIND_JOB_REQUEST]: 'job request (kind 5900)',
  [KIND_JOB_RESULT]: 'job result (kind 6900)',
  [KIND_JOB_FEEDBACK]: 'job feedback (kind 7000)',
  [KIND_HANDLER]: 'handler announcement (kind 31990)',
};

export const kindName = (kind: number): string => KIND_NAMES[kind] ?? `kind ${kind}`;

/**
 * Largest event accepted or built, as JSON bytes. The relay takes websocket messages up to 1 MiB;
 * 1 KiB is left for the `["EVENT", "<subscription id>", ...]` frame around the event.
 */
export const MAX_EVENT_BYTES = 1024 * 1024 - 1024;

/** Fields every parsed DVM event carries. */
export interface ParsedEventBase {
  /** The signed event as received (use it to reference, re-publish or embed it). */
  event: NostrEvent;
  id: string;
  /** Author: the customer of a request, the provider of a result, feedback or handler. */
  pubkey: string;
  createdAt: number;
}

/** The NIP-01 fields alone: nostr-tools caches a verdict on the event object, never trust it. */
function plainEvent(event: NostrEvent): NostrEvent {
  const { id, pubkey, created_at, kind, tags, content, sig } = event;
  return { id, pubkey, created_at, kind, tags, content, sig };
}

/** Signs a template with nostr-tools; the result has a plain shape (no cached verdict). */
export function signEvent(
  kind: number,
  tags: Tag[],
  content: string,
  secretKey: Uint8Array,
  createdAt: number = Math.floor(Date.now() / 1000),
): NostrEvent {
  return plainEvent(finalizeEvent({ kind, tags, content, created_at: createdAt }, secretKey));
}

export function eventBytes(event: unknown): number {
  return Buffer.byteLength(JSON.stringify(event), 'utf8');
}

/**
 * Checks shape, size, id and signature (nostr-tools `verifyEvent`), then the kind. Returns a
 * plain copy of the event, so later mutation of the caller's object cannot change what was
 * checked.
 */
export function checkSignedEvent(value: unknown, kind: number): NostrEvent {
  const what = kindName(kind);
  if (!validateEvent(value) || typeof (value as NostrEvent).id !== 'string') {
    throw dvmError(
      DVM_ERRORS.badEvent,
      `${what}: not a NIP-01 event; it needs id, pubkey (64 hex), created_at, kind, tags (arrays of strings), content and sig`,
    );
  }
  const event = plainEvent(value as NostrEvent);
  if (typeof event.sig !== 'string' || !Number.isSafeInteger(event.created_at)) {
    throw dvmError(
      DVM_ERRORS.badEvent,
      `${what}: sig must be a hex string and created_at a whole number of seconds`,
      { eventId: event.id },
    );
  }
  const bytes = eventBytes(event);
  if (bytes > MAX_EVENT_BYTES) {
    throw dvmError(
      DVM_ERRORS.contentTooLarge,
      `${what}: the event is ${bytes} bytes, more than ${MAX_EVENT_BYTES}; move large inputs behind a url input and large proofs behind a proof-ref tag`,
      { eventId: event.id, bytes, limit: MAX_EVENT_BYTES },
    );
  }
  if (!verifyEvent(event)) {
    throw dvmError(
      DVM_ERRORS.badEvent,
      `${what} ${event.id}: the id or the signature does not match the event; it was altered after signing or signed with another key. Re-sign it with finalizeEvent`,
      { eventId: event.id },
    );
  }
  if (event.kind !== kind) {
    throw dvmError(
      DVM_ERRORS.wrongKind,
      `expected a ${what}, got ${kindName(event.kind)} (event ${event.id})`,
      { eventId: event.id, expected: kind, actual: event.kind },
    );
  }
  return event;
}

export function baseOf(event: NostrEvent): ParsedEventBase {
  return { event, id: event.id, pubkey: event.pubkey, createdAt: event.created_at };
}
