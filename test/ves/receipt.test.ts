import { readFileSync } from 'node:fs';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { ed25519NativeSigner, ed25519VerifyNative } from '../../node/sequencer/ed25519-native.js';
import { eventSigningHash } from '../../node/ves/hash.js';
import {
  DOMAIN_RECEIPT,
  nobleReceiptSigner,
  receiptHash,
  receiptPreimage,
  signReceipt,
  verifyReceipt,
} from '../../node/ves/receipt.js';
import { signVesEvent } from '../../node/ves/sign.js';

const sig = JSON.parse(
  readFileSync(new URL('../vectors/ves/ves_sig_1_test_vectors.json', import.meta.url), 'utf8'),
);
const full = sig.full_signing_test;
const event = signVesEvent(full.event, hexToBytes(full.private_key_hex));
const esh = eventSigningHash(event);
const input = {
  tenantId: full.event.tenant_id,
  storeId: full.event.store_id,
  eventId: full.event.event_id,
  sequenceNumber: 1,
  eventSigningHash: esh,
};
// The sequencer key: test_key_2 of the key_generation vectors.
const seqKey = sig.key_generation.vectors[1];
const seqSecret = hexToBytes(seqKey.private_key_hex);
const seqPublic = hexToBytes(seqKey.public_key_hex);

describe('sequencer receipts (VES spec §6.4)', () => {
  it('DOMAIN_RECEIPT and the preimage layout follow the vectors and the spec', () => {
    expect(bytesToHex(DOMAIN_RECEIPT)).toBe(sig.domain_separators.values.DOMAIN_RECEIPT.hex);
    const pre = receiptPreimage(input);
    expect(pre.length).toBe(14 + 16 * 3 + 8 + 32);
    expect(bytesToHex(pre)).toBe(
      `${sig.domain_separators.values.DOMAIN_RECEIPT.hex}000000000000000000000000000000010000000000000000000000000000000211111111111111111111111111111111${'0000000000000001'}${bytesToHex(esh)}`,
    );
    // Pinned (vectors say "compute from implementation").
    expect(bytesToHex(receiptHash(input))).toBe(
      '17d005448b9588871be3beecbb5b6858ffe6fa63d6aa7675d0acb02e15bd2ca1',
    );
  });

  it('a signed receipt verifies; noble and OpenSSL signers give the same bytes', () => {
    const sequencerId = '33333333-3333-3333-3333-333333333333';
    const at = '2025-01-01T00:00:01.000Z';
    const byNoble = signReceipt(
      { ...input, sequencedAt: at },
      sequencerId,
      nobleReceiptSigner(seqSecret),
    );
    const byNative = signReceipt(
      { ...input, sequencedAt: at },
      sequencerId,
      ed25519NativeSigner(seqSecret),
    );
    expect(byNative).toEqual(byNoble);
    expect(bytesToHex(ed25519.getPublicKey(seqSecret))).toBe(seqKey.public_key_hex);
    expect(verifyReceipt(byNoble, input, seqPublic)).toBe(true);
    expect(
      ed25519VerifyNative(hexToBytes(byNoble.sequencerSignature), receiptHash(input), seqPublic),
    ).toBe(true);
  });

  it('a receipt for another sequence number, event, key or a flipped bit fails', () => {
    const r = signReceipt({ ...input, sequencedAt: 'x' }, 'id', nobleReceiptSigner(seqSecret));
    expect(verifyReceipt({ ...r, sequenceNumber: 2 }, input, seqPublic)).toBe(false);
    expect(
      verifyReceipt(r, { ...input, eventId: '11111111-1111-1111-1111-111111111112' }, seqPublic),
    ).toBe(false);
    expect(verifyReceipt(r, input, hexToBytes(sig.key_generation.vectors[0].public_key_hex))).toBe(
      false,
    );
    const flipped = `${r.sequencerSignature.slice(0, -1)}${r.sequencerSignature.endsWith('0') ? '1' : '0'}`;
    expect(verifyReceipt({ ...r, sequencerSignature: flipped }, input, seqPublic)).toBe(false);
    expect(verifyReceipt({ ...r, receiptHash: 'zz' }, input, seqPublic)).toBe(false);
    expect(verifyReceipt({ ...r, signatureAlg: 'secp256k1' }, input, seqPublic)).toBe(false);
  });
});
