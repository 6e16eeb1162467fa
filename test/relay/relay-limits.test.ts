import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { DEFAULT_RELAY_LIMITS } from '../../node/relay/limits.js';
import type { RelayServer } from '../../node/relay/server.js';
import {
  connectClient,
  query,
  RawClient,
  signer,
  startTestRelay,
  tempDb,
} from '../support/relay.js';

/**
 * Every way a client can misbehave gets a NIP-01 answer (OK false with a prefix, CLOSED or
 * NOTICE), the connection keeps working, and the relay keeps serving everyone else.
 */
const LIMITS = {
  maxMessageBytes: 64 * 1024,
  maxSubscriptions: 3,
  maxFilters: 2,
  maxLimit: 5,
  defaultLimit: 4,
  eventsPerSecond: 1000,
  eventBurst: 1000,
};
let relay: RelayServer;
let raw: RawClient;

beforeAll(async () => {
  relay = await startTestRelay(LIMITS);
  raw = await RawClient.open(relay.url);
});

afterAll(async () => {
  await raw.close();
  await relay.close();
});

/** Proves the connection still works: a REQ is answered with EOSE. */
const stillServes = async (client: RawClient) => {
  await expect(client.fetch('alive', { limit: 0 })).resolves.toEqual([]);
};

describe('invalid events are answered OK false "invalid:"', () => {
  const author = signer();

  it('a bad signature', async () => {
    const event = author.sign({ content: 'signed' });
    const sig = `${event.sig.slice(0, -1)}${event.sig.endsWith('0') ? '1' : '0'}`;
    const [accepted, message] = await raw.publish({ ...event, sig });
    expect(accepted).toBe(false);
    expect(message).toBe('invalid: signature verification failed');
  });

  it('another key signed it', async () => {
    const event = author.sign({ content: 'mine' });
    const [accepted, message] = await raw.publish({ ...event, sig: signer().sign({}).sig });
    expect([accepted, message]).toEqual([false, 'invalid: signature verification failed']);
  });

  it('an id that is not the hash of the event (content changed after signing)', async () => {
    const event = author.sign({ content: 'original' });
    const [accepted, message] = await raw.publish({ ...event, content: 'tampered' });
    expect(accepted).toBe(false);
    expect(message).toBe('invalid: event id does not match the sha256 of its content');
  });

  it.each([
    ['id', { id: 'xyz' }, /^invalid: id /],
    ['uppercase pubkey', { pubkey: 'A'.repeat(64) }, /^invalid: pubkey /],
    ['kind', { kind: 70000 }, /^invalid: kind /],
    ['created_at', { created_at: 1.5 }, /^invalid: created_at /],
    ['tags', { tags: [['t', 5]] }, /^invalid: every tag /],
    ['content', { content: null }, /^invalid: content /],
    ['sig', { sig: 'ab' }, /^invalid: sig /],
  ])('a wrong %s field', async (_name, change, expected) => {
    const event = author.sign({});
    raw.send(['EVENT', { ...event, ...change }]);
    const reply = await raw.waitFor((m) => m[0] === 'OK' || m[0] === 'NOTICE', 'OK or NOTICE');
    const message = reply[0] === 'OK' ? reply[3] : reply[1];
    if (reply[0] === 'OK') expect(reply[2]).toBe(false);
    expect(message).toMatch(expected);
  });

  it('created_at too far in the future', async () => {
    const event = author.sign({ created_at: Math.floor(Date.now() / 1000) + 3600 });
    const [accepted, message] = await raw.publish(event);
    expect(accepted).toBe(false);
    expect(message).toMatch(/^invalid: created_at is more than 900 s in the future/);
  });

  it('nothing invalid was stored', async () => {
    expect(await raw.fetch('mine', { authors: [author.pubkey] })).toEqual([]);
  });
});

describe('malformed frames get a NOTICE and the connection keeps working', () => {
  it.each([
    ['not JSON', '["EVENT", {'],
    ['a JSON object', '{"type": "EVENT"}'],
    ['an empty array', '[]'],
    ['an unknown type', '["PUBLISH", {}]'],
    ['EVENT without an object', '["EVENT", 42]'],
    ['REQ without an id', '["REQ", 7, {}]'],
    ['CLOSE without an id', '["CLOSE"]'],
  ])('%s', async (_name, frame) => {
    raw.send(frame);
    const notice = await raw.next('NOTICE');
    expect(notice[1]).toMatch(/^invalid: /);
    await stillServes(raw);
  });

  it('a binary frame', async () => {
    raw.socket.send(Buffer.from('["REQ","x",{}]'), { binary: true });
    expect((await raw.next('NOTICE'))[1]).toMatch(/^invalid: binary frames/);
    await stillServes(raw);
  });
});

describe('limits', () => {
  it('an EVENT over max_message_length is refused by id; the connection keeps working', async () => {
    const event = signer().sign({ content: 'x'.repeat(LIMITS.maxMessageBytes) });
    const [accepted, message] = await raw.publish(event);
    expect(accepted).toBe(false);
    expect(message).toMatch(/^invalid: the message is \d+ bytes, the limit is 65536$/);
    await stillServes(raw);
    expect(await raw.fetch('big', { ids: [event.id] })).toEqual([]);
  });

  it('a REQ over the limit is CLOSED, anything else gets a NOTICE', async () => {
    raw.send(['REQ', 'huge', { '#t': ['y'.repeat(LIMITS.maxMessageBytes)] }]);
    expect((await raw.nextFor('huge', ['CLOSED']))[2]).toMatch(/^invalid: the message is/);
    raw.send(['NOISE', 'z'.repeat(LIMITS.maxMessageBytes)]);
    expect((await raw.next('NOTICE'))[1]).toMatch(/^invalid: the message is/);
    await stillServes(raw);
  });

  it('a frame far over the limit closes that connection (1009) and only that one', async () => {
    const victim = await RawClient.open(relay.url);
    victim.send(['NOISE', 'z'.repeat(3 * LIMITS.maxMessageBytes)]);
    await expect(victim.next('NOTICE', 3000)).rejects.toThrow(/socket closed \(1009\)/);
    await stillServes(raw);
  });

  it('too many subscriptions: CLOSED "blocked:"; replacing or closing one frees a slot', async () => {
    const client = await RawClient.open(relay.url);
    for (const id of ['a', 'b', 'c']) await client.req(id, { limit: 0 });
    await expect(client.req('d', { limit: 0 })).rejects.toThrow(
      /^CLOSED: blocked: 3 subscriptions are open/,
    );
    await expect(client.req('a', { kinds: [1], limit: 0 })).resolves.toEqual([]);
    client.send(['CLOSE', 'b']);
    await expect(client.req('d', { limit: 0 })).resolves.toEqual([]);
    await client.close();
  });

  it('too many filters in one REQ: CLOSED "blocked:"', async () => {
    await expect(raw.req('many', { kinds: [1] }, { kinds: [2] }, { kinds: [3] })).rejects.toThrow(
      /^CLOSED: blocked: 3 filters in one REQ, the limit is 2$/,
    );
  });

  it('a subscription id over 64 characters: CLOSED "invalid:"', async () => {
    await expect(raw.req('s'.repeat(65), { limit: 0 })).rejects.toThrow(/^CLOSED: invalid: /);
  });

  it('limit is clamped to max_limit; no limit means default_limit', async () => {
    const author = signer();
    for (let i = 0; i < 7; i++)
      await raw.publish(author.sign({ created_at: 1_600_000_000 + i, content: String(i) }));
    const clamped = await raw.fetch('clamp', { authors: [author.pubkey], limit: 100 });
    expect(clamped.map((e) => e.content)).toEqual(['6', '5', '4', '3', '2']);
    const defaulted = await raw.fetch('default', { authors: [author.pubkey] });
    expect(defaulted).toHaveLength(LIMITS.defaultLimit);
  });

  it('more events per second than the token bucket allows: OK false "rate-limited:"', async () => {
    const limited = await startTestRelay({ eventsPerSecond: 2, eventBurst: 3 });
    const client = await RawClient.open(limited.url);
    const author = signer();
    const events = Array.from({ length: 8 }, (_, i) => author.sign({ content: `burst ${i}` }));
    for (const event of events) client.send(['EVENT', event]);
    const replies = [];
    for (const _ of events) replies.push(await client.next('OK'));
    const accepted = replies.filter((r) => r[2] === true);
    const refused = replies.filter((r) => r[2] === false);
    // The burst of 3 passes (one more may have refilled meanwhile), the rest is refused.
    expect(accepted.length).toBeGreaterThanOrEqual(3);
    expect(accepted.length).toBeLessThanOrEqual(4);
    for (const r of refused) expect(r[3]).toBe('rate-limited: at most 2 events/s per connection');
    // Refused events were not stored; another connection has a bucket of its own.
    const other = await RawClient.open(limited.url);
    const stored = await other.req('all', { authors: [author.pubkey] });
    expect(stored.map((e) => e.id).sort()).toEqual(accepted.map((r) => r[1]).sort());
    await expect(other.publish(author.sign({ content: 'other' }))).resolves.toEqual([true, '']);
    await client.close();
    await other.close();
    await limited.close();
  });
});

describe('duplicates', () => {
  it('the same event twice: OK true, then OK true "duplicate:"; stored once', async () => {
    const event = signer().sign({ content: 'once' });
    expect(await raw.publish(event)).toEqual([true, '']);
    expect(await raw.publish(event)).toEqual([true, 'duplicate: already have this event']);
    expect(await raw.fetch('dup', { ids: [event.id] })).toHaveLength(1);
  });
});

describe('NIP-11', () => {
  it('GET with Accept: application/nostr+json returns the information document', async () => {
    const http = relay.url.replace('ws://', 'http://');
    const response = await fetch(http, { headers: { Accept: 'application/nostr+json' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/nostr+json');
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    const info = await response.json();
    expect(info).toMatchObject({
      name: 'm2m relay',
      supported_nips: [1, 11],
      software: 'm2m-node',
      limitation: {
        max_message_length: LIMITS.maxMessageBytes,
        max_subscriptions: LIMITS.maxSubscriptions,
        max_filters: LIMITS.maxFilters,
        max_limit: LIMITS.maxLimit,
        default_limit: LIMITS.defaultLimit,
        max_subid_length: 64,
        max_event_tags: DEFAULT_RELAY_LIMITS.maxEventTags,
        max_content_length: DEFAULT_RELAY_LIMITS.maxContentLength,
        created_at_upper_limit: DEFAULT_RELAY_LIMITS.createdAtUpperLimit,
        auth_required: false,
        payment_required: false,
      },
    });
    const plain = await fetch(http);
    expect(plain.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await plain.text()).toMatch(/Nostr relay/);
  });
});

describe('persistence and shutdown', () => {
  it('a restart on the same database keeps every accepted event', async () => {
    const db = tempDb();
    const first = await startTestRelay({}, db);
    const client = await connectClient(first.url);
    const author = signer();
    const events = [
      author.sign({ kind: 1, created_at: 10, content: 'note' }),
      author.sign({ kind: 0, created_at: 10, content: '{"name":"p"}' }),
      author.sign({ kind: 30078, created_at: 10, tags: [['d', 'x']] }),
    ];
    for (const event of events) await client.publish(event);
    client.close();
    await first.close();

    const second = await startTestRelay({}, db);
    const again = await connectClient(second.url);
    const stored = await query(again, [{ authors: [author.pubkey] }]);
    expect(stored.map((e) => e.id).sort()).toEqual(events.map((e) => e.id).sort());
    // Replaceable state survives too: an older kind 0 is still refused.
    await expect(again.publish(author.sign({ kind: 0, created_at: 5 }))).rejects.toThrow(
      /^duplicate: /,
    );
    again.close();
    await second.close();
  });

  it('shutting down in the middle of a burst: every event answered OK true is stored', async () => {
    const db = tempDb();
    const first = await startTestRelay({}, db);
    const client = await RawClient.open(first.url);
    const author = signer();
    const burst = Array.from({ length: 60 }, (_, i) => author.sign({ content: `burst ${i}` }));
    for (const event of burst) client.send(['EVENT', event]);
    await client.next('OK');
    await first.close();
    expect(await client.closed()).toBe(1001);
    const answers = client.messages.filter((m) => m[0] === 'OK');
    const accepted = answers.filter((m) => m[2] === true).map((m) => m[1] as string);
    for (const refused of answers.filter((m) => m[2] === false))
      expect(refused[3]).toBe('error: the relay is shutting down; publish again later');
    expect(accepted.length).toBeGreaterThan(0);

    const second = await startTestRelay({}, db);
    const reader = await RawClient.open(second.url);
    const stored = (await reader.fetch('all', { authors: [author.pubkey] })).map((e) => e.id);
    expect(stored.sort()).toEqual(accepted.sort());
    await reader.close();
    await second.close();
  });

  it('close() ends client connections with 1001 and frees the port', async () => {
    const server = await startTestRelay();
    const client = await RawClient.open(server.url);
    await server.close();
    await expect(client.next('NOTICE', 2000)).rejects.toThrow(/socket closed \(1001\)/);
    await expect(
      new Promise((resolve, reject) => {
        const ws = new WebSocket(server.url);
        ws.once('open', () => reject(new Error('still listening')));
        ws.once('error', resolve);
      }),
    ).resolves.toBeDefined();
    await server.close();
  });
});
