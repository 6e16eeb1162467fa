import { describe, expect, it } from 'vitest';
import { hex0x } from '../../node/ves/hash.js';
import {
  agentPublicKey,
  fromOpenApiEnvelope,
  keyRegistrationHash,
  signKeyRegistration,
  signVesEvent,
  verifyKeyRegistration,
  verifyVesEvent,
} from '../../node/ves/sign.js';
import { ListEventsResponse, VesIngestRequest, VesIngestResponse } from '../../node/ves/types.js';
import { AGENT, hex, STORE, sampleEvent, TENANT, TEST_SECRET } from '../support/ves.js';

describe('key registration proof of possession', () => {
  it('signs and verifies; any changed field or another key fails', () => {
    const req = signKeyRegistration(
      { tenantId: TENANT, agentId: AGENT, keyId: 1, validFrom: '2026-01-01T00:00:00Z' },
      TEST_SECRET,
    );
    expect(req.publicKey).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    expect(verifyKeyRegistration(req)).toBe(true);
    expect(verifyKeyRegistration({ ...req, keyId: 2 })).toBe(false);
    expect(verifyKeyRegistration({ ...req, validFrom: undefined })).toBe(false);
    expect(verifyKeyRegistration({ ...req, validTo: '2027-01-01T00:00:00Z' })).toBe(false);
    expect(verifyKeyRegistration({ ...req, agentId: TENANT })).toBe(false);
    const other = signKeyRegistration(
      { tenantId: TENANT, agentId: AGENT, keyId: 1 },
      hex('11'.repeat(32)),
    );
    expect(verifyKeyRegistration({ ...req, publicKey: other.publicKey })).toBe(false);
    expect(verifyKeyRegistration({ ...req, proofOfPossession: undefined })).toBe(false);
    // The message (this project's definition, README) pinned; cross-checked with Python hashlib.
    expect(
      hex0x(
        keyRegistrationHash({
          tenantId: TENANT,
          agentId: AGENT,
          keyId: 1,
          publicKey: req.publicKey,
        }),
      ),
    ).toBe('0x617b7db5b56cef323d0c2c4360ac1070fa778166c6297eb8b176154b2f43e931');
  });
});

describe('wire shapes', () => {
  it('the OpenAPI camelCase envelope maps to the signed event and verifies', () => {
    const e = sampleEvent(3);
    const camel = {
      eventId: e.event_id,
      tenantId: e.tenant_id,
      storeId: e.store_id,
      eventType: e.event_type,
      entityType: e.entity_type,
      entityId: e.entity_id,
      payload: e.payload as Record<string, never>,
      signingKeyId: e.agent_key_id,
      signature: e.agent_signature.slice(2),
      timestamp: e.created_at,
    };
    const full = fromOpenApiEnvelope(camel, AGENT);
    expect(full).toEqual(e);
    expect(verifyVesEvent(full, agentPublicKey(TEST_SECRET))).toEqual({ ok: true });
    expect(() => fromOpenApiEnvelope({ ...camel, timestamp: undefined }, AGENT)).toThrow(
      /timestamp/,
    );
    expect(() => fromOpenApiEnvelope({ ...camel, encryptedPayload: 'AA' }, AGENT)).toThrow(
      /encrypted/,
    );
  });

  it('ingest request and responses of both the OpenAPI file and the real server parse', () => {
    expect(VesIngestRequest.safeParse({ agentId: AGENT, events: [] }).success).toBe(false);
    expect(VesIngestRequest.safeParse({ agentId: AGENT, events: [sampleEvent(1)] }).success).toBe(
      true,
    );
    const response = {
      batchId: '33333333-3333-3333-3333-333333333333',
      eventsAccepted: 1,
      eventsRejected: 1,
      sequenceStart: 7,
      sequenceEnd: 7,
      headSequence: 7,
      rejections: [{ event_id: AGENT, reason: 'invalid_signature', message: 'bad' }],
      receipts: [
        {
          sequencerId: '44444444-4444-4444-4444-444444444444',
          eventId: TENANT,
          sequenceNumber: 7,
          sequencedAt: '2026-01-01T00:00:00Z',
          receiptHash: 'ab'.repeat(32),
          signatureAlg: 'ed25519',
          sequencerSignature: 'cd'.repeat(64),
        },
      ],
    };
    expect(VesIngestResponse.parse(response).receipts?.[0]?.sequenceNumber).toBe(7);
    expect(
      VesIngestResponse.safeParse({ ...response, sequenceStart: null, sequenceEnd: null }).success,
    ).toBe(true);
    const ev = {
      event_id: TENANT,
      tenant_id: TENANT,
      store_id: STORE,
      sequence_number: 1,
      event_type: 'x',
    };
    expect(ListEventsResponse.parse([ev])).toEqual([ev]);
    expect(ListEventsResponse.parse({ events: [ev], count: 1 })).toMatchObject({ events: [ev] });
  });

  it('signVesEvent refuses incomplete events with a typed error', () => {
    const base = {
      event_id: TENANT,
      tenant_id: TENANT,
      store_id: STORE,
      source_agent_id: AGENT,
      agent_key_id: 1,
      entity_type: 'job',
      entity_id: 'j',
      event_type: 'job.requested',
      created_at: '2026-01-01T00:00:00Z',
    };
    expect(() => signVesEvent({ ...base, payload_kind: 0 }, TEST_SECRET)).toThrow(
      expect.objectContaining({ code: 'VES_EVENT_INVALID' }),
    );
    expect(() => signVesEvent({ ...base, payload_kind: 1 }, TEST_SECRET)).toThrow(
      expect.objectContaining({ code: 'VES_EVENT_INVALID' }),
    );
    expect(() =>
      signVesEvent({ ...base, created_at: 'now', payload_kind: 0, payload: {} }, TEST_SECRET),
    ).toThrow(expect.objectContaining({ code: 'VES_EVENT_INVALID' }));
    expect(() =>
      signVesEvent({ ...base, payload_kind: 0, payload: {} }, new Uint8Array(31)),
    ).toThrow(expect.objectContaining({ code: 'VES_KEY_INVALID' }));
  });
});
