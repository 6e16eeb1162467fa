import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IlpHttpClient, ilpEndpoint, OCTET_STREAM } from '../../node/ilp/http.js';
import {
  assertIlpAddress,
  deserializePrepare,
  deserializeReply,
  newFulfillment,
  type Prepare,
  reject,
  serializePrepare,
  serializeReject,
} from '../../node/ilp/packets.js';
import { type RunningHttpServer, startHttpServer } from '../../node/ilp/server.js';
import { parseSettlementConfig } from '../../node/settlement/config.js';

const TOKEN = 'a-bearer-token-of-some-length';

describe('ILPv4 packets (ilp-packet)', () => {
  it('round-trips a PREPARE and REJECT through OER, refusing out-of-range amounts', () => {
    const { condition } = newFulfillment();
    const prepare: Prepare = {
      amount: (1n << 64n) - 1n,
      expiresAt: new Date('2030-01-01T00:00:00.000Z'),
      executionCondition: condition,
      destination: 'test.m2m.prov',
      data: Buffer.from('terms'),
    };
    expect(deserializePrepare(serializePrepare(prepare))).toEqual(prepare);
    expect(() => serializePrepare({ ...prepare, amount: 1n << 64n })).toThrow(/u64/);
    const r = reject('F99', 'test.m2m.escrow', 'proof failed');
    expect(deserializeReply(serializeReject(r))).toEqual(r);
    expect(() => deserializeReply(Buffer.from([12, 1, 0]))).toThrow(/FULFILL/);
    expect(() => assertIlpAddress('not an address')).toThrow(/ILP address/);
  });
});

describe('ILP-over-HTTP (RFC 35)', () => {
  let server: RunningHttpServer;
  let calls = 0;
  const secret = randomBytes(32);
  beforeAll(async () => {
    server = await startHttpServer(
      {
        'POST /ilp': ilpEndpoint({
          ilpAddress: 'test.m2m.recv',
          tokens: new Map([[TOKEN, 'sender']]),
          onPrepare: async (prepare) => {
            calls++;
            if (prepare.data.toString() === 'flaky' && calls % 2 === 1) throw new Error('busy');
            if (prepare.expiresAt.getTime() < Date.now())
              return reject('R00', 'test.m2m.recv', 'expired');
            return prepare.data.toString() === 'fulfil'
              ? { type: 'fulfill', fulfillment: secret, data: Buffer.from('ok') }
              : reject('F99', 'test.m2m.recv', 'no');
          },
        }),
      },
      { host: '127.0.0.1', port: 0 },
    );
  });
  afterAll(async () => {
    await server.close();
  });

  const prepare = (data: string, expiresIn = 10_000): Prepare => ({
    amount: 5n,
    expiresAt: new Date(Date.now() + expiresIn),
    executionCondition: randomBytes(32),
    destination: 'test.m2m.recv',
    data: Buffer.from(data),
  });

  it('answers FULFILL or REJECT in the response body (sync mode)', async () => {
    const client = new IlpHttpClient({ url: `${server.url}/ilp`, token: TOKEN });
    expect(await client.sendPrepare(prepare('fulfil'))).toMatchObject({
      type: 'fulfill',
      fulfillment: secret,
    });
    expect(await client.sendPrepare(prepare('nope'))).toMatchObject({
      type: 'reject',
      code: 'F99',
      triggeredBy: 'test.m2m.recv',
    });
    client.close();
  });

  it('replays the same reply for the same Idempotency-Key without calling the handler again', async () => {
    const client = new IlpHttpClient({ url: `${server.url}/ilp`, token: TOKEN });
    const before = calls;
    const p = prepare('fulfil');
    const a = await client.sendPrepare(p, { idempotencyKey: 'k1' });
    const b = await client.sendPrepare(
      { ...p, data: Buffer.from('nope') },
      { idempotencyKey: 'k1' },
    );
    expect(b).toEqual(a);
    expect(calls - before).toBe(1);
    client.close();
  });

  it('a handler failure is a T00 REJECT, and a retry with the same key runs the handler again', async () => {
    const client = new IlpHttpClient({ url: `${server.url}/ilp`, token: TOKEN });
    if (calls % 2 === 1) calls++; // the next call is an odd one: it fails
    const p = prepare('flaky');
    expect(await client.sendPrepare(p, { idempotencyKey: 'k2' })).toMatchObject({
      type: 'reject',
      code: 'T00',
      message: expect.stringContaining('busy'),
    });
    expect(await client.sendPrepare(p, { idempotencyKey: 'k2' })).toMatchObject({
      type: 'reject',
      code: 'F99',
    });
    client.close();
  });

  it('refuses a missing token (401), a wrong content type (415) and a malformed packet (400)', async () => {
    const bytes = serializePrepare(prepare('fulfil'));
    const post = (headers: Record<string, string>, body: Buffer) =>
      fetch(`${server.url}/ilp`, { method: 'POST', headers, body });
    expect((await post({ 'content-type': OCTET_STREAM }, bytes)).status).toBe(401);
    expect(
      (await post({ authorization: `Bearer ${TOKEN}`, 'content-type': 'text/plain' }, bytes))
        .status,
    ).toBe(415);
    expect(
      (
        await post(
          { authorization: `Bearer ${TOKEN}`, 'content-type': OCTET_STREAM },
          Buffer.from([12, 99, 1]),
        )
      ).status,
    ).toBe(400);
    const unreachable = new IlpHttpClient({ url: 'http://127.0.0.1:1/ilp', token: TOKEN });
    await expect(unreachable.sendPrepare(prepare('x'))).rejects.toMatchObject({
      code: 'ILP_PEER_UNREACHABLE',
    });
    unreachable.close();
  });

  it('an expired PREPARE is rejected with R00', async () => {
    const client = new IlpHttpClient({ url: `${server.url}/ilp`, token: TOKEN });
    const late = { ...prepare('fulfil'), expiresAt: new Date(Date.now() - 1000) };
    // The client gives up at expiry; send the bytes directly to see the receiver's answer.
    const res = await fetch(`${server.url}/ilp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': OCTET_STREAM },
      body: serializePrepare(late),
    });
    expect(deserializeReply(Buffer.from(await res.arrayBuffer()))).toMatchObject({
      type: 'reject',
      code: 'R00',
    });
    client.close();
  });
});

describe('settlement config', () => {
  it('fills defaults and refuses bad values with the path', () => {
    const c = parseSettlementConfig({ ilpAddress: 'test.m2m.a' });
    expect(c).toMatchObject({
      mode: 'verify',
      slash: { bps: 5000, to: 'buyer' },
      ledger: { sqlite: 'm2m-data/ledger.db' },
    });
    expect(
      parseSettlementConfig({
        ilpAddress: 'test.m2m.a',
        ledger: { tigerbeetle: { address: '3000' } },
      }).ledger,
    ).toEqual({
      tigerbeetle: { address: '3000', clusterId: 0 },
    });
    expect(() => parseSettlementConfig({ ilpAddress: 'nope' })).toThrow(
      /ilpAddress: an ILP address/,
    );
    expect(() =>
      parseSettlementConfig({ ilpAddress: 'test.m2m.a', slash: { bps: 20_000 } }),
    ).toThrow(
      expect.objectContaining({
        code: 'SETTLEMENT_CONFIG_INVALID',
        message: expect.stringContaining('slash.bps'),
      }),
    );
  });
});
