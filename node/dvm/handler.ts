import { z } from 'zod';
import type { Backend } from '../../zkvm/proof/envelope.js';
import { DVM_ERRORS, dvmError } from './errors.js';
import {
  baseOf,
  checkSignedEvent,
  KIND_HANDLER,
  KIND_JOB_REQUEST,
  type NostrEvent,
  type ParsedEventBase,
  signEvent,
  type Tag,
} from './event.js';
import { Digest, Msats, NonEmpty, oneOf, ProvenBackend, SemVer, TagReader } from './tags.js';

/** NIP-89 content: kind:0-style metadata; `name` is required here, other keys pass through. */
export const HandlerMetadata = z.looseObject({
  name: z.string().min(1, 'name must not be empty'),
  about: z.string().optional(),
});
export type HandlerMetadata = z.infer<typeof HandlerMetadata>;

export const PriceUnit = oneOf(['per-job', 'per-mcycle']);
export type PriceUnit = z.infer<typeof PriceUnit>;

/** `["zkvm", <backend>, <program id>, <version>]`: one program the provider proves with. */
export interface HandlerProgram {
  backend: Backend;
  programId: string;
  version: string;
}

/** `["price", <millisats>, "per-job"|"per-mcycle"]`; per-mcycle is per million cycles used. */
export interface HandlerPrice {
  msats: bigint;
  unit: PriceUnit;
}

export interface HandlerFields {
  /** The `d` tag: which of the provider's announcements this is (it replaces older ones). */
  identifier: string;
  metadata: HandlerMetadata;
  programs: HandlerProgram[];
  prices: HandlerPrice[];
}

export type HandlerAnnouncement = ParsedEventBase &
  HandlerFields & {
    /** Job request kinds handled (`k` tags); always includes 5900. */
    kinds: number[];
  };

export interface HandlerInput extends HandlerFields {
  createdAt?: number | undefined;
}

const EX = {
  d: '["d", "<identifier>"]',
  k: '["k", "5900"]',
  zkvm: '["zkvm", "miden|risc-zero|sp1", "<program id>", "<version>"]',
  price: '["price", "<millisats>", "per-job|per-mcycle"]',
};

const KindNumber = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,4})$/, 'must be an event kind number such as "5900"')
  .transform(Number);

/** Builds and signs a kind 31990 handler announcement; it always passes parseHandler. */
export function buildHandler(input: HandlerInput, providerSecretKey: Uint8Array): NostrEvent {
  const tags: Tag[] = [
    ['d', input.identifier],
    ['k', String(KIND_JOB_REQUEST)],
    ...input.programs.map((p) => ['zkvm', p.backend, p.programId, p.version]),
    ...input.prices.map((p) => ['price', p.msats.toString(), p.unit]),
  ];
  const event = signEvent(
    KIND_HANDLER,
    tags,
    JSON.stringify(input.metadata),
    providerSecretKey,
    input.createdAt,
  );
  parseHandler(event);
  return event;
}

export function parseHandler(value: unknown): HandlerAnnouncement {
  const event = checkSignedEvent(value, KIND_HANDLER);
  const r = new TagReader(event);
  const identifier = r.field(r.required('d', EX.d), 1, NonEmpty);
  const kinds = r.all('k').map((tag) => r.field(tag, 1, KindNumber));
  if (!kinds.includes(KIND_JOB_REQUEST)) {
    throw r.missing('k', EX.k, ' for 5900 (the kind this market handles)');
  }
  const programs = r.all('zkvm').map(
    (tag): HandlerProgram => ({
      backend: r.field(tag, 1, ProvenBackend),
      programId: r.field(tag, 2, Digest),
      version: r.field(tag, 3, SemVer),
    }),
  );
  if (programs.length === 0)
    throw r.missing('zkvm', EX.zkvm, ' (list each program the provider proves with)');
  const prices = r
    .all('price')
    .map(
      (tag): HandlerPrice => ({ msats: r.field(tag, 1, Msats), unit: r.field(tag, 2, PriceUnit) }),
    );
  if (prices.length === 0) throw r.missing('price', EX.price);
  const units = new Set(prices.map((p) => p.unit));
  if (units.size !== prices.length)
    throw r.bad('price', 'lists one unit twice; give one price per unit');
  let json: unknown;
  try {
    json = JSON.parse(event.content);
  } catch {
    json = undefined;
  }
  const metadata = HandlerMetadata.safeParse(json);
  if (!metadata.success) {
    const issue = metadata.error.issues[0];
    throw dvmError(
      DVM_ERRORS.badContent,
      `${r.what}: content must be JSON metadata such as {"name": "…", "about": "…"}: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
      { eventId: event.id },
    );
  }
  return { ...baseOf(event), identifier, kinds, metadata: metadata.data, programs, prices };
}
