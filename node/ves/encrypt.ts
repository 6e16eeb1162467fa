import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { x25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { Aead, CipherSuite, Kdf, Kem } from 'hpke-js';
import { M2mError } from '../../zkvm/errors.js';
import {
  base64url,
  canonicalJson,
  concatBytes,
  DOMAIN_PAYLOAD_PLAIN,
  equalBytes,
  fromBase64url,
  hex0x,
  hexToBytes,
  payloadAad,
  payloadCipherHash,
  type RecipientBytes,
  recipientsHash,
  type VesEventContext,
} from './hash.js';
import { type JsonValue, PayloadEncrypted } from './types.js';

/**
 * VES-ENC-1: the payload `salt || JCS(payload)` is sealed once with AES-256-GCM under a random
 * DEK, with the event's AAD; the DEK is wrapped for each recipient with HPKE base mode
 * (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM) using the AAD as HPKE `info`.
 */

const SALT_BYTES = 16;
const DEK_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

const suite = new CipherSuite({
  kem: Kem.DhkemX25519HkdfSha256,
  kdf: Kdf.HkdfSha256,
  aead: Aead.Aes256Gcm,
});

export interface RecipientPublicKey {
  /** Recipient key id in the registry. */
  kid: number;
  /** X25519 public key, 32 bytes. */
  publicKey: Uint8Array;
}

/**
 * Fixed values for reproducible tests (the spec draws them at random). Never set in production:
 * a repeated DEK/nonce pair breaks AES-GCM.
 */
export interface EncryptTestHooks {
  salt?: Uint8Array;
  dek?: Uint8Array;
  nonce?: Uint8Array;
  /** Per recipient kid: the HPKE ephemeral key material (`ekm`, 32 bytes of IKM). */
  ephemeralIkm?: Map<number, Uint8Array>;
}

export interface EncryptedPayloadResult {
  payload_encrypted: PayloadEncrypted;
  /** `0x` hex, to put in the envelope before signing. */
  payload_plain_hash: string;
  payload_cipher_hash: string;
  /** Intermediate values, for tests and diagnostics. */
  payload_aad: string;
  recipients_hash: string;
}

const encError = (code: string, message: string, cause?: unknown): M2mError =>
  new M2mError(code, message, cause === undefined ? {} : { cause });

export async function encryptVesPayload(
  payload: JsonValue,
  context: VesEventContext,
  recipients: readonly RecipientPublicKey[],
  hooks: EncryptTestHooks = {},
): Promise<EncryptedPayloadResult> {
  if (recipients.length === 0)
    throw encError('VES_ENC_NO_RECIPIENTS', 'encryption needs at least one recipient public key');
  const kids = new Set(recipients.map((r) => r.kid));
  if (kids.size !== recipients.length)
    throw encError('VES_ENC_DUPLICATE_RECIPIENT', 'each recipient kid may appear only once');
  const salt = hooks.salt ?? new Uint8Array(randomBytes(SALT_BYTES));
  const dek = hooks.dek ?? new Uint8Array(randomBytes(DEK_BYTES));
  const nonce = hooks.nonce ?? new Uint8Array(randomBytes(NONCE_BYTES));
  if (salt.length !== SALT_BYTES || dek.length !== DEK_BYTES || nonce.length !== NONCE_BYTES)
    throw encError('VES_ENC_INVALID', 'salt, dek and nonce must be 16, 32 and 12 bytes');

  const plaintext = concatBytes(salt, new TextEncoder().encode(canonicalJson(payload)));
  const plainHash = sha256(concatBytes(DOMAIN_PAYLOAD_PLAIN, plaintext));
  const aad = payloadAad(context, plainHash);
  const { ciphertext, tag } = aesGcmSeal(dek, nonce, plaintext, aad);

  const wrapped: RecipientBytes[] = [];
  for (const r of [...recipients].sort((a, b) => a.kid - b.kid)) {
    if (r.publicKey.length !== 32)
      throw encError('VES_ENC_INVALID', `recipient ${r.kid}: X25519 public key must be 32 bytes`);
    const ekm = hooks.ephemeralIkm?.get(r.kid);
    try {
      const sealed = await suite.seal(
        {
          recipientPublicKey: await suite.kem.deserializePublicKey(r.publicKey),
          info: aad,
          ...(ekm === undefined ? {} : { ekm }),
        },
        dek,
      );
      wrapped.push({ kid: r.kid, enc: new Uint8Array(sealed.enc), ct: new Uint8Array(sealed.ct) });
    } catch (cause) {
      throw encError(
        'VES_ENC_INVALID',
        `recipient ${r.kid}: HPKE seal failed: ${(cause as Error).message}`,
        cause,
      );
    }
  }
  const rHash = recipientsHash(wrapped);
  const cipherHash = payloadCipherHash({ nonce, aad, ciphertext, tag, recipientsHash: rHash });
  return {
    payload_encrypted: {
      enc_version: 1,
      aead: 'AES-256-GCM',
      nonce_b64u: base64url(nonce),
      ciphertext_b64u: base64url(ciphertext),
      tag_b64u: base64url(tag),
      hpke: { mode: 'base', kem: 'X25519-HKDF-SHA256', kdf: 'HKDF-SHA256', aead: 'AES-256-GCM' },
      recipients: wrapped.map((w) => ({
        recipient_kid: w.kid,
        enc_b64u: base64url(w.enc),
        ct_b64u: base64url(w.ct),
      })),
    },
    payload_plain_hash: hex0x(plainHash),
    payload_cipher_hash: hex0x(cipherHash),
    payload_aad: hex0x(aad),
    recipients_hash: hex0x(rHash),
  };
}

export interface DecryptedPayload {
  payload: JsonValue;
  salt: Uint8Array;
}

/**
 * VES-ENC-1 §6: unwraps the DEK for `kid`, opens the ciphertext with the AAD recomputed from the
 * event context and the signed plain hash, and checks the plain hash over `salt || JCS`.
 */
export async function decryptVesPayload(
  encrypted: PayloadEncrypted,
  context: VesEventContext,
  expectedPlainHash: string | Uint8Array,
  recipient: { kid: number; privateKey: Uint8Array },
): Promise<DecryptedPayload> {
  const parsed = PayloadEncrypted.safeParse(encrypted);
  if (!parsed.success)
    throw encError('VES_ENC_INVALID', `not a VES-ENC-1 payload: ${parsed.error.message}`);
  const enc = parsed.data;
  const entry = enc.recipients.find((r) => r.recipient_kid === recipient.kid);
  if (entry === undefined)
    throw encError('VES_ENC_RECIPIENT_NOT_FOUND', `no recipient entry for kid ${recipient.kid}`);
  const plainHash =
    typeof expectedPlainHash === 'string' ? hexToBytes(expectedPlainHash, 32) : expectedPlainHash;
  const aad = payloadAad(context, plainHash);

  let dek: Uint8Array;
  try {
    const opened = await suite.open(
      {
        recipientKey: await suite.kem.deserializePrivateKey(recipient.privateKey),
        enc: fromBase64url(entry.enc_b64u, 32),
        info: aad,
      },
      fromBase64url(entry.ct_b64u, 48),
    );
    dek = new Uint8Array(opened);
  } catch (cause) {
    throw encError(
      'VES_ENC_DECRYPTION_FAILED',
      `cannot unwrap the data key for kid ${recipient.kid} (wrong key, or event context or hash changed)`,
      cause,
    );
  }
  let plaintext: Uint8Array;
  try {
    plaintext = aesGcmOpen(
      dek,
      fromBase64url(enc.nonce_b64u, NONCE_BYTES),
      fromBase64url(enc.ciphertext_b64u),
      fromBase64url(enc.tag_b64u, TAG_BYTES),
      aad,
    );
  } catch (cause) {
    throw encError(
      'VES_ENC_DECRYPTION_FAILED',
      'payload ciphertext or tag does not authenticate',
      cause,
    );
  }
  if (plaintext.length < SALT_BYTES)
    throw encError('VES_ENC_DECRYPTION_FAILED', 'plaintext shorter than its salt');
  if (!equalBytes(sha256(concatBytes(DOMAIN_PAYLOAD_PLAIN, plaintext)), plainHash))
    throw encError(
      'VES_PAYLOAD_HASH_MISMATCH',
      'decrypted payload does not match payload_plain_hash',
    );
  const salt = plaintext.slice(0, SALT_BYTES);
  let payload: JsonValue;
  try {
    payload = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(plaintext.slice(SALT_BYTES)),
    );
  } catch (cause) {
    throw encError('VES_ENC_DECRYPTION_FAILED', 'decrypted payload is not UTF-8 JSON', cause);
  }
  return { payload, salt };
}

/** A recipient X25519 key pair (VES-ENC-1 §8.1: never the Ed25519 signing key). */
export function generateRecipientKeyPair(): { privateKey: Uint8Array; publicKey: Uint8Array } {
  const privateKey = x25519.utils.randomSecretKey();
  return { privateKey, publicKey: x25519.getPublicKey(privateKey) };
}

export function recipientPublicKey(privateKey: Uint8Array): Uint8Array {
  return x25519.getPublicKey(privateKey);
}

export function aesGcmSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): { ciphertext: Uint8Array; tag: Uint8Array } {
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ciphertext = new Uint8Array(Buffer.concat([cipher.update(plaintext), cipher.final()]));
  return { ciphertext, tag: new Uint8Array(cipher.getAuthTag()) };
}

export function aesGcmOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  tag: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  return new Uint8Array(Buffer.concat([decipher.update(ciphertext), decipher.final()]));
}
