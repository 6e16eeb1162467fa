import { sha256 } from '@noble/hashes/sha2.js';
import { z } from 'zod';
import { M2mError } from '../../zkvm/errors.js';
import { type EncryptTestHooks, encryptVesPayload, type RecipientPublicKey } from './encrypt.js';
import { bytesToHex, concatBytes, encStr, uuidBytes } from './hash.js';
import type { Outbox } from './outbox.js';
import { signVesEvent } from './sign.js';
import type { JsonValue, VesEventEnvelope } from './types.js';

/**
 * The market's own facts as VES events. Conventions (stable; the sequencer and readers rely on
 * them):
 *
 * | kind               | entity_type | entity_id                  | dedupe key          |
 * | ------------------ | ----------- | -------------------------- | ------------------- |
 * | `job.requested`    | `job`       | job request event id (hex) | job id              |
 * | `job.proved`       | `job`       | job id                     | job id              |
 * | `job.verified`     | `job`       | job id                     | job id              |
 * | `payment.settled`  | `payment`   | payment (transfer) id      | payment id          |
 * | `provider.slashed` | `provider`  | provider pubkey (hex)      | provider + job id   |
 *
 * `event_type` is the kind. The event id is derived from (tenant, store, agent, kind, dedupe key),
 * so recording the same fact twice appends nothing new (retries are idempotent). Amounts are
 * integers in the asset's smallest unit, written as decimal strings (JSON has no bigint).
 */

export type MarketEventKind =
  | 'job.requested'
  | 'job.proved'
  | 'job.verified'
  | 'payment.settled'
  | 'provider.slashed';

const Amount = z
  .union([z.bigint(), z.string().regex(/^(0|[1-9]\d*)$/), z.number().int().nonnegative()])
  .transform((v) => (typeof v === 'bigint' ? v.toString() : String(v)))
  .refine((v) => /^(0|[1-9]\d*)$/.test(v), 'amount must be a non-negative integer (smallest unit)');
const Id = z.string().min(1).max(256);
const Digest = z.string().min(1).max(200);

const JobRequested = z
  .object({
    jobId: Id,
    customer: Id,
    planHash: Digest,
    bid: z.object({ amount: Amount, asset: z.string().min(1) }),
    zkvm: z.string().optional(),
    deadline: z.string().optional(),
  })
  .loose();
const JobProved = z
  .object({
    jobId: Id,
    provider: Id,
    programId: z.string().min(1),
    planHash: Digest,
    outputHash: Digest,
    proofRef: z.string().optional(),
    provingTimeMs: z.number().int().nonnegative(),
    cyclesUsed: z.number().int().nonnegative(),
  })
  .loose();
const JobVerified = z
  .object({ jobId: Id, verifier: Id, valid: z.boolean(), reason: z.string().optional() })
  .loose();
const PaymentSettled = z
  .object({ paymentId: Id, jobId: Id, from: Id, to: Id, amount: Amount, asset: z.string().min(1) })
  .loose();
const ProviderSlashed = z
  .object({
    provider: Id,
    jobId: Id,
    amount: Amount,
    asset: z.string().min(1),
    reason: z.string().min(1),
  })
  .loose();

const SPEC = {
  'job.requested': {
    schema: JobRequested,
    entityType: 'job',
    entityId: (d: Data) => String(d.jobId),
    key: (d: Data) => String(d.jobId),
  },
  'job.proved': {
    schema: JobProved,
    entityType: 'job',
    entityId: (d: Data) => String(d.jobId),
    key: (d: Data) => String(d.jobId),
  },
  'job.verified': {
    schema: JobVerified,
    entityType: 'job',
    entityId: (d: Data) => String(d.jobId),
    key: (d: Data) => String(d.jobId),
  },
  'payment.settled': {
    schema: PaymentSettled,
    entityType: 'payment',
    entityId: (d: Data) => String(d.paymentId),
    key: (d: Data) => String(d.paymentId),
  },
  'provider.slashed': {
    schema: ProviderSlashed,
    entityType: 'provider',
    entityId: (d: Data) => String(d.provider),
    key: (d: Data) => `${String(d.provider)}:${String(d.jobId)}`,
  },
} as const;
type Data = { readonly [key: string]: unknown };

export type MarketEventData = {
  'job.requested': z.input<typeof JobRequested>;
  'job.proved': z.input<typeof JobProved>;
  'job.verified': z.input<typeof JobVerified>;
  'payment.settled': z.input<typeof PaymentSettled>;
  'provider.slashed': z.input<typeof ProviderSlashed>;
};

export interface MarketEventContext {
  tenantId: string;
  storeId: string;
  agentId: string;
  keyId: number;
  /** The agent's Ed25519 seed. */
  secretKey: Uint8Array;
  outbox: Outbox;
  /** When given, the payload is encrypted (VES-ENC-1) for these recipients. */
  encryptFor?: readonly RecipientPublicKey[];
  now?: () => Date;
  /** Fixed randomness for reproducible tests only. */
  encryptHooks?: EncryptTestHooks;
}

const DOMAIN_MARKET_EVENT_ID = new TextEncoder().encode('M2M_MARKET_EVENT_ID_V1');

/** A UUID (version 8, RFC 9562 custom) derived from the fact's identity. */
export function marketEventId(
  ctx: Pick<MarketEventContext, 'tenantId' | 'storeId' | 'agentId'>,
  kind: MarketEventKind,
  dedupeKey: string,
): string {
  const h = sha256(
    concatBytes(
      DOMAIN_MARKET_EVENT_ID,
      uuidBytes(ctx.tenantId),
      uuidBytes(ctx.storeId),
      uuidBytes(ctx.agentId),
      encStr(kind),
      encStr(dedupeKey),
    ),
  ).slice(0, 16);
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x80;
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80;
  const x = bytesToHex(h);
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/**
 * Builds the signed VES event for a market fact and appends it to the outbox. Returns the stored
 * envelope; when the same fact (same dedupe key) was recorded before, returns that event and
 * appends nothing.
 */
export async function marketEvent<K extends MarketEventKind>(
  kind: K,
  data: MarketEventData[K],
  ctx: MarketEventContext,
): Promise<{ envelope: VesEventEnvelope; appended: boolean }> {
  const spec = SPEC[kind];
  if (spec === undefined)
    throw new M2mError('VES_MARKET_EVENT_KIND', `unknown market event kind "${String(kind)}"`);
  const parsed = spec.schema.safeParse(data);
  if (!parsed.success)
    throw new M2mError(
      'VES_MARKET_EVENT_INVALID',
      `${kind}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  const payload = parsed.data as unknown as JsonValue & Data;
  const eventId = marketEventId(ctx, kind, spec.key(payload));
  const existing = ctx.outbox.get(eventId);
  if (existing !== undefined) return { envelope: existing.envelope, appended: false };

  const base = {
    event_id: eventId,
    tenant_id: ctx.tenantId,
    store_id: ctx.storeId,
    source_agent_id: ctx.agentId,
    agent_key_id: ctx.keyId,
    entity_type: spec.entityType,
    entity_id: spec.entityId(payload),
    event_type: kind,
    created_at: (ctx.now ?? (() => new Date()))().toISOString(),
  };
  let envelope: VesEventEnvelope;
  if (ctx.encryptFor === undefined || ctx.encryptFor.length === 0) {
    envelope = signVesEvent({ ...base, payload_kind: 0, payload }, ctx.secretKey);
  } else {
    const encrypted = await encryptVesPayload(payload, base, ctx.encryptFor, ctx.encryptHooks);
    envelope = signVesEvent(
      {
        ...base,
        payload_kind: 1,
        payload_encrypted: encrypted.payload_encrypted,
        payload_plain_hash: encrypted.payload_plain_hash,
        payload_cipher_hash: encrypted.payload_cipher_hash,
      },
      ctx.secretKey,
    );
  }
  const { inserted } = ctx.outbox.append(envelope);
  return {
    envelope: inserted ? envelope : (ctx.outbox.get(eventId)?.envelope ?? envelope),
    appended: inserted,
  };
}
