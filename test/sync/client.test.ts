import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSequencer, startSequencer } from '../../node/sequencer/server.js';
import { SequencerClient } from '../../node/sync/client.js';
import { pullStream, pushOutbox } from '../../node/sync/push.js';
import { decryptVesPayload, generateRecipientKeyPair } from '../../node/ves/encrypt.js';
import { marketEvent } from '../../node/ves/market-events.js';
import { Outbox } from '../../node/ves/outbox.js';
import { signKeyRegistration } from '../../node/ves/sign.js';
import { type PayloadEncrypted, VesEventEnvelope } from '../../node/ves/types.js';
import { AGENT, STORE, sampleEvent, TENANT, TEST_SECRET, tempDir } from '../support/ves.js';

const API_KEY = 'test-api-key';
const stream = { tenantId: TENANT, storeId: STORE };
let seq: RunningSequencer;
let dir: { dir: string; cleanup: () => void };
let client: SequencerClient;

beforeAll(async () => {
  dir = tempDir('sync-client');
  seq = await startSequencer({
    host: '127.0.0.1',
    port: 0,
    store: { kind: 'sqlite', path: join(dir.dir, 'sequencer.db') },
    apiKeys: [API_KEY],
  });
  client = new SequencerClient({ baseUrl: seq.url, apiKey: API_KEY, backoffMs: 5 });
  await client.registerKey(
    signKeyRegistration({ tenantId: TENANT, agentId: AGENT, keyId: 1 }, TEST_SECRET),
  );
});

afterAll(async () => {
  await seq?.close();
  dir?.cleanup();
});

describe('SequencerClient against the embedded sequencer', () => {
  it('health and head of an empty stream', async () => {
    await expect(client.health()).resolves.toBeDefined();
    const other = { tenantId: TENANT, storeId: '00000000-0000-0000-0000-0000000000ee' };
    expect(await client.head(other)).toBe(0);
  });

  it('typed errors: wrong API key, bad proof of possession, unreachable server', async () => {
    const wrong = new SequencerClient({ baseUrl: seq.url, apiKey: 'nope', retries: 0 });
    await expect(wrong.head(stream)).rejects.toMatchObject({ code: 'SYNC_UNAUTHORIZED' });
    const req = signKeyRegistration({ tenantId: TENANT, agentId: AGENT, keyId: 7 }, TEST_SECRET);
    const forged = { ...req, keyId: 8 };
    await expect(client.registerKey(forged)).rejects.toMatchObject({
      code: 'SYNC_REJECTED',
      details: expect.objectContaining({ status: 422 }),
    });
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const retries: number[] = [];
    const dead = new SequencerClient({
      baseUrl: `http://127.0.0.1:${port}/api`,
      retries: 2,
      backoffMs: 1,
      onRetry: (i) => retries.push(i.attempt),
    });
    await expect(dead.head(stream)).rejects.toMatchObject({ code: 'SYNC_UNREACHABLE' });
    expect(retries).toEqual([1, 2]);
    expect(() => new SequencerClient({ baseUrl: 'ftp://x' })).toThrow(
      expect.objectContaining({ code: 'SYNC_CONFIG_INVALID' }),
    );
  });

  it('push drains the outbox in batches with gap-free sequence numbers; replays return the same numbers', async () => {
    const t = tempDir('sync-push');
    const outbox = Outbox.open(join(t.dir, 'outbox.db'));
    try {
      const before = await client.head(stream);
      const events = Array.from({ length: 1200 }, (_, i) => sampleEvent(i));
      outbox.appendMany(events);
      const progress: number[] = [];
      const report = await pushOutbox(outbox, client, {
        agentId: AGENT,
        batchSize: 500,
        onProgress: (p) => progress.push(p.sequenced),
      });
      expect(report).toMatchObject({
        batches: 3,
        sent: 1200,
        sequenced: 1200,
        replayed: 0,
        rejected: [],
      });
      expect(progress).toEqual([500, 1000, 1200]);
      const seqs = outbox.entries('pushed').map((e) => e.sequenceNumber ?? -1);
      expect(seqs).toEqual(Array.from({ length: 1200 }, (_, i) => before + i + 1));
      expect(outbox.syncState(stream).lastPushedSeq).toBe(before + 1200);
      expect(await client.head(stream)).toBe(before + 1200);
      expect(outbox.get(events[0]?.event_id ?? '')?.receipt?.receiptHash).toMatch(
        /^(0x)?[0-9a-f]{64}$/,
      );

      // Resending already sequenced events (a lost answer) yields their original numbers.
      const again = await client.ingest(AGENT, events.slice(100, 110));
      expect(again.eventsAccepted).toBe(0);
      expect(again.receipts?.map((r) => r.sequenceNumber)).toEqual(seqs.slice(100, 110));
      expect(await client.head(stream)).toBe(before + 1200);

      // Pull reads the whole stream back.
      const pulled = await pullStream(outbox, client, stream, { limit: 400 });
      expect(pulled.lastPulledSeq).toBe(before + 1200);
      const mine = outbox.pulled(stream, before + 1, 2000);
      expect(mine.map((e) => e.event_id)).toEqual(events.map((e) => e.event_id));
    } finally {
      outbox.close();
      t.cleanup();
    }
  });

  it('a rejected event is parked with its reason; the rest of the batch is sequenced', async () => {
    const t = tempDir('sync-reject');
    const outbox = Outbox.open(join(t.dir, 'outbox.db'));
    try {
      const good = sampleEvent(1);
      const unregistered = sampleEvent(2, { keyId: 5 });
      outbox.appendMany([good, unregistered]);
      const report = await pushOutbox(outbox, client, { agentId: AGENT });
      expect(report.sequenced).toBe(1);
      expect(report.rejected).toEqual([
        { eventId: unregistered.event_id, reason: expect.stringMatching(/key/) },
      ]);
      expect(outbox.get(unregistered.event_id)).toMatchObject({ status: 'rejected' });
      expect(outbox.get(good.event_id)).toMatchObject({ status: 'pushed' });
    } finally {
      outbox.close();
      t.cleanup();
    }
  });
});

describe('encrypted events over the wire', () => {
  it('an encrypted market event is sequenced blind, pulled back and decrypted by its recipient', async () => {
    const t = tempDir('sync-enc');
    const outbox = Outbox.open(join(t.dir, 'outbox.db'));
    const encStream = { tenantId: TENANT, storeId: '00000000-0000-0000-0000-0000000000e1' };
    try {
      const recipient = { kid: 7, ...generateRecipientKeyPair() };
      const { envelope } = await marketEvent(
        'payment.settled',
        { paymentId: 'pay-1', jobId: 'job-1', from: 'c', to: 'p', amount: 2500n, asset: 'msat' },
        {
          ...encStream,
          agentId: AGENT,
          keyId: 1,
          secretKey: TEST_SECRET,
          outbox,
          encryptFor: [recipient],
        },
      );
      expect(envelope.payload_kind).toBe(1);
      const report = await pushOutbox(outbox, client, { agentId: AGENT });
      expect(report).toMatchObject({ sequenced: 1, rejected: [] });
      await pullStream(outbox, client, encStream);
      const [pulled] = outbox.pulled(encStream);
      const wire = VesEventEnvelope.parse(pulled);
      expect(wire.payload).toBeUndefined();
      const opened = await decryptVesPayload(
        wire.payload_encrypted as PayloadEncrypted,
        wire,
        wire.payload_plain_hash,
        { kid: 7, privateKey: recipient.privateKey },
      );
      expect(opened.payload).toMatchObject({ paymentId: 'pay-1', amount: '2500' });

      // A tampered ciphertext no longer matches the signed cipher hash: refused, not sequenced.
      const ct = wire.payload_encrypted?.ciphertext_b64u ?? '';
      const tampered = {
        ...envelope,
        event_id: '55555555-5555-5555-5555-555555555555',
        payload_encrypted: {
          ...(envelope.payload_encrypted as PayloadEncrypted),
          ciphertext_b64u: `${ct[0] === 'A' ? 'B' : 'A'}${ct.slice(1)}`,
        },
      };
      const head = await client.head(encStream);
      await expect(client.ingest(AGENT, [tampered])).rejects.toMatchObject({
        code: 'SYNC_REJECTED',
      });
      expect(await client.head(encStream)).toBe(head);
    } finally {
      outbox.close();
      t.cleanup();
    }
  });
});

describe('lost answers and server errors (a real proxy in front of the sequencer)', () => {
  let proxy: Server;
  let proxyUrl: string;
  let mode: 'drop-after-forward' | 'fail-503' | 'strip-rejections' | 'pass' = 'pass';
  let failures = 0;

  beforeAll(async () => {
    const target = new URL(seq.url);
    proxy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (mode === 'fail-503' && failures > 0) {
          failures--;
          res.writeHead(503, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: 'unavailable', code: 503, message: 'try later' }));
          return;
        }
        const upstream = httpRequest(
          {
            host: target.hostname,
            port: target.port,
            path: req.url,
            method: req.method,
            headers: req.headers,
          },
          (up) => {
            const body: Buffer[] = [];
            up.on('data', (c: Buffer) => body.push(c));
            up.on('end', () => {
              if (mode === 'drop-after-forward' && failures > 0 && req.method === 'POST') {
                failures--;
                req.socket.destroy(); // the sequencer did the work; the answer is lost
                return;
              }
              let out = Buffer.concat(body);
              if (mode === 'strip-rejections' && up.statusCode === 422) {
                // A sequencer that refuses the batch without naming the bad events.
                const e = JSON.parse(out.toString()) as Record<string, unknown>;
                out = Buffer.from(JSON.stringify({ ...e, details: {} }));
              }
              const headers = { ...up.headers, 'content-length': String(out.length) };
              res.writeHead(up.statusCode ?? 502, headers);
              res.end(out);
            });
          },
        );
        upstream.end(Buffer.concat(chunks));
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}${target.pathname}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => proxy.close(() => r()));
  });

  it('retries 503 with backoff and succeeds', async () => {
    mode = 'fail-503';
    failures = 2;
    const retries: string[] = [];
    const c = new SequencerClient({
      baseUrl: proxyUrl,
      apiKey: API_KEY,
      backoffMs: 1,
      onRetry: (i) => retries.push(i.reason),
    });
    expect(await c.head(stream)).toBeGreaterThan(0);
    expect(retries).toEqual(['HTTP 503', 'HTTP 503']);
    failures = 10;
    const impatient = new SequencerClient({
      baseUrl: proxyUrl,
      apiKey: API_KEY,
      backoffMs: 1,
      retries: 1,
    });
    await expect(impatient.head(stream)).rejects.toMatchObject({ code: 'SYNC_SERVER_ERROR' });
    mode = 'pass';
  });

  it('an ingest whose answer is lost is retried and sequenced exactly once', async () => {
    const t = tempDir('sync-lost');
    const outbox = Outbox.open(join(t.dir, 'outbox.db'));
    try {
      const before = await client.head(stream);
      const events = Array.from({ length: 30 }, (_, i) => sampleEvent(i));
      outbox.appendMany(events);
      mode = 'drop-after-forward';
      failures = 2;
      const c = new SequencerClient({ baseUrl: proxyUrl, apiKey: API_KEY, backoffMs: 1 });
      const report = await pushOutbox(outbox, c, { agentId: AGENT, batchSize: 10 });
      mode = 'pass';
      expect(report.sequenced).toBe(30);
      expect(report.replayed).toBeGreaterThanOrEqual(10);
      expect(await client.head(stream)).toBe(before + 30);
      const seqs = outbox.entries('pushed').map((e) => e.sequenceNumber);
      expect(seqs).toEqual(Array.from({ length: 30 }, (_, i) => before + i + 1));
    } finally {
      mode = 'pass';
      outbox.close();
      t.cleanup();
    }
  });

  it('a batch refused without naming the bad event is isolated event by event', async () => {
    const t = tempDir('sync-isolate');
    const outbox = Outbox.open(join(t.dir, 'outbox.db'));
    try {
      const good = [sampleEvent(1), sampleEvent(2), sampleEvent(3)];
      const bad = sampleEvent(4, { keyId: 6 });
      outbox.appendMany([good[0], bad, good[1], good[2]].filter((e) => e !== undefined));
      mode = 'strip-rejections';
      const c = new SequencerClient({ baseUrl: proxyUrl, apiKey: API_KEY, backoffMs: 1 });
      const report = await pushOutbox(outbox, c, { agentId: AGENT, batchSize: 10 });
      expect(report.sequenced).toBe(3);
      expect(report.rejected.map((r) => r.eventId)).toEqual([bad.event_id]);
      expect(outbox.counts()).toMatchObject({ pending: 0, pushed: 3, rejected: 1 });
    } finally {
      mode = 'pass';
      outbox.close();
      t.cleanup();
    }
  });
});
