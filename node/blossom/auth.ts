import { finalizeEvent, verifyEvent } from 'nostr-tools/pure';
import { finalizeEvent as finalizeEventWasm } from 'nostr-tools/wasm';
import type { NostrEvent } from '../dvm/event.js';
import { loadSignatureVerifier } from '../relay/event.js';

/** Kind of a Blossom authorization event (BUD-01, BUD-02). */
export const KIND_BLOSSOM_AUTH = 24242;
export type BlossomVerb = 'get' | 'upload' | 'list' | 'delete';

/** Largest `Authorization` header accepted (a signed event with a few tags is well under 2 KB). */
export const MAX_AUTH_HEADER = 8192;

export interface AuthOptions {
  /** The blob the action is for (`x` tag); required by upload and delete. */
  sha256?: string | undefined;
  /** Seconds until the authorization expires (default 300). */
  expiresInSec?: number | undefined;
  /** Unix seconds to sign at (default now). */
  createdAt?: number | undefined;
  content?: string | undefined;
}

/** Signs a kind 24242 event and returns the header value `Nostr <base64 event>`. */
export function blossomAuthHeader(
  secretKey: Uint8Array,
  verb: BlossomVerb,
  options: AuthOptions = {},
  sign: typeof finalizeEvent = finalizeEvent,
): string {
  const now = options.createdAt ?? Math.floor(Date.now() / 1000);
  const tags = [
    ['t', verb],
    ['expiration', String(now + (options.expiresInSec ?? 300))],
  ];
  if (options.sha256 !== undefined) tags.push(['x', options.sha256]);
  const event = sign(
    {
      kind: KIND_BLOSSOM_AUTH,
      created_at: now,
      tags,
      content: options.content ?? `${verb} blob`,
    },
    secretKey,
  );
  return `Nostr ${Buffer.from(JSON.stringify(event)).toString('base64')}`;
}

export type BlossomSigner = (
  secretKey: Uint8Array,
  verb: BlossomVerb,
  options?: AuthOptions,
) => string;

/**
 * blossomAuthHeader signing with libsecp256k1 in wasm when it loads (the pure-JS Schnorr signer
 * costs several ms per upload), else the pure-JS one. Same events either way (BIP-340).
 */
export async function loadBlossomSigner(): Promise<BlossomSigner> {
  const { backend } = await loadSignatureVerifier();
  const sign = backend === 'wasm' ? finalizeEventWasm : finalizeEvent;
  return (secretKey, verb, options) => blossomAuthHeader(secretKey, verb, options, sign);
}

/** Why an authorization was refused; the server answers 401 with it as `X-Reason`. */
export class AuthError extends Error {
  override readonly name = 'AuthError';
}

/**
 * Checks an `Authorization: Nostr <base64>` header for `verb` (and blob `sha256` when given):
 * kind 24242, a valid signature, created_at not in the future (60 s of clock skew), an
 * `expiration` tag in the future, a `t` tag equal to the verb, and an `x` tag naming the blob.
 * Returns the signer's pubkey; throws AuthError with a reason a client can show.
 */
export function checkBlossomAuth(
  header: string | undefined,
  verb: BlossomVerb,
  sha256?: string,
  options: { nowSec?: number; verify?: (event: NostrEvent) => boolean } = {},
): string {
  return readBlossomAuth(header, verb, sha256, options).pubkey;
}

/** checkBlossomAuth, returning the checked event too (for `authorizesBlob` later). */
export function readBlossomAuth(
  header: string | undefined,
  verb: BlossomVerb,
  sha256?: string,
  options: { nowSec?: number; verify?: (event: NostrEvent) => boolean } = {},
): { pubkey: string; event: NostrEvent } {
  const nowSec = options.nowSec ?? Math.floor(Date.now() / 1000);
  const verify = options.verify ?? verifyEvent;
  if (header === undefined || header === '')
    throw new AuthError(`missing Authorization header: sign a kind 24242 event with t=${verb}`);
  if (header.length > MAX_AUTH_HEADER) throw new AuthError('Authorization header too large');
  const match = /^Nostr\s+([A-Za-z0-9+/=_-]+)$/.exec(header.trim());
  if (match === null) throw new AuthError('Authorization must be "Nostr <base64 event>"');
  let event: NostrEvent;
  try {
    event = JSON.parse(Buffer.from(match[1] as string, 'base64').toString('utf8')) as NostrEvent;
  } catch {
    throw new AuthError('Authorization event is not base64 JSON');
  }
  if (event === null || typeof event !== 'object' || !Array.isArray(event.tags))
    throw new AuthError('Authorization event is not a Nostr event');
  if (event.kind !== KIND_BLOSSOM_AUTH)
    throw new AuthError(`Authorization event must be kind ${KIND_BLOSSOM_AUTH}`);
  let valid = false;
  try {
    valid = verify(event);
  } catch {
    valid = false;
  }
  if (!valid) throw new AuthError('Authorization event has an invalid id or signature');
  if (typeof event.created_at !== 'number' || event.created_at > nowSec + 60)
    throw new AuthError('Authorization event created_at is in the future');
  const tag = (name: string) =>
    event.tags.filter((t) => t[0] === name).map((t) => t[1] as string | undefined);
  const [expiration] = tag('expiration');
  if (expiration === undefined || !/^\d+$/.test(expiration))
    throw new AuthError('Authorization event needs an expiration tag');
  if (Number(expiration) <= nowSec) throw new AuthError('Authorization event has expired');
  if (!tag('t').includes(verb))
    throw new AuthError(`Authorization event is not for "${verb}" (t tag)`);
  if (sha256 !== undefined && !authorizesBlob(event, sha256))
    throw new AuthError(`Authorization event does not name blob ${sha256} (x tag)`);
  return { pubkey: event.pubkey, event };
}

/** Whether a (checked) authorization event names this blob in an `x` tag. */
export const authorizesBlob = (event: NostrEvent, sha256: string): boolean =>
  event.tags.some((t) => t[0] === 'x' && t[1] === sha256);
