import { CID } from 'multiformats/cid';
import { STORAGE_ERRORS, storageError } from './errors.js';

/**
 * A proof reference names its store and the address of the bytes there:
 *
 * - `blossom:<sha256 hex>?server=<url-encoded base URL>&server=...` — a Blossom blob (BUD-01),
 *   addressed by the SHA-256 of its bytes, with the servers that hold it (at least one).
 * - `ipfs:<CIDv1>` and optionally `?gateway=<url-encoded base URL>&...` — a UnixFS file imported
 *   with CIDv1 (IPIP-499 unixfs-v1-2025: raw leaves, 1 MiB chunks); gateways are hints
 *   (`<gateway>/ipfs/<cid>`), and what they serve is checked against the CID.
 *
 * The `proof-ref` tag of a kind 6900 result carries the URI and, separately, `sha256:<hex>` of the
 * binary proof envelope: for every store the fetched bytes must hash to that too.
 */
export type ProofRef =
  | { store: 'blossom'; sha256: string; servers: string[] }
  | { store: 'ipfs'; cid: string; gateways: string[] };

const SHA256_HEX = /^[0-9a-f]{64}$/;
/** The longest reference accepted (a Nostr tag value; a handful of server URLs fit easily). */
export const MAX_REF_LENGTH = 4096;

const bad = (uri: string, why: string): never => {
  throw storageError(
    STORAGE_ERRORS.badRef,
    `proof reference ${JSON.stringify(uri.slice(0, 120))} ${why}; expected blossom:<sha256>?server=<url> or ipfs:<cidv1>`,
    { ref: uri.slice(0, 200) },
  );
};

/** An http(s) base URL without query or fragment, trailing slashes removed. */
export function normalizeServerUrl(text: string, what = 'server'): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw storageError(STORAGE_ERRORS.badRef, `${what} ${JSON.stringify(text)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw storageError(
      STORAGE_ERRORS.badRef,
      `${what} ${JSON.stringify(text)} must be an http:// or https:// URL`,
    );
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '')
    throw storageError(
      STORAGE_ERRORS.badRef,
      `${what} ${JSON.stringify(text)} must be a plain base URL (no query, fragment or credentials)`,
    );
  return url.href.replace(/\/+$/, '');
}

/** Checks that `text` is a CIDv1 string and returns it in its canonical (base32) form. */
export function parseCidV1(text: string): CID {
  let cid: CID;
  try {
    cid = CID.parse(text);
  } catch {
    return bad(`ipfs:${text}`, 'holds no valid CID');
  }
  if (cid.version !== 1) return bad(`ipfs:${text}`, 'must use a CIDv1 (base32 "b...")');
  return cid;
}

export function parseProofRef(uri: string): ProofRef {
  if (typeof uri !== 'string' || uri.length === 0) return bad(String(uri), 'is empty');
  if (uri.length > MAX_REF_LENGTH) return bad(uri, `is longer than ${MAX_REF_LENGTH} characters`);
  const colon = uri.indexOf(':');
  const scheme = uri.slice(0, colon);
  const rest = uri.slice(colon + 1);
  const q = rest.indexOf('?');
  const address = q === -1 ? rest : rest.slice(0, q);
  const params = new URLSearchParams(q === -1 ? '' : rest.slice(q + 1));
  const keys = [...new Set(params.keys())];
  const hints = (name: string, what: string): string[] => {
    const unknown = keys.filter((k) => k !== name);
    if (unknown.length > 0) bad(uri, `has unknown parameter "${unknown[0]}" (only "${name}")`);
    const urls = params.getAll(name).map((u) => {
      try {
        return normalizeServerUrl(u, what);
      } catch (error) {
        return bad(uri, `has a bad ${what}: ${(error as Error).message}`);
      }
    });
    return [...new Set(urls)];
  };
  if (scheme === 'blossom') {
    if (!SHA256_HEX.test(address)) return bad(uri, 'must give 64 lowercase hex (the SHA-256)');
    const servers = hints('server', 'server');
    if (servers.length === 0) return bad(uri, 'names no server (add ?server=<url>)');
    return { store: 'blossom', sha256: address, servers };
  }
  if (scheme === 'ipfs') {
    const cid = parseCidV1(address);
    if (cid.toString() !== address) return bad(uri, 'must write the CID in base32 ("bafy...")');
    return { store: 'ipfs', cid: address, gateways: hints('gateway', 'gateway') };
  }
  return bad(uri, `has an unknown store "${scheme}"`);
}

export function formatProofRef(ref: ProofRef): string {
  if (ref.store === 'blossom') {
    const query = ref.servers.map((s) => `server=${encodeURIComponent(s)}`).join('&');
    return `blossom:${ref.sha256}${query === '' ? '' : `?${query}`}`;
  }
  const query = ref.gateways.map((g) => `gateway=${encodeURIComponent(g)}`).join('&');
  return `ipfs:${ref.cid}${query === '' ? '' : `?${query}`}`;
}

/** A short name of where a reference points, for messages. */
export const refAddress = (ref: ProofRef): string =>
  ref.store === 'blossom' ? `blossom:${ref.sha256}` : `ipfs:${ref.cid}`;

/**
 * Reads what a `proof-ref` tag may carry: a reference above, or the older forms `ipfs://<cid>`
 * and a Blossom blob URL `http(s)://<server>/<sha256>[.ext]` (BUD-01), turned into a reference.
 */
export function refFromUri(uri: string): ProofRef {
  if (uri.startsWith('ipfs://')) return parseProofRef(`ipfs:${uri.slice('ipfs://'.length)}`);
  if (uri.startsWith('https://') || uri.startsWith('http://')) {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      return bad(uri, 'is not a URL');
    }
    const match = /^(.*)\/([0-9a-f]{64})(\.[A-Za-z0-9]{1,10})?$/.exec(url.pathname);
    if (match === null || url.search !== '')
      return bad(uri, 'is an http(s) URL but not a Blossom blob URL (<server>/<sha256>)');
    return {
      store: 'blossom',
      sha256: match[2] as string,
      servers: [normalizeServerUrl(`${url.origin}${match[1]}`)],
    };
  }
  return parseProofRef(uri);
}
