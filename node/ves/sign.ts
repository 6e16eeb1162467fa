import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { M2mError } from '../../zkvm/errors.js';
import {
  concatBytes,
  DOMAIN_KEYREG,
  encStr,
  equalBytes,
  eventSigningHash,
  hex0x,
  hexToBytes,
  payloadAad,
  payloadCipherHashOf,
  payloadPlainHash,
  u32be,
  uuidBytes,
  VES_VERSION,
  ZERO_HASH,
} from './hash.js';
import {
  type OpenApiVesEventEnvelope,
  type RegisterAgentKeyRequest,
  type UnsignedVesEvent,
  VesEventEnvelope,
} from './types.js';

/** Ed25519 agent keys (VES-SIG-1 §4): 32-byte secret seed, 32-byte public key. */
export function generateAgentSecretKey(): Uint8Array {
  return ed25519.utils.randomSecretKey();
}

export function agentPublicKey(secretKey: Uint8Array): Uint8Array {
  checkLength(secretKey, 32, 'agent secret key');
  return ed25519.getPublicKey(secretKey);
}

function checkLength(bytes: Uint8Array, length: number, what: string): void {
  if (bytes.length !== length)
    throw new M2mError('VES_KEY_INVALID', `${what} must be ${length} bytes, got ${bytes.length}`);
}

/**
 * Signs an event. For a plaintext event (`payload_kind` 0) the payload hashes are computed here
 * (plain = JCS hash without salt, cipher = zeros); for an encrypted event they must come from
 * `encryptVesPayload`. Returns the validated envelope with `0x` hex hashes and signature.
 */
export function signVesEvent(
  unsigned: UnsignedVesEvent,
  agentSecretKey: Uint8Array,
): VesEventEnvelope {
  checkLength(agentSecretKey, 32, 'agent secret key');
  let plain: string;
  let cipher: string;
  if (unsigned.payload_kind === 0) {
    if (unsigned.payload === undefined)
      throw new M2mError('VES_EVENT_INVALID', 'a plaintext event (payload_kind 0) needs a payload');
    plain = hex0x(payloadPlainHash(unsigned.payload));
    cipher = hex0x(ZERO_HASH);
    if (unsigned.payload_plain_hash !== undefined && !sameHex(unsigned.payload_plain_hash, plain))
      throw new M2mError(
        'VES_PAYLOAD_HASH_MISMATCH',
        'payload_plain_hash does not match the payload',
      );
  } else {
    if (unsigned.payload_plain_hash === undefined || unsigned.payload_cipher_hash === undefined)
      throw new M2mError(
        'VES_EVENT_INVALID',
        'an encrypted event (payload_kind 1) needs payload_plain_hash and payload_cipher_hash from encryptVesPayload',
      );
    plain = hex0x(hexToBytes(unsigned.payload_plain_hash, 32));
    cipher = hex0x(hexToBytes(unsigned.payload_cipher_hash, 32));
  }
  const draft = {
    ...unsigned,
    ves_version: VES_VERSION as 1,
    payload_plain_hash: plain,
    payload_cipher_hash: cipher,
  };
  const signature = ed25519.sign(eventSigningHash(draft), agentSecretKey);
  const parsed = VesEventEnvelope.safeParse({ ...draft, agent_signature: hex0x(signature) });
  if (!parsed.success)
    throw new M2mError(
      'VES_EVENT_INVALID',
      `event is not a valid VES v1 envelope: ${parsed.error.message}`,
      {
        details: { issues: parsed.error.issues },
      },
    );
  return parsed.data;
}

const sameHex = (a: string, b: string): boolean =>
  a.replace(/^0x/i, '').toLowerCase() === b.replace(/^0x/i, '').toLowerCase();

/** Checks only the Ed25519 signature over the event signing hash (the hashes as written). */
export function verifyVesEventSignature(
  envelope: VesEventEnvelope,
  agentPublicKey: Uint8Array,
): boolean {
  try {
    if (agentPublicKey.length !== 32) return false;
    const signature = hexToBytes(envelope.agent_signature, 64);
    return ed25519.verify(signature, eventSigningHash(envelope), agentPublicKey);
  } catch {
    return false;
  }
}

/** Reasons named as in ves_sig_1 `verification_test_cases` and the sequencer's rejections. */
export type VesVerifyFailure =
  | 'PayloadHashMismatch'
  | 'CipherHashMismatch'
  | 'NonZeroCipherHash'
  | 'SignatureVerificationFailed'
  | 'MalformedEvent';

export type VesVerifyResult =
  | { ok: true }
  | { ok: false; reason: VesVerifyFailure; message: string };

/**
 * What a sequencer checks before sequencing (VES-SIG-1 §7.2 steps 1, 3, 4; key lookup is the
 * caller's): plaintext payload hash recomputed, cipher hash zero for plaintext or recomputed
 * from the encrypted structure, then the signature.
 */
export function verifyVesEvent(envelope: unknown, agentPublicKey: Uint8Array): VesVerifyResult {
  const parsed = VesEventEnvelope.safeParse(envelope);
  if (!parsed.success)
    return { ok: false, reason: 'MalformedEvent', message: parsed.error.message };
  const e = parsed.data;
  try {
    const plain = hexToBytes(e.payload_plain_hash, 32);
    const cipher = hexToBytes(e.payload_cipher_hash, 32);
    if (e.payload_kind === 0) {
      if (!equalBytes(payloadPlainHash(e.payload), plain))
        return {
          ok: false,
          reason: 'PayloadHashMismatch',
          message: 'payload_plain_hash does not match JCS(payload)',
        };
      if (!equalBytes(cipher, ZERO_HASH))
        return {
          ok: false,
          reason: 'NonZeroCipherHash',
          message: 'plaintext event must have a zero cipher hash',
        };
    } else if (e.payload_encrypted !== undefined) {
      const computed = payloadCipherHashOf(e.payload_encrypted, payloadAad(e, plain));
      if (!equalBytes(computed, cipher))
        return {
          ok: false,
          reason: 'CipherHashMismatch',
          message: 'payload_cipher_hash does not match the encrypted payload',
        };
    }
  } catch (error) {
    return { ok: false, reason: 'MalformedEvent', message: (error as Error).message };
  }
  return verifyVesEventSignature(e, agentPublicKey)
    ? { ok: true }
    : {
        ok: false,
        reason: 'SignatureVerificationFailed',
        message: 'agent signature does not verify',
      };
}

// ---------------------------------------------------------------------------------------------
// Key registration proof of possession (this project's definition; see README.md)
// ---------------------------------------------------------------------------------------------

/**
 * `SHA256("VES_KEYREG_V1" || UUID(tenantId) || UUID(agentId) || U32_BE(keyId) || publicKey ||
 * ENC_STR(validFrom ?? "") || ENC_STR(validTo ?? ""))`.
 */
export function keyRegistrationHash(
  req: Omit<RegisterAgentKeyRequest, 'proofOfPossession'>,
): Uint8Array {
  return sha256(
    concatBytes(
      DOMAIN_KEYREG,
      uuidBytes(req.tenantId),
      uuidBytes(req.agentId),
      u32be(req.keyId),
      hexToBytes(req.publicKey, 32),
      encStr(req.validFrom ?? ''),
      encStr(req.validTo ?? ''),
    ),
  );
}

/** Builds the `/v1/agents/keys` body for the key of `agentSecretKey`, with its proof of possession. */
export function signKeyRegistration(
  fields: {
    tenantId: string;
    agentId: string;
    keyId: number;
    validFrom?: string;
    validTo?: string;
  },
  agentSecretKey: Uint8Array,
): RegisterAgentKeyRequest {
  const request: RegisterAgentKeyRequest = {
    tenantId: fields.tenantId,
    agentId: fields.agentId,
    keyId: fields.keyId,
    publicKey: Buffer.from(agentPublicKey(agentSecretKey)).toString('hex'),
    ...(fields.validFrom === undefined ? {} : { validFrom: fields.validFrom }),
    ...(fields.validTo === undefined ? {} : { validTo: fields.validTo }),
  };
  const pop = ed25519.sign(keyRegistrationHash(request), agentSecretKey);
  return { ...request, proofOfPossession: Buffer.from(pop).toString('hex') };
}

/** True when `proofOfPossession` is present and made by the key being registered. */
export function verifyKeyRegistration(req: RegisterAgentKeyRequest): boolean {
  if (req.proofOfPossession === undefined) return false;
  try {
    return ed25519.verify(
      hexToBytes(req.proofOfPossession, 64),
      keyRegistrationHash(req),
      hexToBytes(req.publicKey, 32),
    );
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// The OpenAPI file's reduced envelope
// ---------------------------------------------------------------------------------------------

/**
 * Maps the camelCase envelope of the OpenAPI file to the full signed event: `agentId` of the
 * request is the source agent, `signingKeyId` the key id, `timestamp` the signed `created_at`.
 * Only plaintext events can be expressed this way (an encrypted payload's plain hash is
 * salted and not recomputable), so `encryptedPayload` is refused.
 */
export function fromOpenApiEnvelope(e: OpenApiVesEventEnvelope, agentId: string): VesEventEnvelope {
  if (e.encryptedPayload !== undefined)
    throw new M2mError(
      'VES_EVENT_INVALID',
      'the camelCase envelope cannot carry an encrypted payload; send the VES-ENC-1 snake_case envelope',
    );
  if (e.timestamp === undefined)
    throw new M2mError('VES_EVENT_INVALID', 'timestamp is required: it is the signed created_at');
  return VesEventEnvelope.parse({
    ves_version: 1,
    event_id: e.eventId,
    tenant_id: e.tenantId,
    store_id: e.storeId,
    source_agent_id: agentId,
    agent_key_id: e.signingKeyId,
    entity_type: e.entityType,
    entity_id: e.entityId,
    event_type: e.eventType,
    created_at: e.timestamp,
    payload_kind: 0,
    payload: e.payload,
    payload_plain_hash: hex0x(payloadPlainHash(e.payload)),
    payload_cipher_hash: hex0x(ZERO_HASH),
    agent_signature: e.signature.startsWith('0x') ? e.signature : `0x${e.signature}`,
  });
}
