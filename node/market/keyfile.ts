import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { decode } from 'nostr-tools/nip19';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { M2mError } from '../../zkvm/errors.js';

const HEX64 = /^[0-9a-f]{64}$/;

const invalidKey = (source: string, what: string): M2mError =>
  new M2mError('KEY_INVALID', `${source}: expected ${what}`, { details: { source } });

/** A secret key written as 64 hex characters or as nsec1… (NIP-19). */
export function parseSecretKey(text: string, source: string): Uint8Array {
  const trimmed = text.trim();
  let key: Uint8Array | undefined;
  if (HEX64.test(trimmed.toLowerCase())) key = new Uint8Array(Buffer.from(trimmed, 'hex'));
  else if (trimmed.startsWith('nsec1')) {
    try {
      const decoded = decode(trimmed);
      if (decoded.type === 'nsec') key = decoded.data;
    } catch {
      key = undefined;
    }
  }
  if (key === undefined) throw invalidKey(source, 'a secret key as 64 hex characters or nsec1…');
  try {
    getPublicKey(key);
  } catch {
    throw invalidKey(source, 'a secret key inside the secp256k1 group order (this one is not)');
  }
  return key;
}

/** A public key written as 64 hex characters or as npub1… (NIP-19), returned as hex. */
export function parsePubkey(text: string, source: string): string {
  const trimmed = text.trim();
  if (HEX64.test(trimmed)) return trimmed;
  if (trimmed.startsWith('npub1')) {
    try {
      const decoded = decode(trimmed);
      if (decoded.type === 'npub') return decoded.data;
    } catch {
      // reported below
    }
  }
  throw invalidKey(source, `a public key as 64 lowercase hex characters or npub1…, got "${text}"`);
}

/**
 * Reads the secret key in `path`, or creates the file (mode 0600) with a new key when it does not
 * exist. `wx` never overwrites a key another process wrote in between.
 */
export function loadOrCreateSecretKey(path: string): { secretKey: Uint8Array; created: boolean } {
  const read = (): Uint8Array | undefined => {
    try {
      return parseSecretKey(readFileSync(path, 'utf8'), path);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      if (cause instanceof M2mError) throw cause;
      throw new M2mError(
        'IO_READ_FAILED',
        `cannot read key file ${path}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`,
        { cause },
      );
    }
  };
  const existing = read();
  if (existing !== undefined) return { secretKey: existing, created: false };
  const secretKey = generateSecretKey();
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${Buffer.from(secretKey).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'EEXIST') {
      const raced = read();
      if (raced !== undefined) return { secretKey: raced, created: false };
    }
    throw new M2mError(
      'IO_WRITE_FAILED',
      `cannot write a new key to ${path}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`,
      { cause },
    );
  }
  return { secretKey, created: true };
}
