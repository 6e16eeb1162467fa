import semver from 'semver';
import { z } from 'zod';
import { SHA256_DIGEST_RE } from '../../zkvm/commitment/digest.js';
import type { Backend } from '../../zkvm/proof/envelope.js';
import { DVM_ERRORS, dvmError } from './errors.js';
import { kindName, type NostrEvent, type Tag } from './event.js';

/** zod schemas for tag values; each message says what a valid value looks like. */
export const Hex64 = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters (a pubkey or an event id)');

const MAX_U64 = (1n << 64n) - 1n;
/** Millisats as canonical decimal text (no sign, no leading zeros), read into a bigint. */
export const Msats = z
  .string()
  .regex(/^(0|[1-9][0-9]*)$/, 'must be a whole number of millisats such as "21000"')
  .transform((text) => BigInt(text))
  .refine((msats) => msats <= MAX_U64, 'must fit in 64 bits (at most 18446744073709551615)');

const wholeNumber = (min: number, what: string) =>
  z
    .string()
    .regex(/^(0|[1-9][0-9]*)$/, `must be a whole number of ${what} such as "300"`)
    .transform((text) => Number(text))
    .refine((n) => Number.isSafeInteger(n) && n >= min, `must be a whole number ≥ ${min}`);
export const Seconds = wholeNumber(1, 'seconds');
export const Count = (what: string) => wholeNumber(0, what);

export const SemVer = z
  .string()
  .refine((v) => semver.valid(v) === v, 'must be a semantic version such as "1.2.0"');

/** `<scheme>:<hex>`: sha256 for plan hashes, the prover's native hash (poseidon2, rpo256) else. */
export const Digest = z
  .string()
  .regex(/^[a-z0-9]+:[0-9a-f]+$/, 'must be a digest "<scheme>:<lowercase hex>", e.g. "sha256:…"');
export const Sha256 = z.string().regex(SHA256_DIGEST_RE, 'must be "sha256:" and 64 lowercase hex');

const hasProtocol =
  (...protocols: string[]) =>
  (text: string): boolean => {
    try {
      return protocols.includes(new URL(text).protocol);
    } catch {
      return false;
    }
  };
export const RelayUrl = z
  .string()
  .refine(hasProtocol('ws:', 'wss:'), 'must be a ws:// or wss:// URL');
export const ProofUri = z
  .string()
  .refine(hasProtocol('https:', 'http:', 'ipfs:'), 'must be an https:// (Blossom) or ipfs:// URI');
export const AbsoluteUrl = z.string().refine((text) => {
  try {
    new URL(text);
    return true;
  } catch {
    return false;
  }
}, 'must be an absolute URL');
export const Mime = z
  .string()
  .regex(/^[\w.+-]+\/[\w.+-]+$/, 'must be a MIME type such as "application/json"');
export const Bolt11 = z
  .string()
  .regex(/^ln[a-z0-9]+$/i, 'must be a BOLT 11 invoice ("lnbc…"), or be left out');
export const NonEmpty = z.string().min(1, 'must not be empty');

/** An enum whose message lists the allowed values. */
export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `must be one of ${values.join(', ')}` });

/** A backend of zkvm/proof/envelope; results and handlers name one, never "any". */
export const ProvenBackend: z.ZodType<Backend, string> = oneOf(['miden', 'risc-zero', 'sp1']);

export interface Amount {
  msats: bigint;
  bolt11?: string | undefined;
}

/** Reads and validates the tags of one event; every failure names the tag and the fix. */
export class TagReader {
  readonly what: string;

  constructor(
    readonly event: NostrEvent,
    readonly tags: Tag[] = event.tags,
  ) {
    this.what = `${kindName(event.kind)} ${event.id}`;
  }

  all(name: string): Tag[] {
    return this.tags.filter((tag) => tag[0] === name);
  }

  /** The one tag called `name`, or undefined; a repeated tag is refused. */
  optional(name: string, example: string): Tag | undefined {
    const found = this.all(name);
    if (found.length > 1) {
      throw this.bad(name, `appears ${found.length} times; keep exactly one ${example}`);
    }
    return found[0];
  }

  required(name: string, example: string): Tag {
    const tag = this.optional(name, example);
    if (tag === undefined) throw this.missing(name, example);
    return tag;
  }

  /** Position `index` of `tag` read through `schema`; an absent position reads as "". */
  field<T>(tag: Tag, index: number, schema: z.ZodType<T, string>): T {
    const raw = tag[index];
    const parsed = schema.safeParse(raw ?? '');
    if (parsed.success) return parsed.data;
    const where = index === 1 ? '' : `position ${index} `;
    const got = raw === undefined ? 'nothing' : `"${truncate(raw)}"`;
    throw this.bad(tag[0] ?? '', `${where}${parsed.error.issues[0]?.message}, got ${got}`);
  }

  /** Like field, but an absent or empty position gives undefined. */
  optionalField<T>(tag: Tag, index: number, schema: z.ZodType<T, string>): T | undefined {
    const raw = tag[index];
    return raw === undefined || raw === '' ? undefined : this.field(tag, index, schema);
  }

  missing(name: string, example: string, extra = ''): Error {
    return dvmError(
      DVM_ERRORS.missingTag,
      `${this.what}: missing tag "${name}"${extra}; add ${example}`,
      { tag: name, eventId: this.event.id },
    );
  }

  bad(name: string, why: string): Error {
    return dvmError(DVM_ERRORS.badTag, `${this.what}: tag "${name}" ${why}`, {
      tag: name,
      eventId: this.event.id,
    });
  }

  amount(): Amount | undefined {
    const tag = this.optional('amount', '["amount", "<millisats>", "<optional bolt11>"]');
    if (tag === undefined) return undefined;
    return { msats: this.field(tag, 1, Msats), bolt11: this.optionalField(tag, 2, Bolt11) };
  }

  /** The `e` tag of a result or feedback: the job request id and an optional relay hint. */
  requestRef(): { requestId: string; relayHint: string | undefined } {
    const tag = this.required('e', '["e", "<job request id>", "<relay hint>"]');
    return {
      requestId: this.field(tag, 1, Hex64),
      relayHint: this.optionalField(tag, 2, RelayUrl),
    };
  }
}

export const amountTag = (amount: Amount): Tag =>
  amount.bolt11 === undefined
    ? ['amount', amount.msats.toString()]
    : ['amount', amount.msats.toString(), amount.bolt11];

export const eTag = (requestId: string, relayHint: string | undefined): Tag =>
  relayHint === undefined ? ['e', requestId] : ['e', requestId, relayHint];

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
