import * as nodeCrypto from 'node:crypto';
import canonicalizeModule from 'canonicalize';
import { M2mError } from '../../zkvm/errors.js';
import type { EncryptedRecipient, PayloadEncrypted, VesEventEnvelope } from './types.js';

/**
 * VES v1 byte formats: encoding primitives (VES-SIG-1 appendix B), the domain separators and the
 * payload and event hashes. Every hash is SHA-256 over `DOMAIN || fields`.
 */

const canonicalize = canonicalizeModule as unknown as (value: unknown) => string | undefined;
const utf8 = new TextEncoder();

/**
 * SHA-256 through node:crypto (OpenSSL): the same digest as @noble/hashes, ~3x cheaper on the
 * short preimages hashed per event. A fresh plain Uint8Array (not a Buffer), as callers expect.
 */
function sha256(data: Uint8Array | string): Uint8Array {
  return new Uint8Array(sha256Native(data));
}

/** node:crypto's one-shot `hash` (Node >= 20.12) skips the Hash object; createHash otherwise. */
export const sha256Native: (data: Uint8Array | string) => Buffer =
  typeof nodeCrypto.hash === 'function'
    ? (data) => nodeCrypto.hash('sha256', data, 'buffer')
    : (data) => nodeCrypto.createHash('sha256').update(data).digest();

export const DOMAIN_EVENTSIG = utf8.encode('VES_EVENTSIG_V1');
export const DOMAIN_PAYLOAD_PLAIN = utf8.encode('VES_PAYLOAD_PLAIN_V1');
export const DOMAIN_PAYLOAD_AAD = utf8.encode('VES_PAYLOAD_AAD_V1');
export const DOMAIN_PAYLOAD_CIPHER = utf8.encode('VES_PAYLOAD_CIPHER_V1');
export const DOMAIN_RECIPIENTS = utf8.encode('VES_RECIPIENTS_V1');
export const DOMAIN_LEAF = utf8.encode('VES_LEAF_V1');
export const DOMAIN_NODE = utf8.encode('VES_NODE_V1');
export const DOMAIN_RECEIPT = utf8.encode('VES_RECEIPT_V1');
/** This project's key-registration proof of possession (not in the VES specs; see README). */
export const DOMAIN_KEYREG = utf8.encode('VES_KEYREG_V1');

export const ZERO_HASH: Uint8Array = new Uint8Array(32);
export const VES_VERSION = 1;

// ---------------------------------------------------------------------------------------------
// Encoding primitives
// ---------------------------------------------------------------------------------------------

const badInput = (message: string, details?: Record<string, unknown>): M2mError =>
  new M2mError('VES_ENCODING_INVALID', message, { details });

export function u32be(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff)
    throw badInput(`u32 out of range: ${n} (expected an integer 0..4294967295)`);
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n, false);
  return out;
}

export function u64be(n: number | bigint): Uint8Array {
  const v = typeof n === 'bigint' ? n : Number.isSafeInteger(n) ? BigInt(n) : -1n;
  if (v < 0n || v > 0xffff_ffff_ffff_ffffn)
    throw badInput(`u64 out of range: ${String(n)} (expected a non-negative integer)`);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v, false);
  return out;
}

/** `U32_BE(len(UTF8(s))) || UTF8(s)`. */
export function encStr(s: string): Uint8Array {
  const bytes = utf8.encode(s);
  return concatBytes(u32be(bytes.length), bytes);
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The 16 bytes of a UUID in network byte order (RFC 4122). */
export function uuidBytes(uuid: string): Uint8Array {
  const lower = uuid.toLowerCase();
  if (!UUID_RE.test(lower)) throw badInput(`not a UUID: "${uuid}"`);
  return hexToBytes(lower.replaceAll('-', ''));
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** `0x` + lowercase hex, the JSON form of hashes and signatures in the VES specs (B.4, B.5). */
export function hex0x(bytes: Uint8Array): string {
  return `0x${bytesToHex(bytes)}`;
}

/** Hex (optionally `0x`-prefixed, any case) to bytes; `expectedLength` in bytes. */
export function hexToBytes(hex: string, expectedLength?: number): Uint8Array {
  const body = hex.startsWith('0x') || hex.startsWith('0X') ? hex.slice(2) : hex;
  if (body.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(body))
    throw badInput(`not hex: "${hex.length > 80 ? `${hex.slice(0, 80)}…` : hex}"`);
  if (expectedLength !== undefined && body.length !== expectedLength * 2)
    throw badInput(`expected ${expectedLength} bytes of hex, got ${body.length / 2}`);
  return new Uint8Array(Buffer.from(body, 'hex'));
}

/** Base64url without padding (RFC 4648 §5), as VES-ENC-1 appendix B. */
export function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

export function fromBase64url(text: string, expectedLength?: number): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1)
    throw badInput('not base64url without padding');
  const bytes = new Uint8Array(Buffer.from(text, 'base64url'));
  if (base64url(bytes) !== text) throw badInput('base64url is not canonical');
  if (expectedLength !== undefined && bytes.length !== expectedLength)
    throw badInput(`expected ${expectedLength} bytes of base64url, got ${bytes.length}`);
  return bytes;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

// ---------------------------------------------------------------------------------------------
// Payload hashes
// ---------------------------------------------------------------------------------------------

/** RFC 8785 (JCS) text of a JSON value. */
export function canonicalJson(value: unknown): string {
  let text: string | undefined;
  try {
    text = canonicalize(value);
  } catch (cause) {
    throw new M2mError(
      'VES_PAYLOAD_NOT_JSON',
      `payload cannot be canonicalized (RFC 8785): ${(cause as Error).message}`,
      { cause },
    );
  }
  if (text === undefined)
    throw new M2mError(
      'VES_PAYLOAD_NOT_JSON',
      'payload is not a JSON value (undefined or a function)',
    );
  return text;
}

/**
 * `SHA256("VES_PAYLOAD_PLAIN_V1" || [salt] || JCS(payload))`. Plaintext events have no salt
 * (VES-SIG-1 §6.1); encrypted events use the 16-byte salt of their plaintext (VES-ENC-1 §7.1).
 */
export function payloadPlainHash(payload: unknown, salt?: Uint8Array): Uint8Array {
  const json = canonicalJson(payload);
  // The domain is ASCII, so prefixing the string is the same bytes as concatenating.
  if (salt === undefined) return sha256(`VES_PAYLOAD_PLAIN_V1${json}`);
  const h = nodeCrypto.createHash('sha256').update(DOMAIN_PAYLOAD_PLAIN).update(salt);
  return new Uint8Array(h.update(json, 'utf8').digest());
}

/** The signed context of an event, as used by the AAD and the signing hash. */
export interface VesEventContext {
  ves_version?: number;
  tenant_id: string;
  store_id: string;
  event_id: string;
  source_agent_id: string;
  agent_key_id: number;
  entity_type: string;
  entity_id: string;
  event_type: string;
  created_at: string;
}

function contextBytes(ctx: VesEventContext): Uint8Array {
  const out = new Uint8Array(contextLength(ctx));
  writeContext(out, 0, ctx);
  return out;
}

const utf8Length = (s: string): number => Buffer.byteLength(s, 'utf8');

/** Byte length of `contextBytes(ctx)`; validates nothing (writeContext does). */
function contextLength(ctx: VesEventContext): number {
  return (
    4 +
    16 * 4 +
    4 +
    16 +
    utf8Length(ctx.entity_type) +
    utf8Length(ctx.entity_id) +
    utf8Length(ctx.event_type) +
    utf8Length(ctx.created_at)
  );
}

/**
 * Writes the context fields into `out` at `offset` in one pass (no intermediate arrays), with
 * the checks and errors of u32be / uuidBytes / encStr; returns the offset after them.
 */
function writeContext(out: Uint8Array, offset: number, ctx: VesEventContext): number {
  const view = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  let at = writeU32(view, offset, ctx.ves_version ?? VES_VERSION);
  at = writeUuid(view, at, ctx.tenant_id);
  at = writeUuid(view, at, ctx.store_id);
  at = writeUuid(view, at, ctx.event_id);
  at = writeUuid(view, at, ctx.source_agent_id);
  at = writeU32(view, at, ctx.agent_key_id);
  at = writeStr(view, at, ctx.entity_type);
  at = writeStr(view, at, ctx.entity_id);
  at = writeStr(view, at, ctx.event_type);
  return writeStr(view, at, ctx.created_at);
}

function writeU32(view: Buffer, at: number, n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff)
    throw badInput(`u32 out of range: ${n} (expected an integer 0..4294967295)`);
  view.writeUInt32BE(n, at);
  return at + 4;
}

function writeUuid(view: Buffer, at: number, uuid: string): number {
  writeUuidBytes(view, at, uuid);
  return at + 16;
}

const HEX_DIGIT = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX_DIGIT['0123456789abcdef'.charCodeAt(i)] = i;
  HEX_DIGIT['0123456789ABCDEF'.charCodeAt(i)] = i;
}
/** Where each byte's two hex digits start in `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`. */
const UUID_PAIRS = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

/** `uuidBytes(uuid)` written into `out` at `offset` (same check, same error), no allocation. */
export function writeUuidBytes(out: Uint8Array, offset: number, uuid: string): void {
  if (!UUID_RE.test(uuid.toLowerCase())) throw badInput(`not a UUID: "${uuid}"`);
  for (let k = 0; k < 16; k++) {
    const p = UUID_PAIRS[k] as number;
    out[offset + k] =
      ((HEX_DIGIT[uuid.charCodeAt(p)] as number) << 4) |
      (HEX_DIGIT[uuid.charCodeAt(p + 1)] as number);
  }
}

function writeStr(view: Buffer, at: number, s: string): number {
  const written = view.write(s, at + 4, 'utf8');
  view.writeUInt32BE(written, at);
  return at + 4 + written;
}

/** VES-ENC-1 §7.3: binds a ciphertext to its event. */
export function payloadAad(ctx: VesEventContext, plainHash: Uint8Array): Uint8Array {
  return sha256(concatBytes(DOMAIN_PAYLOAD_AAD, contextBytes(ctx), plainHash));
}

export interface RecipientBytes {
  kid: number;
  enc: Uint8Array;
  ct: Uint8Array;
}

/** VES-ENC-1 §7.4 over recipients sorted by kid (the caller's order is kept; sort first). */
export function recipientsHash(recipients: readonly RecipientBytes[]): Uint8Array {
  const parts: Uint8Array[] = [DOMAIN_RECIPIENTS];
  for (const r of recipients)
    parts.push(u32be(r.kid), u32be(r.enc.length), r.enc, u32be(r.ct.length), r.ct);
  return sha256(concatBytes(...parts));
}

export interface CipherParts {
  nonce: Uint8Array;
  aad: Uint8Array;
  ciphertext: Uint8Array;
  tag: Uint8Array;
  recipientsHash: Uint8Array;
  encVersion?: number;
}

/** VES-ENC-1 §7.2. */
export function payloadCipherHash(parts: CipherParts): Uint8Array {
  return sha256(
    concatBytes(
      DOMAIN_PAYLOAD_CIPHER,
      u32be(parts.encVersion ?? 1),
      parts.nonce,
      parts.aad,
      u32be(parts.ciphertext.length),
      parts.ciphertext,
      parts.tag,
      parts.recipientsHash,
    ),
  );
}

export function recipientBytesOf(r: EncryptedRecipient): RecipientBytes {
  return {
    kid: r.recipient_kid,
    enc: fromBase64url(r.enc_b64u, 32),
    ct: fromBase64url(r.ct_b64u, 48),
  };
}

/** The cipher hash of an encrypted payload as it travels (what a sequencer can check blind). */
export function payloadCipherHashOf(encrypted: PayloadEncrypted, aad: Uint8Array): Uint8Array {
  return payloadCipherHash({
    encVersion: encrypted.enc_version,
    nonce: fromBase64url(encrypted.nonce_b64u, 12),
    aad,
    ciphertext: fromBase64url(encrypted.ciphertext_b64u),
    tag: fromBase64url(encrypted.tag_b64u, 16),
    recipientsHash: recipientsHash(encrypted.recipients.map(recipientBytesOf)),
  });
}

// ---------------------------------------------------------------------------------------------
// Event signing hash (VES-SIG-1 §5)
// ---------------------------------------------------------------------------------------------

export interface EventSigningParams extends VesEventContext {
  payload_kind: number;
  payload_plain_hash: Uint8Array | string;
  payload_cipher_hash: Uint8Array | string;
}

const hash32 = (h: Uint8Array | string): Uint8Array => {
  if (typeof h === 'string') return hexToBytes(h, 32);
  if (h.length !== 32) throw badInput(`expected a 32-byte hash, got ${h.length} bytes`);
  return h;
};

/**
 * `SHA256("VES_EVENTSIG_V1" || U32(ves_version) || UUID(tenant) || UUID(store) || UUID(event)
 * || UUID(agent) || U32(key_id) || ENC_STR(entity_type) || ENC_STR(entity_id) ||
 * ENC_STR(event_type) || ENC_STR(created_at) || U32(payload_kind) || plain_hash || cipher_hash)`.
 * Accepts a full `VesEventEnvelope` (hex hashes) or params with byte hashes.
 */
export function eventSigningHash(envelope: EventSigningParams | VesEventEnvelope): Uint8Array {
  return sha256(eventSigningPreimage(envelope));
}

export function eventSigningPreimage(p: EventSigningParams | VesEventEnvelope): Uint8Array {
  const start = DOMAIN_EVENTSIG.length;
  const out = new Uint8Array(start + contextLength(p) + 4 + 64);
  out.set(DOMAIN_EVENTSIG, 0);
  const at = writeContext(out, start, p);
  writeU32(Buffer.from(out.buffer, out.byteOffset, out.byteLength), at, p.payload_kind);
  out.set(hash32(p.payload_plain_hash), at + 4);
  out.set(hash32(p.payload_cipher_hash), at + 36);
  return out;
}
