import { z } from 'zod';

/**
 * Wire objects of the VES v1 REST API (stateset-sequencer).
 *
 * The request and response wrappers follow `stateset-sequencer-openapi.yaml` (camelCase:
 * `agentId`, `events`, `receipts`, `headSequence`, ...). The event itself follows the VES-SIG-1
 * §10.2 / VES-ENC-1 §9.2 "signed event" schema (snake_case), because that is what the real
 * sequencer deserializes inside `events[]` and the only form that carries every signed field.
 * The OpenAPI file documents a reduced camelCase envelope; it is kept as
 * `OpenApiVesEventEnvelope` with a converter (`fromOpenApiEnvelope` in sign.ts).
 */

/** The patterns behind the schemas below (exported for hand-written fast paths that must agree). */
export const UUID_RE =
  /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** RFC 3339 date-time with a time zone (Z or ±hh:mm). */
export const RFC3339_RE = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
export const HEX32_RE = /^(0x)?[0-9a-fA-F]{64}$/;
export const HEX64_RE = /^(0x)?[0-9a-fA-F]{128}$/;
export const ZERO_HASH_RE = /^(0x)?0{64}$/;

export const Uuid = z.string().regex(UUID_RE, 'expected a UUID (8-4-4-4-12 hex digits)');
export const Rfc3339 = z
  .string()
  .regex(RFC3339_RE, 'expected an RFC 3339 timestamp such as 2025-01-01T00:00:00Z')
  .refine((s) => !Number.isNaN(Date.parse(s)), 'expected a real calendar date and time');
/** 32 bytes as hex, with or without the spec's `0x` prefix. */
export const Hex32 = z.string().regex(HEX32_RE, 'expected 32 bytes as hex');
/** 64 bytes as hex, with or without the spec's `0x` prefix. */
export const Hex64 = z.string().regex(HEX64_RE, 'expected 64 bytes as hex');
const U32 = z.number().int().min(0).max(0xffff_ffff);
const SeqNo = z.number().int().min(0);
const B64u = z.string().regex(/^[A-Za-z0-9_-]*$/, 'expected base64url without padding');

/** A JSON value (what JCS can canonicalize). */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };
export const JsonValueSchema: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([
    z.null(),
    z.boolean(),
    z.number(),
    z.string(),
    z.array(JsonValueSchema),
    z.record(z.string(), JsonValueSchema),
  ]),
);

// ---------------------------------------------------------------------------------------------
// VES-ENC-1 encrypted payload (§4.1, §9.1)
// ---------------------------------------------------------------------------------------------

export const HpkeParams = z.object({
  mode: z.literal('base'),
  kem: z.literal('X25519-HKDF-SHA256'),
  kdf: z.literal('HKDF-SHA256'),
  aead: z.literal('AES-256-GCM'),
});

export const EncryptedRecipient = z.object({
  recipient_kid: U32,
  enc_b64u: B64u.length(43, 'enc_b64u must encode 32 bytes'),
  ct_b64u: B64u.length(64, 'ct_b64u must encode 48 bytes'),
});
export type EncryptedRecipient = z.infer<typeof EncryptedRecipient>;

export const PayloadEncrypted = z
  .object({
    enc_version: z.literal(1),
    aead: z.literal('AES-256-GCM'),
    nonce_b64u: B64u.length(16, 'nonce_b64u must encode 12 bytes'),
    ciphertext_b64u: B64u,
    tag_b64u: B64u.length(22, 'tag_b64u must encode 16 bytes'),
    hpke: HpkeParams,
    recipients: z.array(EncryptedRecipient).min(1, 'at least one recipient'),
  })
  .refine(
    (p) =>
      p.recipients.every(
        (r, i, all) => i === 0 || (all[i - 1]?.recipient_kid ?? -1) < r.recipient_kid,
      ),
    {
      message: 'recipients must be sorted by recipient_kid ascending, without repeats',
      path: ['recipients'],
    },
  );
export type PayloadEncrypted = z.infer<typeof PayloadEncrypted>;

// ---------------------------------------------------------------------------------------------
// The signed event (VES-SIG-1 §10.2, VES-ENC-1 §9.2)
// ---------------------------------------------------------------------------------------------

export const VesEventEnvelope = z
  .object({
    ves_version: z.literal(1),
    event_id: Uuid,
    tenant_id: Uuid,
    store_id: Uuid,
    source_agent_id: Uuid,
    agent_key_id: U32,
    entity_type: z.string().min(1),
    entity_id: z.string().min(1),
    event_type: z.string().min(1),
    /** Kept as the exact string the agent signed. */
    created_at: Rfc3339,
    payload_kind: z.union([z.literal(0), z.literal(1)]),
    payload: JsonValueSchema.optional(),
    payload_encrypted: PayloadEncrypted.optional(),
    payload_plain_hash: Hex32,
    payload_cipher_hash: Hex32,
    agent_signature: Hex64,
    command_id: Uuid.optional(),
    base_version: SeqNo.optional(),
    /** Set by the sequencer on read; never signed. */
    sequence_number: SeqNo.optional(),
    sequenced_at: z.string().optional(),
  })
  .superRefine((e, ctx) => {
    if (e.payload_kind === 0) {
      if (e.payload === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['payload'],
          message: 'payload_kind 0 requires payload',
        });
      if (e.payload_encrypted !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['payload_encrypted'],
          message: 'payload_kind 0 must not carry payload_encrypted',
        });
      if (!ZERO_HASH_RE.test(e.payload_cipher_hash))
        ctx.addIssue({
          code: 'custom',
          path: ['payload_cipher_hash'],
          message: 'payload_kind 0 requires an all-zero payload_cipher_hash',
        });
    } else if (e.payload_encrypted === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['payload_encrypted'],
        message: 'payload_kind 1 requires payload_encrypted',
      });
    }
  });
export type VesEventEnvelope = z.infer<typeof VesEventEnvelope>;

/** The envelope before signing: hashes are computed by `signVesEvent` for plaintext payloads. */
export type UnsignedVesEvent = Omit<
  VesEventEnvelope,
  'agent_signature' | 'payload_plain_hash' | 'payload_cipher_hash' | 'ves_version'
> & {
  ves_version?: 1;
  payload_plain_hash?: string;
  payload_cipher_hash?: string;
};

/** `POST /v1/ves/events/ingest` body. All events of one request share tenant_id and store_id. */
export const VesIngestRequest = z.object({
  agentId: Uuid,
  events: z.array(VesEventEnvelope).min(1, 'events must not be empty'),
});
export type VesIngestRequest = z.infer<typeof VesIngestRequest>;

export const VesReceipt = z.object({
  sequencerId: Uuid.optional(),
  eventId: Uuid,
  sequenceNumber: SeqNo,
  sequencedAt: z.string().optional(),
  /** Hex SHA-256 receipt hash (VES_RECEIPT_V1). */
  receiptHash: z.string().optional(),
  signatureAlg: z.string().optional(),
  sequencerSignature: z.string().optional(),
});
export type VesReceipt = z.infer<typeof VesReceipt>;

export const RejectionInfo = z.object({
  event_id: Uuid,
  /** e.g. duplicate_event_id, invalid_signature, invalid_payload_hash, agent_key_invalid: ... */
  reason: z.string(),
  message: z.string().optional(),
});
export type RejectionInfo = z.infer<typeof RejectionInfo>;

/**
 * Ingest result. An exact replay of an already sequenced event (same event_id, same content)
 * comes back in `receipts` with its original sequence number; that is what makes a resent
 * batch exactly-once. A different event under a known event_id is a `duplicate_event_id`
 * rejection.
 */
export const VesIngestResponse = z.object({
  batchId: Uuid.optional(),
  eventsAccepted: z.number().int().min(0),
  eventsRejected: z.number().int().min(0),
  sequenceStart: SeqNo.nullable().optional(),
  sequenceEnd: SeqNo.nullable().optional(),
  headSequence: SeqNo,
  rejections: z.array(RejectionInfo).optional(),
  receipts: z.array(VesReceipt).optional(),
});
export type VesIngestResponse = z.infer<typeof VesIngestResponse>;

/** The API error body (`components.schemas.ApiError`). */
export const ApiError = z.object({
  error: z.string(),
  code: z.number().int(),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
  request_id: z.string().optional(),
  docs_url: z.string().optional(),
});
export type ApiError = z.infer<typeof ApiError>;

/**
 * `POST /v1/agents/keys`. `proofOfPossession` is this project's extension (not in the OpenAPI
 * file; the real sequencer ignores unknown fields): the Ed25519 signature, by the key being
 * registered, over `keyRegistrationHash` (sign.ts). See node/ves/README.md.
 */
export const RegisterAgentKeyRequest = z.object({
  tenantId: Uuid,
  agentId: Uuid,
  keyId: U32,
  /** Hex Ed25519 public key (32 bytes), `0x` optional. */
  publicKey: Hex32,
  validFrom: Rfc3339.optional(),
  validTo: Rfc3339.optional(),
  proofOfPossession: Hex64.optional(),
});
export type RegisterAgentKeyRequest = z.infer<typeof RegisterAgentKeyRequest>;

/** The OpenAPI says `{agent_id, key_id, active}`; the real server says `{success, agentId, keyId, ...}`. */
export const RegisterAgentKeyResponse = z
  .object({
    agent_id: Uuid.optional(),
    key_id: z.number().int().optional(),
    active: z.boolean().optional(),
    agentId: Uuid.optional(),
    keyId: z.number().int().optional(),
    success: z.boolean().optional(),
    message: z.string().optional(),
  })
  .loose();
export type RegisterAgentKeyResponse = z.infer<typeof RegisterAgentKeyResponse>;

/** `GET /v1/head?tenant_id&store_id`. */
export const HeadResponse = z.object({ head_sequence: SeqNo });
export type HeadResponse = z.infer<typeof HeadResponse>;

/**
 * One element of `GET /v1/events` (`components.schemas.SequencedEvent`). A sequencer that
 * stores VES envelopes (ours) returns the whole signed envelope plus `sequence_number`; the
 * extra fields are kept.
 */
export const SequencedEvent = z
  .object({
    event_id: Uuid,
    tenant_id: Uuid.optional(),
    store_id: Uuid.optional(),
    sequence_number: SeqNo,
    event_type: z.string().optional(),
    entity_type: z.string().optional(),
    entity_id: z.string().optional(),
    payload: z.unknown().optional(),
    event_hash: z.string().optional(),
    created_at: z.string().optional(),
  })
  .loose();
export type SequencedEvent = z.infer<typeof SequencedEvent>;

/** The OpenAPI file answers a bare array; the real server wraps it as `{events, count}`. */
export const ListEventsResponse = z.union([
  z.array(SequencedEvent),
  z.object({ events: z.array(SequencedEvent), count: z.number().int().optional() }).loose(),
]);

/** The reduced camelCase envelope that `components.schemas.VesEventEnvelope` documents. */
export const OpenApiVesEventEnvelope = z.object({
  eventId: Uuid,
  tenantId: Uuid,
  storeId: Uuid,
  eventType: z.string().min(1),
  entityType: z.string().min(1),
  entityId: z.string().min(1),
  payload: z.record(z.string(), JsonValueSchema),
  encryptedPayload: z.string().optional(),
  signingKeyId: U32,
  /** Hex Ed25519 signature. */
  signature: Hex64,
  timestamp: Rfc3339.optional(),
});
export type OpenApiVesEventEnvelope = z.infer<typeof OpenApiVesEventEnvelope>;
