/**
 * The sequencer's API conformance suite, run once per store (SQLite and PostgreSQL): real HTTP
 * on 127.0.0.1, real databases, real Ed25519 signatures and a real STARK compliance proof.
 */
import { randomUUID } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stateRoot } from '../../node/sequencer/commitments.js';
import {
  type RunningSequencer,
  type StoreConfig,
  startSequencer,
} from '../../node/sequencer/server.js';
import { encryptVesPayload, generateRecipientKeyPair } from '../../node/ves/encrypt.js';
import { eventSigningHash } from '../../node/ves/hash.js';
import { vesLeafHash, vesMerkleRoot, vesVerifyInclusion } from '../../node/ves/merkle.js';
import { type VesReceipt, verifyReceipt } from '../../node/ves/receipt.js';
import { fromOpenApiEnvelope, signVesEvent } from '../../node/ves/sign.js';
import { ApiError, VesEventEnvelope, VesIngestResponse } from '../../node/ves/types.js';
import { type generatePublicInputs, proveCompliance } from '../../zkvm/compliance/compliance.js';
import { encodeEnvelope } from '../../zkvm/proof/envelope.js';
import { findNativeProver } from '../../zkvm/prover/native-process.js';
import { newAgent, SequencerClient, signedEvent, type TestAgent } from '../support/sequencer.js';

const API_KEY = 'conformance-key';
const LIMITS = { maxBatch: 50, maxPayloadBytes: 4096 };

type Json = Record<string, unknown>;

/** `verifyThreads` 0 checks signatures inline; the default uses the worker pool. */
export function sequencerConformance(
  name: string,
  storeConfig: () => Promise<StoreConfig>,
  verifyThreads?: number,
): void {
  describe(`sequencer conformance (${name})`, () => {
    let config: StoreConfig;
    let server: RunningSequencer;
    let api: SequencerClient;
    const seed = ed25519.utils.randomSecretKey();
    const agent: TestAgent = newAgent();

    const start = async () => {
      server = await startSequencer({
        store: config,
        apiKeys: [API_KEY],
        limits: LIMITS,
        sequencerKey: seed,
        sequencerId: '44444444-4444-4444-4444-444444444444',
        ...(verifyThreads === undefined ? {} : { verifyThreads }),
      });
      api = new SequencerClient(server.url, API_KEY);
    };

    beforeAll(async () => {
      config = await storeConfig();
      await start();
      expect((await api.registerKey(agent)).status).toBe(201);
    });
    afterAll(async () => {
      await server?.close();
    });

    const snapshot = async () => JSON.stringify(await api.allEvents(agent));

    /** A rejected request: ApiError body with a reason; nothing sequenced; the server still answers. */
    const expectRejected = async (
      reply: { status: number; body: unknown },
      status: number,
      reason: string,
      before: string,
    ) => {
      expect(reply.status, JSON.stringify(reply.body)).toBe(status);
      const error = ApiError.parse(reply.body);
      expect(error.details?.reason).toBe(reason);
      expect(await snapshot()).toBe(before);
      const health = await fetch(`${server.origin}/health`);
      expect(health.status).toBe(200);
      return error;
    };

    it('health, ready and metrics answer; the API requires an X-API-Key', async () => {
      const health = await (await fetch(`${server.url}/health`)).json();
      expect(health).toMatchObject({ status: 'healthy' });
      const ready = await (await fetch(`${server.origin}/ready`)).json();
      expect(ready).toEqual({ status: 'ready', database: 'connected' });
      const noKey = await new SequencerClient(server.url, undefined).ingest(agent.agentId, [
        signedEvent(agent),
      ]);
      expect(noKey.status).toBe(401);
      expect(ApiError.parse(noKey.body).error).toBe('AUTH_REQUIRED');
      const wrongKey = await new SequencerClient(server.url, 'nope').request(
        'GET',
        `/v1/head?tenant_id=${agent.tenantId}&store_id=${agent.storeId}`,
      );
      expect(wrongKey.status).toBe(401);
      const metrics = await api.request('GET', '/metrics');
      expect(metrics.status).toBe(200);
      expect(String(metrics.body)).toContain('ves_ingest_latency_seconds_bucket');
    });

    it('agent keys: registration needs a proof of possession by the key itself', async () => {
      const other = newAgent(agent, 1);
      const { proofOfPossession: _, ...unsigned } = {
        tenantId: other.tenantId,
        agentId: other.agentId,
        keyId: 1,
        publicKey: bytesToHex(ed25519.getPublicKey(other.secretKey)),
        proofOfPossession: undefined,
      };
      const missing = await api.request('POST', '/v1/agents/keys', unsigned);
      expect(missing.status).toBe(422);
      expect(ApiError.parse(missing.body).details?.reason).toBe('invalid_proof_of_possession');
      const forged = await api.request('POST', '/v1/agents/keys', {
        ...unsigned,
        proofOfPossession: bytesToHex(ed25519.sign(new Uint8Array(32), agent.secretKey)),
      });
      expect(forged.status).toBe(422);
      const badUuid = await api.request('POST', '/v1/agents/keys', { ...unsigned, agentId: 'x' });
      expect(badUuid.status).toBe(400);
      expect(ApiError.parse(badUuid.body).details?.reason).toBe('malformed_uuid');
      const ok = await api.registerKey(other);
      expect(ok).toMatchObject({
        status: 201,
        body: { agent_id: other.agentId, key_id: 1, active: true },
      });
      expect((await api.registerKey(other)).status).toBe(201); // idempotent
      const list = await api.request<{ keys: Json[] }>(
        'GET',
        `/v1/agents/${other.agentId}/keys?tenant_id=${other.tenantId}`,
      );
      expect(list.body.keys).toHaveLength(1);
      expect(list.body.keys[0]).toMatchObject({ key_id: 1, status: 'active', active: true });
    });

    let first: VesEventEnvelope[] = [];
    let firstReceipts: VesReceipt[] = [];

    it('ingest sequences gap-free from 1 with receipts signed by the sequencer key', async () => {
      first = Array.from({ length: 5 }, (_, i) => signedEvent(agent, { entityId: `job-${i % 2}` }));
      const reply = await api.ingest(agent.agentId, first);
      expect(reply.status, JSON.stringify(reply.body)).toBe(200);
      const body = VesIngestResponse.parse(reply.body);
      expect(body).toMatchObject({
        eventsAccepted: 5,
        eventsRejected: 0,
        sequenceStart: 1,
        sequenceEnd: 5,
        headSequence: 5,
      });
      firstReceipts = (reply.body as { receipts: VesReceipt[] }).receipts;
      expect(firstReceipts.map((r) => r.sequenceNumber)).toEqual([1, 2, 3, 4, 5]);
      const publicKey = ed25519.getPublicKey(seed);
      expect(bytesToHex(server.sequencerPublicKey)).toBe(bytesToHex(publicKey));
      firstReceipts.forEach((r, i) => {
        const e = first[i] as VesEventEnvelope;
        expect(r.eventId).toBe(e.event_id);
        const claim = {
          tenantId: e.tenant_id,
          storeId: e.store_id,
          eventId: e.event_id,
          eventSigningHash: eventSigningHash(e),
        };
        expect(verifyReceipt(r, claim, publicKey)).toBe(true);
        expect(
          verifyReceipt({ ...r, sequenceNumber: r.sequenceNumber + 1 }, claim, publicKey),
        ).toBe(false);
      });
      expect(await api.head(agent)).toBe(5);
      const events = await api.allEvents(agent);
      expect(events.map((e) => e.sequence_number)).toEqual([1, 2, 3, 4, 5]);
      expect(events.map((e) => e.event_id)).toEqual(first.map((e) => e.event_id));
      // The stored envelope is returned exactly as signed.
      expect(VesEventEnvelope.parse(events[0])).toMatchObject({
        agent_signature: first[0]?.agent_signature,
      });
      const ves = await api.request<Json>(
        'GET',
        `/v1/ves/events?tenant_id=${agent.tenantId}&store_id=${agent.storeId}&from=2&limit=2`,
      );
      expect(ves.body).toMatchObject({
        count: 2,
        next_sequence: 4,
        head_sequence: 5,
        has_more: true,
      });
      const history = await api.request<Json>(
        'GET',
        `/v1/ves/entities/Job/job-1?tenant_id=${agent.tenantId}&store_id=${agent.storeId}`,
      );
      expect(history.body).toMatchObject({
        entity_type: 'Job',
        entity_id: 'job-1',
        count: 2,
        total: 2,
      });
      expect((history.body.events as Json[]).map((e) => e.sequence_number)).toEqual([2, 4]);
    });

    it('an exact replay returns the original receipts; nothing is sequenced again', async () => {
      const before = await snapshot();
      const reply = await api.ingest(agent.agentId, first.slice(1, 3));
      expect(reply.status).toBe(200);
      const body = VesIngestResponse.parse(reply.body);
      expect(body).toMatchObject({ eventsAccepted: 0, eventsRejected: 0, headSequence: 5 });
      expect(body.receipts?.map((r) => r.sequenceNumber)).toEqual([2, 3]);
      expect(body.receipts).toEqual(firstReceipts.slice(1, 3));
      expect(await snapshot()).toBe(before);
    });

    it('the same event_id with other content is rejected as duplicate_event_id; the rest sequences', async () => {
      const twin = signedEvent(agent, { payload: { changed: true } });
      const reused = { ...twin, event_id: first[0]?.event_id as string };
      const resigned = VesEventEnvelope.parse(reused);
      // Re-sign so only the event_id reuse is wrong, not the signature.
      const {
        agent_signature: _s,
        payload_plain_hash: _p,
        payload_cipher_hash: _c,
        ves_version: _v,
        ...unsigned
      } = resigned;
      const conflicting = signVesEvent(unsigned, agent.secretKey);
      const fresh = signedEvent(agent);
      const reply = await api.ingest(agent.agentId, [conflicting, fresh]);
      expect(reply.status).toBe(200);
      const body = VesIngestResponse.parse(reply.body);
      expect(body).toMatchObject({
        eventsAccepted: 1,
        eventsRejected: 1,
        sequenceStart: 6,
        sequenceEnd: 6,
        headSequence: 6,
      });
      expect(body.rejections?.[0]).toMatchObject({
        event_id: first[0]?.event_id,
        reason: 'duplicate_event_id',
      });
      const events = await api.allEvents(agent);
      expect(events[0]?.agent_signature).toBe(first[0]?.agent_signature);
    });

    it('a command_id already applied returns the first event, never a new number', async () => {
      const commandId = randomUUID();
      const a = signedEvent(agent, { commandId });
      const b = signedEvent(agent, { commandId });
      const r1 = VesIngestResponse.parse((await api.ingest(agent.agentId, [a])).body);
      const r2 = VesIngestResponse.parse((await api.ingest(agent.agentId, [b])).body);
      expect(r1.receipts?.[0]?.sequenceNumber).toBe(7);
      expect(r2).toMatchObject({ eventsAccepted: 0, headSequence: 7 });
      expect(r2.receipts?.[0]).toMatchObject({ eventId: a.event_id, sequenceNumber: 7 });
    });

    it('bad input is refused with an ApiError and a reason; nothing sequenced changes', async () => {
      const before = await snapshot();
      const flip = (hex: string) => `${hex.slice(0, -1)}${hex.endsWith('0') ? '1' : '0'}`;
      const good = signedEvent(agent);

      const badSig = await expectRejected(
        await api.ingest(agent.agentId, [
          good,
          { ...signedEvent(agent), agent_signature: flip(good.agent_signature) },
        ]),
        422,
        'SignatureVerificationFailed',
        before,
      );
      expect(badSig.error).toBe('SIGNATURE_VERIFICATION_FAILED');
      expect(badSig.details?.rejections as Json[]).toHaveLength(1);

      await expectRejected(
        await api.ingest(agent.agentId, [{ ...good, payload: { tampered: 1 } }]),
        422,
        'PayloadHashMismatch',
        before,
      );
      const stranger = newAgent(agent);
      await expectRejected(
        await api.ingest(stranger.agentId, [signedEvent(stranger)]),
        422,
        'KeyNotFound',
        before,
      );

      const revoked = newAgent(agent);
      expect((await api.registerKey(revoked)).status).toBe(201);
      const revoke = await api.request(
        'DELETE',
        `/v1/agents/${revoked.agentId}/keys/1?tenant_id=${revoked.tenantId}`,
      );
      expect(revoke).toMatchObject({ status: 200, body: { status: 'revoked', active: false } });
      await expectRejected(
        await api.ingest(revoked.agentId, [signedEvent(revoked)]),
        422,
        'KeyRevoked',
        before,
      );

      const early = newAgent(agent);
      expect(
        (await api.registerKey(early, { validFrom: '2999-01-01T00:00:00Z' })).body,
      ).toMatchObject({ active: false });
      await expectRejected(
        await api.ingest(early.agentId, [signedEvent(early)]),
        422,
        'KeyNotYetValid',
        before,
      );
      const late = newAgent(agent);
      await api.registerKey(late, {
        validFrom: '2020-01-01T00:00:00Z',
        validTo: '2021-01-01T00:00:00Z',
      });
      await expectRejected(
        await api.ingest(late.agentId, [signedEvent(late)]),
        422,
        'KeyExpired',
        before,
      );

      await expectRejected(
        await api.ingest(agent.agentId, [{ ...good, event_id: 'not-a-uuid' }]),
        400,
        'malformed_uuid',
        before,
      );
      await expectRejected(await api.ingest(agent.agentId, []), 400, 'empty_batch', before);
      await expectRejected(await api.ingest('nope', [good]), 400, 'malformed_uuid', before);
      await expectRejected(
        await api.ingest(
          agent.agentId,
          Array.from({ length: LIMITS.maxBatch + 1 }, () => good),
        ),
        413,
        'batch_too_large',
        before,
      );
      const big = signedEvent(agent, { payload: { blob: 'x'.repeat(LIMITS.maxPayloadBytes) } });
      await expectRejected(
        await api.ingest(agent.agentId, [big]),
        413,
        'payload_too_large',
        before,
      );
      await expectRejected(
        await api.request('POST', '/v1/ves/events/ingest', '{"agentId":'),
        400,
        'malformed_json',
        before,
      );
      await expectRejected(
        await api.ingest(agent.agentId, [good, signedEvent(newAgent())]),
        400,
        'mixed_streams',
        before,
      );
      await expectRejected(
        await api.request('GET', `/v1/head?tenant_id=zzz&store_id=${agent.storeId}`),
        400,
        'malformed_uuid',
        before,
      );
      // After all of that, the good event still goes in at the next number.
      const ok = VesIngestResponse.parse((await api.ingest(agent.agentId, [good])).body);
      expect(ok.sequenceStart).toBe(8);
      const metrics = String((await api.request('GET', '/metrics')).body);
      expect(metrics).toMatch(
        /ves_events_rejected_total\{reason="SignatureVerificationFailed"\} [1-9]/,
      );
      expect(metrics).toMatch(/ves_events_rejected_total\{reason="KeyRevoked"\} [1-9]/);
    });

    let batch: Json;

    it('a commitment over 1..head has the padded VES Merkle root of the events and a state root', async () => {
      const more = Array.from({ length: 12 }, () => signedEvent(agent));
      expect((await api.ingest(agent.agentId, more)).status).toBe(200);
      const events = await api.allEvents(agent);
      const head = events.length;
      expect(head).toBe(20);
      const leaves = events.map((e) =>
        vesLeafHash({
          tenantId: agent.tenantId,
          storeId: agent.storeId,
          sequenceNumber: Number(e.sequence_number),
          eventSigningHash: eventSigningHash(VesEventEnvelope.parse(e)),
          agentSignature: hexToBytes(String(e.agent_signature).slice(2)),
        }),
      );
      const created = await api.request<Json>('POST', '/v1/ves/commitments', {
        tenant_id: agent.tenantId,
        store_id: agent.storeId,
        sequence_start: 1,
        sequence_end: 13,
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      batch = created.body;
      const root = vesMerkleRoot(leaves.slice(0, 13));
      expect(batch).toMatchObject({
        sequence_start: 1,
        sequence_end: 13,
        event_count: 13,
        events_root: `0x${bytesToHex(root)}`,
        prev_events_root: `0x${'0'.repeat(64)}`,
      });
      expect(batch.new_state_root).toBe(
        `0x${bytesToHex(stateRoot(new Uint8Array(32), agent.tenantId, agent.storeId, 1, 13, root))}`,
      );

      const again = await api.request('POST', '/v1/ves/commitments', {
        tenant_id: agent.tenantId,
        store_id: agent.storeId,
        sequence_start: 1,
        sequence_end: 13,
      });
      expect(again.status).toBe(409);
      expect(ApiError.parse(again.body).details?.reason).toBe('commitment_exists');
      const beyond = await api.request('POST', '/v1/ves/commitments', {
        tenant_id: agent.tenantId,
        store_id: agent.storeId,
        sequence_start: 14,
        sequence_end: 99,
      });
      expect(beyond.status).toBe(400);
      expect(ApiError.parse(beyond.body).details?.reason).toBe('range_not_sequenced');
      const second = await api.request<Json>('POST', '/v1/ves/commitments', {
        tenant_id: agent.tenantId,
        store_id: agent.storeId,
        sequence_start: 14,
        sequence_end: 20,
      });
      expect(second.status).toBe(201);
      expect(second.body).toMatchObject({
        prev_events_root: batch.events_root,
        prev_state_root: batch.new_state_root,
        events_root: `0x${bytesToHex(vesMerkleRoot(leaves.slice(13)))}`,
      });

      const list = await api.request<Json[]>(
        'GET',
        `/v1/ves/commitments?tenant_id=${agent.tenantId}&store_id=${agent.storeId}`,
      );
      expect(list.body.map((c) => c.batch_id)).toEqual([batch.batch_id, second.body.batch_id]);
      expect((await api.request('GET', `/v1/ves/commitments/${batch.batch_id}`)).body).toEqual(
        batch,
      );
      expect((await api.request('GET', `/v1/ves/commitments/${randomUUID()}`)).status).toBe(404);
      expect((await api.request('GET', '/v1/ves/commitments/nope')).status).toBe(400);
    });

    it('inclusion proofs of random events verify against the root; tampered ones do not', async () => {
      for (const seq of [1, 7, 13, 1 + Math.floor(Math.random() * 13)]) {
        const proof = await api.request<Json>(
          'GET',
          `/v1/ves/proofs/${seq}?tenant_id=${agent.tenantId}&store_id=${agent.storeId}&batch_id=${batch.batch_id}`,
        );
        expect(proof.status, JSON.stringify(proof.body)).toBe(200);
        expect(proof.body).toMatchObject({
          leaf_index: seq - 1,
          merkle_root: batch.events_root,
          batch_id: batch.batch_id,
        });
        expect((proof.body.proof_path as string[]).length).toBe(4);
        const request = {
          leaf_hash: proof.body.leaf_hash,
          merkle_root: proof.body.merkle_root,
          proof_path: proof.body.proof_path,
          leaf_index: proof.body.leaf_index,
        };
        expect((await api.request('POST', '/v1/ves/proofs/verify', request)).body).toEqual({
          valid: true,
          merkle_root: batch.events_root,
        });
        expect(
          vesVerifyInclusion({
            leafHash: hexToBytes(String(proof.body.leaf_hash).slice(2)),
            leafIndex: Number(proof.body.leaf_index),
            proofPath: (proof.body.proof_path as string[]).map((p) => hexToBytes(p.slice(2))),
            root: hexToBytes(String(batch.events_root).slice(2)),
          }),
        ).toBe(true);
        const path = [...(proof.body.proof_path as string[])];
        path[1] = `0x${'ab'.repeat(32)}`;
        expect(
          (
            await api.request<Json>('POST', '/v1/ves/proofs/verify', {
              ...request,
              proof_path: path,
            })
          ).body.valid,
        ).toBe(false);
        expect(
          (
            await api.request<Json>('POST', '/v1/ves/proofs/verify', {
              ...request,
              leaf_index: (seq - 1) ^ 1,
            })
          ).body.valid,
        ).toBe(false);
      }
      expect((await api.request('POST', '/v1/ves/proofs/verify', { leaf_hash: 'zz' })).status).toBe(
        400,
      );
      expect(
        (
          await api.request(
            'GET',
            `/v1/ves/proofs/14?tenant_id=${agent.tenantId}&store_id=${agent.storeId}&batch_id=${batch.batch_id}`,
          )
        ).status,
      ).toBe(404);
    });

    it('compliance proofs: canonical inputs, a real STARK proof submitted, listed, fetched, verified', async () => {
      if (findNativeProver() === undefined)
        throw new Error(
          'm2m-prover is not built: run `npm run build:prover` (CI builds it in .ci/run)',
        );
      const event = first[2] as VesEventEnvelope;
      const inputsReply = await api.request<{
        public_inputs: ReturnType<typeof generatePublicInputs>;
        public_inputs_hash: string;
      }>('POST', `/v1/ves/compliance/${event.event_id}/inputs`, {
        policyId: 'aml.threshold',
        policyParams: { threshold: 10000 },
      });
      expect(inputsReply.status, JSON.stringify(inputsReply.body)).toBe(200);
      const inputs = inputsReply.body.public_inputs;
      expect(inputs).toMatchObject({
        eventId: event.event_id,
        sequenceNumber: 3,
        policyId: 'aml.threshold',
        policyParams: { threshold: '10000' },
      });
      const proven = await proveCompliance(inputs, '9999');
      const proofB64 = encodeEnvelope(proven.envelope).toString('base64');
      // The OpenAPI form: 64 hex chars (the prover writes "poseidon2:<hex>").
      const witnessCommitment = String(proven.envelope.publicInputs.witnessCommitment).slice(-64);
      const submit = await api.request<Json>(
        'POST',
        `/v1/ves/compliance/${event.event_id}/proofs`,
        {
          proofType: 'stark',
          policyId: 'aml.threshold',
          policyParams: { threshold: '10000' },
          proofB64,
          witnessCommitment,
          publicInputs: inputs,
        },
      );
      expect(submit.status, JSON.stringify(submit.body)).toBe(200);
      const proofId = String(submit.body.proof_id);
      const verdict = await api.request<Json>('GET', `/v1/ves/compliance/proofs/${proofId}/verify`);
      expect(verdict.body).toMatchObject({
        valid: true,
        stark_valid: true,
        public_inputs_match: true,
        proof_hash_match: true,
      });
      const list = await api.request<Json>('GET', `/v1/ves/compliance/${event.event_id}/proofs`);
      expect(list.body).toMatchObject({ event_id: event.event_id, count: 1 });
      expect(
        (await api.request<Json>('GET', `/v1/ves/compliance/proofs/${proofId}`)).body.proof_b64,
      ).toBe(proofB64);

      // The same proof claimed for a lower threshold: stored inputs differ from what was proven.
      const wrong = await api.request<Json>('POST', `/v1/ves/compliance/${event.event_id}/proofs`, {
        proofType: 'stark',
        policyId: 'aml.threshold',
        policyParams: { threshold: '5000' },
        proofB64,
        witnessCommitment,
      });
      expect(wrong.status).toBe(200);
      const bad = await api.request<Json>(
        'GET',
        `/v1/ves/compliance/proofs/${String(wrong.body.proof_id)}/verify`,
      );
      expect(bad.body).toMatchObject({ valid: false, stark_valid: false });
      // Proof for another event's inputs.
      const elsewhere = await api.request<Json>(
        'POST',
        `/v1/ves/compliance/${(first[3] as VesEventEnvelope).event_id}/proofs`,
        {
          proofType: 'stark',
          policyId: 'aml.threshold',
          policyParams: { threshold: '10000' },
          proofB64,
          witnessCommitment,
          publicInputs: inputs,
        },
      );
      expect(elsewhere.status).toBe(400);
      expect(ApiError.parse(elsewhere.body).details?.reason).toBe('public_inputs_mismatch');
      expect(
        (
          await api.request('POST', `/v1/ves/compliance/${randomUUID()}/inputs`, {
            policyId: 'aml.threshold',
            policyParams: { threshold: 1 },
          })
        ).status,
      ).toBe(404);
      expect(
        (
          await api.request('POST', `/v1/ves/compliance/${event.event_id}/inputs`, {
            policyId: 'nope',
          })
        ).status,
      ).toBe(400);
      expect((await api.request('GET', `/v1/ves/compliance/proofs/${randomUUID()}`)).status).toBe(
        404,
      );
    }, 120_000);

    it('unimplemented endpoints answer 501 and unknown ones 404, both as ApiError', async () => {
      const anchor = await api.request('POST', '/v1/ves/anchor', { batch_id: randomUUID() });
      expect(anchor.status).toBe(501);
      expect(ApiError.parse(anchor.body).error).toBe('NOT_IMPLEMENTED');
      const unknown = await api.request('GET', '/v1/nothing');
      expect(unknown.status).toBe(404);
      ApiError.parse(unknown.body);
    });

    it('a restart keeps events, keys, commitments; numbering continues', async () => {
      const before = await snapshot();
      const commitments = (
        await api.request(
          'GET',
          `/v1/ves/commitments?tenant_id=${agent.tenantId}&store_id=${agent.storeId}`,
        )
      ).body;
      await server.close();
      await start();
      expect(await snapshot()).toBe(before);
      expect(
        (
          await api.request(
            'GET',
            `/v1/ves/commitments?tenant_id=${agent.tenantId}&store_id=${agent.storeId}`,
          )
        ).body,
      ).toEqual(commitments);
      const next = VesIngestResponse.parse(
        (await api.ingest(agent.agentId, [signedEvent(agent)])).body,
      );
      expect(next.sequenceStart).toBe(21);
    });

    it('VES-ENC-1 encrypted and OpenAPI camelCase events are sequenced; tampered ones refused', async () => {
      const before = await snapshot();
      const recipient = generateRecipientKeyPair();
      const context = {
        ves_version: 1,
        tenant_id: agent.tenantId,
        store_id: agent.storeId,
        event_id: randomUUID(),
        source_agent_id: agent.agentId,
        agent_key_id: agent.keyId,
        entity_type: 'Job',
        entity_id: 'secret-1',
        event_type: 'JobPaid',
        created_at: new Date().toISOString(),
      };
      const sealed = await encryptVesPayload({ amount: '42' }, context, [
        { kid: 1, publicKey: recipient.publicKey },
      ]);
      const encrypted = signVesEvent(
        {
          ...context,
          ves_version: 1,
          payload_kind: 1,
          payload_encrypted: sealed.payload_encrypted,
          payload_plain_hash: sealed.payload_plain_hash,
          payload_cipher_hash: sealed.payload_cipher_hash,
        },
        agent.secretKey,
      );
      const ct = encrypted.payload_encrypted?.ciphertext_b64u as string;
      const tampered = {
        ...encrypted,
        payload_encrypted: {
          ...encrypted.payload_encrypted,
          ciphertext_b64u: `${ct[0] === 'A' ? 'B' : 'A'}${ct.slice(1)}`,
        },
      };
      await expectRejected(
        await api.ingest(agent.agentId, [tampered]),
        422,
        'CipherHashMismatch',
        before,
      );

      // The OpenAPI camelCase envelope: agentId is the source agent, timestamp the signed created_at.
      const camel = {
        eventId: randomUUID(),
        tenantId: agent.tenantId,
        storeId: agent.storeId,
        eventType: 'JobRequested',
        entityType: 'Job',
        entityId: 'camel-1',
        payload: { amount: '7' },
        signingKeyId: agent.keyId,
        timestamp: new Date().toISOString(),
      };
      const asVes = fromOpenApiEnvelope({ ...camel, signature: '00'.repeat(64) }, agent.agentId);
      const signature = bytesToHex(ed25519.sign(eventSigningHash(asVes), agent.secretKey));
      await expectRejected(
        await api.ingest(agent.agentId, [{ ...camel, signature: '11'.repeat(64) }]),
        422,
        'SignatureVerificationFailed',
        before,
      );
      const reply = await api.ingest(agent.agentId, [encrypted, { ...camel, signature }]);
      expect(reply.status, JSON.stringify(reply.body)).toBe(200);
      expect(VesIngestResponse.parse(reply.body)).toMatchObject({
        eventsAccepted: 2,
        sequenceStart: 22,
        sequenceEnd: 23,
      });
      const events = await api.allEvents(agent);
      expect(events.at(-2)).toMatchObject({
        event_id: encrypted.event_id,
        payload_kind: 1,
        payload_cipher_hash: encrypted.payload_cipher_hash,
      });
      expect(events.at(-1)).toMatchObject({
        event_id: camel.eventId,
        source_agent_id: agent.agentId,
        created_at: camel.timestamp,
        payload: camel.payload,
      });
    });
  });
}
