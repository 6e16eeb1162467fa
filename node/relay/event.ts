import { createHash } from 'node:crypto';
import type { NostrEvent } from 'nostr-tools/core';
import { verifyEvent as verifyEventJs } from 'nostr-tools/pure';
import { setNostrWasm, verifyEvent as verifyEventWasm } from 'nostr-tools/wasm';
import { initNostrWasm } from 'nostr-wasm';
import type { RelayLimits } from './limits.js';

export type { NostrEvent };

/** How NIP-01 stores a kind: every event, the latest per key, or never. */
export type KindClass = 'regular' | 'replaceable' | 'ephemeral' | 'addressable';

export function kindClass(kind: number): KindClass {
  if (kind === 0 || kind === 3 || (kind >= 10000 && kind < 20000)) return 'replaceable';
  if (kind >= 20000 && kind < 30000) return 'ephemeral';
  if (kind >= 30000 && kind < 40000) return 'addressable';
  return 'regular';
}

/** The `d` tag value that keys an addressable event ('' when it has none). */
export function dTagOf(event: NostrEvent): string {
  const tag = event.tags.find((t) => t[0] === 'd');
  return tag?.[1] ?? '';
}

/**
 * NIP-01 ordering of competing versions: the later created_at wins, and on equal created_at the
 * lowest id. Negative when `a` wins.
 */
export function compareVersions(
  a: { created_at: number; id: string },
  b: { created_at: number; id: string },
): number {
  if (a.created_at !== b.created_at) return b.created_at - a.created_at;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

const HEX64 = /^[0-9a-f]{64}$/;
const HEX128 = /^[0-9a-f]{128}$/;

export const isHex64 = (value: unknown): value is string =>
  typeof value === 'string' && HEX64.test(value);

/** Verifies a BIP-340 signature over the event id (and the id itself), synchronously. */
export interface SignatureVerifier {
  backend: 'wasm' | 'js';
  verify(event: NostrEvent): boolean;
}

let verifier: Promise<SignatureVerifier> | undefined;

/**
 * nostr-tools' verifyEvent on libsecp256k1 compiled to wasm (about 5x faster than the pure-JS
 * curve code, which alone would cap the relay below 1,000 events/s on one core). Falls back to
 * the pure-JS verifyEvent if the wasm module cannot be instantiated.
 */
export function loadSignatureVerifier(): Promise<SignatureVerifier> {
  verifier ??= initNostrWasm().then(
    (wasm): SignatureVerifier => {
      setNostrWasm(wasm);
      return { backend: 'wasm', verify: (event) => verifyEventWasm(event) };
    },
    (): SignatureVerifier => ({ backend: 'js', verify: (event) => verifyEventJs(event) }),
  );
  return verifier;
}

/** NIP-01 event id: sha256 of the JSON array [0, pubkey, created_at, kind, tags, content]. */
export function eventId(event: Omit<NostrEvent, 'id' | 'sig'>): string {
  return createHash('sha256')
    .update(
      JSON.stringify([0, event.pubkey, event.created_at, event.kind, event.tags, event.content]),
    )
    .digest('hex');
}

export type EventCheck =
  | { ok: true; event: NostrEvent; json: string }
  | { ok: false; id: string | undefined; reason: string };

/**
 * Checks an untrusted EVENT payload: shape, limits and id; the signature is checked after this
 * (see verify-pool.ts). On success returns the event with only the NIP-01 fields and its JSON
 * text, which is what is stored and sent.
 */
export function checkEvent(
  value: unknown,
  limits: RelayLimits,
  nowSeconds = Math.floor(Date.now() / 1000),
): EventCheck {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return { ok: false, id: undefined, reason: 'invalid: the event must be a JSON object' };
  const raw = value as Record<string, unknown>;
  const id = isHex64(raw.id) ? raw.id : undefined;
  const fail = (reason: string): EventCheck => ({ ok: false, id, reason: `invalid: ${reason}` });
  if (id === undefined) return fail('id must be 64 lowercase hex characters');
  if (!isHex64(raw.pubkey)) return fail('pubkey must be 64 lowercase hex characters');
  if (typeof raw.sig !== 'string' || !HEX128.test(raw.sig))
    return fail('sig must be 128 lowercase hex characters');
  if (!Number.isInteger(raw.kind) || (raw.kind as number) < 0 || (raw.kind as number) > 65535)
    return fail('kind must be an integer from 0 to 65535');
  if (!Number.isSafeInteger(raw.created_at) || (raw.created_at as number) < 0)
    return fail('created_at must be a non-negative integer (unix seconds)');
  if (typeof raw.content !== 'string') return fail('content must be a string');
  if (!Array.isArray(raw.tags)) return fail('tags must be an array');
  for (const tag of raw.tags) {
    if (!Array.isArray(tag) || tag.some((item) => typeof item !== 'string'))
      return fail('every tag must be an array of strings');
  }
  if (raw.tags.length > limits.maxEventTags)
    return fail(`${raw.tags.length} tags, the limit is ${limits.maxEventTags}`);
  if (raw.content.length > limits.maxContentLength)
    return fail(
      `content is ${raw.content.length} characters, the limit is ${limits.maxContentLength}`,
    );
  if ((raw.created_at as number) > nowSeconds + limits.createdAtUpperLimit)
    return fail(
      `created_at is more than ${limits.createdAtUpperLimit} s in the future of the relay's clock`,
    );
  const event: NostrEvent = {
    id,
    pubkey: raw.pubkey,
    created_at: raw.created_at as number,
    kind: raw.kind as number,
    tags: raw.tags as string[][],
    content: raw.content,
    sig: raw.sig,
  };
  if (eventId(event) !== id) return fail('event id does not match the sha256 of its content');
  return { ok: true, event, json: JSON.stringify(event) };
}
