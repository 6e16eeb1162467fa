import { x25519 } from '@noble/curves/ed25519.js';
import { Aead, CipherSuite, Kdf, Kem } from 'hpke-js';
import { describe, expect, it } from 'vitest';
import {
  aesGcmOpen,
  aesGcmSeal,
  decryptVesPayload,
  type EncryptTestHooks,
  encryptVesPayload,
  generateRecipientKeyPair,
} from '../../node/ves/encrypt.js';
import {
  base64url,
  canonicalJson,
  DOMAIN_PAYLOAD_AAD,
  DOMAIN_PAYLOAD_CIPHER,
  DOMAIN_PAYLOAD_PLAIN,
  DOMAIN_RECIPIENTS,
  fromBase64url,
  hex0x,
  payloadAad,
  payloadCipherHashOf,
  payloadPlainHash,
  type VesEventContext,
} from '../../node/ves/hash.js';
import { agentPublicKey, signVesEvent, verifyVesEvent } from '../../node/ves/sign.js';
import { type JsonValue, PayloadEncrypted } from '../../node/ves/types.js';
import { hex, readVector, TEST_SECRET, toHex } from '../support/ves.js';

interface EncVectors {
  canonicalization: { vectors: { name: string; input: unknown; expected: string }[] };
  domain_separators: { values: Record<string, { ascii: string; hex: string; length: number }> };
  payload_plain_hash: {
    vectors: {
      name: string;
      payload: unknown;
      salt_hex: string | null;
      canonical_json: string;
      expected_hash: string;
    }[];
  };
  hpke_key_pairs: { test_keys: { kid: number; private_key_hex: string; public_key_hex: string }[] };
  base64url: { vectors: { input_hex: string; expected: string }[] };
  full_encryption: {
    event_context: VesEventContext;
    payload: JsonValue;
    random_values_hex: { salt: string; dek: string; nonce: string };
    recipient: { kid: number; public_key_hex: string };
    intermediate_values: { canonical_json: string };
  };
  aead_test_vectors: {
    vectors: { key_hex: string; nonce_hex: string; plaintext_hex: string; aad_hex: string }[];
  };
}

const V = readVector<EncVectors>('ves_enc_1_test_vectors.json');
const KEYS = V.hpke_key_pairs.test_keys;
const key = (kid: number) => {
  const k = KEYS.find((x) => x.kid === kid);
  if (k === undefined) throw new Error(`no test key ${kid}`);
  // Derived, not read: the file's recipient_3 public key does not belong to its private key.
  return {
    kid,
    privateKey: hex(k.private_key_hex),
    publicKey: x25519.getPublicKey(hex(k.private_key_hex)),
  };
};

/**
 * The file's "IMPLEMENTATION_SPECIFIC" values, computed with the file's salt/dek/nonce and a fixed
 * HPKE ephemeral IKM (32 x 0x07), pinned. Plain hash, AAD, AES-GCM output, recipients hash and
 * cipher hash were cross-checked with Python (hashlib, struct, uuid, cryptography AESGCM), and
 * the HPKE-wrapped DEK was opened by an independent RFC 9180 base-mode key schedule written in
 * Python (X25519 + HMAC-SHA256 HKDF + AESGCM), recovering the file's DEK.
 */
const PINNED = {
  saltedPlainHash: '0xd9faf01d51a58f57acafb13ef03a055a9753350868c856795d4eb83ef42a32b7',
  unsaltedDelta100: '0x9ac51a331894a0b6d3c0563f28384afd86115d5c9379370989044dfab89f3e5a',
  full: {
    payload_plain_hash: '0xfd317f62d6d9a953f7b405776a2061ef400a606c9de38d21c6fe83a500a1f355',
    payload_aad: '0x20f746dc7cb98c4a4d8b8b61a2d51245618a185b5d5a4e2f01508be6f982bc91',
    recipients_hash: '0x8e3142dc673b8f8300cdb841a07e5ab1725ffb519902a565056d252225f32c9c',
    payload_cipher_hash: '0xc26ffeb5555ec70de464073b59a654ba7ce93eb7d2592e2548d22a66aa7eafd7',
    ciphertext_b64u:
      'RgDVH8DjxROES5yHvOd3ffj041GcDz5eAlbVtTFLbN1icdqVwK9N-h3KXdeqxgUJ3HtMryizwqlQ-QgjOpCdh4BRoxSnjlQEfzHDGIqtcw',
    tag_b64u: 'rNOQJhF8oHUCr8eFDpLSXQ',
    enc_b64u: 'X9R2M7XkP8p7rRv75CT-rLF12dTUow8Wbb0wY28LRGs',
    ct_b64u: 'thP_EuVYLUcj9GXEFFpT1RDD91Nh4CPjTR-yAywK5KLFQLy69907OzQEYoXdxmpF',
  },
  aead: { ciphertext: '4713f42881b0a46c05d83d307d349692', tag: '0f349082a0c8a0135ac74a878496cce4' },
};

const fixedHooks = (kids: number[]): EncryptTestHooks => ({
  salt: hex(V.full_encryption.random_values_hex.salt),
  dek: hex(V.full_encryption.random_values_hex.dek),
  nonce: hex(V.full_encryption.random_values_hex.nonce),
  ephemeralIkm: new Map(kids.map((k) => [k, new Uint8Array(32).fill(7)])),
});

describe('VES-ENC-1 vectors', () => {
  it('RFC 8785 canonicalization', () => {
    for (const v of V.canonicalization.vectors)
      expect(canonicalJson(v.input), v.name).toBe(v.expected);
  });

  it('domain separators', () => {
    const ours: Record<string, Uint8Array> = {
      DOMAIN_PAYLOAD_PLAIN,
      DOMAIN_PAYLOAD_AAD,
      DOMAIN_PAYLOAD_CIPHER,
      DOMAIN_RECIPIENTS,
    };
    for (const [name, v] of Object.entries(V.domain_separators.values)) {
      expect(toHex(ours[name] ?? new Uint8Array()), name).toBe(v.hex);
      expect(Buffer.from(ours[name] ?? []).toString('ascii')).toBe(v.ascii);
    }
    // The file says DOMAIN_RECIPIENTS is 16 bytes; "VES_RECIPIENTS_V1" is 17 (its hex is 17 bytes too).
    expect(DOMAIN_RECIPIENTS.length).toBe(17);
    expect(V.domain_separators.values.DOMAIN_RECIPIENTS?.length).toBe(16);
  });

  it('payload_plain_hash with and without salt (canonical JSON as given; hashes pinned)', () => {
    const [noSalt, withSalt] = V.payload_plain_hash.vectors;
    if (noSalt === undefined || withSalt === undefined) throw new Error('vectors missing');
    expect(canonicalJson(noSalt.payload)).toBe(noSalt.canonical_json);
    expect(canonicalJson(withSalt.payload)).toBe(withSalt.canonical_json);
    expect(hex0x(payloadPlainHash(noSalt.payload))).toBe(PINNED.unsaltedDelta100);
    expect(hex0x(payloadPlainHash(withSalt.payload, hex(withSalt.salt_hex ?? '')))).toBe(
      PINNED.saltedPlainHash,
    );
    // The file's expected_hash values are placeholders (a counting hex pattern), not SHA-256
    // outputs of the stated preimage; they cannot be reproduced by any implementation.
    expect(noSalt.expected_hash.startsWith('0x7c3c0b8a1d2e3f4a5b6c7d8e9f0a1b2c')).toBe(true);
  });

  it('X25519 key pairs and base64url', () => {
    // recipient_1 and recipient_2 are the RFC 7748 §6.1 Alice/Bob pairs and match. recipient_3
    // pairs the scalar and the input u-coordinate of RFC 7748 §5.2 test 1, which are not a key
    // pair: its real public key is pinned here and used everywhere else.
    const derived = KEYS.map((k) => toHex(x25519.getPublicKey(hex(k.private_key_hex))));
    expect(derived.slice(0, 2)).toEqual(KEYS.slice(0, 2).map((k) => k.public_key_hex));
    expect(KEYS[2]?.public_key_hex).toBe(
      'e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c',
    );
    expect(derived[2]).toBe('1c9fd88f45606d932a80c71824ae151d15d73e77de38e8e000852e614fae7019');
    for (const v of V.base64url.vectors) {
      expect(base64url(hex(v.input_hex))).toBe(v.expected);
      expect(toHex(fromBase64url(v.expected))).toBe(v.input_hex);
    }
    expect(() => fromBase64url('AA==')).toThrow(/base64url/);
  });

  it('AES-256-GCM vector (pinned; matches Python cryptography)', () => {
    const v = V.aead_test_vectors.vectors[0];
    if (v === undefined) throw new Error('vector missing');
    const out = aesGcmSeal(hex(v.key_hex), hex(v.nonce_hex), hex(v.plaintext_hex), hex(v.aad_hex));
    expect(toHex(out.ciphertext)).toBe(PINNED.aead.ciphertext);
    expect(toHex(out.tag)).toBe(PINNED.aead.tag);
    expect(
      toHex(aesGcmOpen(hex(v.key_hex), hex(v.nonce_hex), out.ciphertext, out.tag, hex(v.aad_hex))),
    ).toBe(v.plaintext_hex);
  });

  it('full encryption: every intermediate value pinned, decrypts with recipient_1', async () => {
    const f = V.full_encryption;
    const result = await encryptVesPayload(
      f.payload,
      f.event_context,
      [{ kid: f.recipient.kid, publicKey: hex(f.recipient.public_key_hex) }],
      fixedHooks([1]),
    );
    expect(result.payload_plain_hash).toBe(PINNED.full.payload_plain_hash);
    expect(result.payload_aad).toBe(PINNED.full.payload_aad);
    expect(result.recipients_hash).toBe(PINNED.full.recipients_hash);
    expect(result.payload_cipher_hash).toBe(PINNED.full.payload_cipher_hash);
    const enc = result.payload_encrypted;
    expect(enc.nonce_b64u).toBe(base64url(hex(f.random_values_hex.nonce)));
    expect(enc.ciphertext_b64u).toBe(PINNED.full.ciphertext_b64u);
    expect(enc.tag_b64u).toBe(PINNED.full.tag_b64u);
    expect(enc.recipients).toEqual([
      { recipient_kid: 1, enc_b64u: PINNED.full.enc_b64u, ct_b64u: PINNED.full.ct_b64u },
    ]);
    expect(PayloadEncrypted.safeParse(enc).success).toBe(true);
    // The plaintext is salt || canonical_json, as the vector describes.
    expect(fromBase64url(enc.ciphertext_b64u).length).toBe(
      16 + Buffer.byteLength(f.intermediate_values.canonical_json),
    );
    // The cipher hash is recomputable from the wire structure alone (sequencer-blind check).
    expect(
      hex0x(payloadCipherHashOf(enc, payloadAad(f.event_context, hex(result.payload_plain_hash)))),
    ).toBe(result.payload_cipher_hash);

    const opened = await decryptVesPayload(enc, f.event_context, result.payload_plain_hash, key(1));
    expect(opened.payload).toEqual(f.payload);
    expect(toHex(opened.salt)).toBe(f.random_values_hex.salt);
  });

  it('random (production) encryption differs each time and still round-trips', async () => {
    const f = V.full_encryption;
    const a = await encryptVesPayload(f.payload, f.event_context, [key(1)]);
    const b = await encryptVesPayload(f.payload, f.event_context, [key(1)]);
    expect(a.payload_plain_hash).not.toBe(b.payload_plain_hash);
    expect(a.payload_encrypted.ciphertext_b64u).not.toBe(b.payload_encrypted.ciphertext_b64u);
    const opened = await decryptVesPayload(
      a.payload_encrypted,
      f.event_context,
      a.payload_plain_hash,
      key(1),
    );
    expect(opened.payload).toEqual(f.payload);
  });

  it('error cases: NoRecipients, RecipientNotFound, DecryptionFailed (tag, AAD), PayloadHashMismatch', async () => {
    const f = V.full_encryption;
    await expect(encryptVesPayload(f.payload, f.event_context, [])).rejects.toMatchObject({
      code: 'VES_ENC_NO_RECIPIENTS',
    });
    const r = await encryptVesPayload(f.payload, f.event_context, [key(1)]);
    const enc = r.payload_encrypted;
    await expect(
      decryptVesPayload(enc, f.event_context, r.payload_plain_hash, key(2)),
    ).rejects.toMatchObject({
      code: 'VES_ENC_RECIPIENT_NOT_FOUND',
    });
    const tag = fromBase64url(enc.tag_b64u);
    tag[0] = (tag[0] ?? 0) ^ 1;
    await expect(
      decryptVesPayload(
        { ...enc, tag_b64u: base64url(tag) },
        f.event_context,
        r.payload_plain_hash,
        key(1),
      ),
    ).rejects.toMatchObject({ code: 'VES_ENC_DECRYPTION_FAILED' });
    const otherContext = { ...f.event_context, entity_id: 'WIDGET-002' };
    await expect(
      decryptVesPayload(enc, otherContext, r.payload_plain_hash, key(1)),
    ).rejects.toMatchObject({
      code: 'VES_ENC_DECRYPTION_FAILED',
    });
    // A wrong expected hash changes the AAD, so authentication fails before the hash check.
    // PayloadHashMismatch needs a sender that sealed under the AAD of a hash its plaintext does
    // not have: build that by hand.
    const forgedHash = new Uint8Array(32).fill(0xaa);
    const forgedAad = payloadAad(f.event_context, forgedHash);
    const dek = new Uint8Array(32).fill(3);
    const nonce = new Uint8Array(12).fill(4);
    const sealed = aesGcmSeal(
      dek,
      nonce,
      new TextEncoder().encode('0123456789abcdef{"x":1}'),
      forgedAad,
    );
    const suite = new CipherSuite({
      kem: Kem.DhkemX25519HkdfSha256,
      kdf: Kdf.HkdfSha256,
      aead: Aead.Aes256Gcm,
    });
    const wrap = await suite.seal(
      {
        recipientPublicKey: await suite.kem.deserializePublicKey(key(1).publicKey),
        info: forgedAad,
      },
      dek,
    );
    const forged = {
      ...enc,
      nonce_b64u: base64url(nonce),
      ciphertext_b64u: base64url(sealed.ciphertext),
      tag_b64u: base64url(sealed.tag),
      recipients: [
        {
          recipient_kid: 1,
          enc_b64u: base64url(new Uint8Array(wrap.enc)),
          ct_b64u: base64url(new Uint8Array(wrap.ct)),
        },
      ],
    };
    await expect(
      decryptVesPayload(forged, f.event_context, forgedHash, key(1)),
    ).rejects.toMatchObject({
      code: 'VES_PAYLOAD_HASH_MISMATCH',
    });
    await expect(
      decryptVesPayload(enc, f.event_context, hex0x(new Uint8Array(32)), key(1)),
    ).rejects.toMatchObject({ code: 'VES_ENC_DECRYPTION_FAILED' });
    const wrongKey = { kid: 1, privateKey: key(2).privateKey };
    await expect(
      decryptVesPayload(enc, f.event_context, r.payload_plain_hash, wrongKey),
    ).rejects.toMatchObject({
      code: 'VES_ENC_DECRYPTION_FAILED',
    });
  });

  it('validation checklist: malformed encrypted payloads are refused', () => {
    const good = {
      enc_version: 1,
      aead: 'AES-256-GCM',
      nonce_b64u: base64url(new Uint8Array(12)),
      ciphertext_b64u: 'AAAA',
      tag_b64u: base64url(new Uint8Array(16)),
      hpke: { mode: 'base', kem: 'X25519-HKDF-SHA256', kdf: 'HKDF-SHA256', aead: 'AES-256-GCM' },
      recipients: [
        {
          recipient_kid: 1,
          enc_b64u: base64url(new Uint8Array(32)),
          ct_b64u: base64url(new Uint8Array(48)),
        },
        {
          recipient_kid: 2,
          enc_b64u: base64url(new Uint8Array(32)),
          ct_b64u: base64url(new Uint8Array(48)),
        },
      ],
    };
    expect(PayloadEncrypted.safeParse(good).success).toBe(true);
    const r0 = good.recipients[0];
    const r1 = good.recipients[1];
    if (r0 === undefined || r1 === undefined) throw new Error('unreachable');
    const bad: [string, Record<string, unknown>][] = [
      ['enc_version 1', { enc_version: 2 }],
      ['aead', { aead: 'ChaCha20-Poly1305' }],
      ['nonce 12 bytes', { nonce_b64u: base64url(new Uint8Array(11)) }],
      ['tag 16 bytes', { tag_b64u: base64url(new Uint8Array(15)) }],
      ['sorted recipients', { recipients: [r1, r0] }],
      ['at least one recipient', { recipients: [] }],
      ['hpke mode base', { hpke: { ...good.hpke, mode: 'auth' } }],
      ['hpke kem', { hpke: { ...good.hpke, kem: 'P-256' } }],
      ['hpke kdf', { hpke: { ...good.hpke, kdf: 'HKDF-SHA512' } }],
      ['hpke aead', { hpke: { ...good.hpke, aead: 'AES-128-GCM' } }],
      ['enc 32 bytes', { recipients: [{ ...r0, enc_b64u: base64url(new Uint8Array(31)) }] }],
      ['ct 48 bytes', { recipients: [{ ...r0, ct_b64u: base64url(new Uint8Array(47)) }] }],
    ];
    for (const [rule, change] of bad)
      expect(PayloadEncrypted.safeParse({ ...good, ...change }).success, rule).toBe(false);
  });
});

describe('multi-recipient HPKE (VES-ENC-1 §1.1)', () => {
  it('one ciphertext for three recipients; each opens it; recipients sorted by kid', async () => {
    const f = V.full_encryption;
    const result = await encryptVesPayload(f.payload, f.event_context, [key(3), key(1), key(2)]);
    expect(result.payload_encrypted.recipients.map((r) => r.recipient_kid)).toEqual([1, 2, 3]);
    for (const kid of [1, 2, 3]) {
      const opened = await decryptVesPayload(
        result.payload_encrypted,
        f.event_context,
        result.payload_plain_hash,
        key(kid),
      );
      expect(opened.payload).toEqual(f.payload);
    }
    // Pinned with fixed randomness: the recipient set is committed in the cipher hash.
    const fixed = await encryptVesPayload(
      f.payload,
      f.event_context,
      [key(2), key(1), key(3)],
      fixedHooks([1, 2, 3]),
    );
    const fixedTwo = await encryptVesPayload(
      f.payload,
      f.event_context,
      [key(1), key(2)],
      fixedHooks([1, 2]),
    );
    expect(fixed.payload_plain_hash).toBe(fixedTwo.payload_plain_hash);
    expect(fixed.payload_encrypted.ciphertext_b64u).toBe(
      fixedTwo.payload_encrypted.ciphertext_b64u,
    );
    expect(fixed.recipients_hash).not.toBe(fixedTwo.recipients_hash);
    expect(fixed.payload_cipher_hash).not.toBe(fixedTwo.payload_cipher_hash);
    await expect(
      encryptVesPayload(f.payload, f.event_context, [key(1), key(1)]),
    ).rejects.toMatchObject({ code: 'VES_ENC_DUPLICATE_RECIPIENT' });
  });

  it('an encrypted event signs both hashes; removing a recipient breaks the cipher hash', async () => {
    const f = V.full_encryption;
    const recipients = [generateRecipientKeyPair(), generateRecipientKeyPair()].map((k, i) => ({
      kid: 10 + i,
      ...k,
    }));
    const ctx = { ...f.event_context, source_agent_id: f.event_context.source_agent_id };
    const encrypted = await encryptVesPayload(f.payload, ctx, recipients);
    const envelope = signVesEvent(
      {
        ...ctx,
        ves_version: 1,
        payload_kind: 1,
        payload_encrypted: encrypted.payload_encrypted,
        payload_plain_hash: encrypted.payload_plain_hash,
        payload_cipher_hash: encrypted.payload_cipher_hash,
      },
      TEST_SECRET,
    );
    const pub = agentPublicKey(TEST_SECRET);
    expect(verifyVesEvent(envelope, pub)).toEqual({ ok: true });
    const stripped = {
      ...envelope,
      payload_encrypted: {
        ...encrypted.payload_encrypted,
        recipients: encrypted.payload_encrypted.recipients.slice(0, 1),
      },
    };
    expect(verifyVesEvent(stripped, pub)).toMatchObject({
      ok: false,
      reason: 'CipherHashMismatch',
    });
    for (const r of recipients) {
      const opened = await decryptVesPayload(
        envelope.payload_encrypted as PayloadEncrypted,
        envelope,
        envelope.payload_plain_hash,
        {
          kid: r.kid,
          privateKey: r.privateKey,
        },
      );
      expect(opened.payload).toEqual(f.payload);
    }
  });
});
