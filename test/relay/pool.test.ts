import { afterEach, describe, expect, it } from 'vitest';
import { backoffDelay, RelayPool, type RelayStatus } from '../../node/nostr/pool.js';
import type { RelayServer } from '../../node/relay/server.js';
import { codeOf } from '../support/errors.js';
import {
  connectClient,
  type NostrEvent,
  query,
  signer,
  startTestRelay,
  tempDb,
} from '../support/relay.js';

/** The relay pool against embedded relays on loopback: real websockets, real restarts. */
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function relays(n: number): Promise<RelayServer[]> {
  const started = await Promise.all(Array.from({ length: n }, () => startTestRelay()));
  for (const relay of started) cleanup.push(() => relay.close());
  return started;
}

function pool(urls: string[], options: ConstructorParameters<typeof RelayPool>[1] = {}) {
  const created = new RelayPool(urls, options);
  cleanup.push(() => created.close());
  return created;
}

/** Collects a subscription's events and resolves `eose` at its pool-level EOSE. */
function collect(target: RelayPool, filters: Parameters<RelayPool['subscribe']>[0]) {
  const events: { event: NostrEvent; url: string }[] = [];
  let sub: ReturnType<RelayPool['subscribe']> | undefined;
  const eose = new Promise<void>((resolve) => {
    sub = target.subscribe(filters, {
      onevent: (event, url) => events.push({ event: JSON.parse(JSON.stringify(event)), url }),
      oneose: resolve,
    });
  });
  return { events, eose, close: () => sub?.close() };
}

describe('RelayPool', () => {
  it('publishes to every relay and reports each OK', async () => {
    const [a, b] = await relays(2);
    const p = pool([(a as RelayServer).url, (b as RelayServer).url]);
    await p.connect();
    expect(Object.values(p.status())).toEqual(['connected', 'connected']);
    const event = signer().sign({ kind: 5900, content: 'job' });
    const results = await p.publish(event);
    expect(results).toEqual([
      { url: a?.url, ok: true, message: '' },
      { url: b?.url, ok: true, message: '' },
    ]);
    for (const relay of [a, b] as RelayServer[]) {
      const client = await connectClient(relay.url);
      expect((await query(client, [{ ids: [event.id] }])).map((e) => e.id)).toEqual([event.id]);
      client.close();
    }
    // A rejection is reported per relay, with the relay's own message.
    const [first] = await p.publish({ ...event, content: 'tampered' });
    expect(first?.ok).toBe(false);
    expect(first?.message).toMatch(/^invalid: event id does not match/);
  });

  it('subscribes on every relay and delivers each event once (de-duplicated by id)', async () => {
    const [a, b] = (await relays(2)) as [RelayServer, RelayServer];
    const author = signer();
    const both = author.sign({ kind: 1, content: 'on both', created_at: 100 });
    const onlyA = author.sign({ kind: 1, content: 'only a', created_at: 101 });
    const onlyB = author.sign({ kind: 1, content: 'only b', created_at: 102 });
    for (const [relay, events] of [
      [a, [both, onlyA]],
      [b, [both, onlyB]],
    ] as const) {
      const client = await connectClient(relay.url);
      for (const event of events) await client.publish(event);
      client.close();
    }
    const p = pool([a.url, b.url]);
    await p.connect();
    const sub = collect(p, [{ authors: [author.pubkey] }]);
    await sub.eose;
    expect(sub.events.map((e) => e.event.content).sort()).toEqual(['on both', 'only a', 'only b']);
    // A live event published to both relays still arrives once.
    const live = author.sign({ kind: 1, content: 'live' });
    await p.publish(live);
    await expect.poll(() => sub.events.map((e) => e.event.content)).toContain('live');
    await p.publish(live);
    const other = author.sign({ kind: 1, content: 'after' });
    await p.publish(other);
    await expect.poll(() => sub.events.map((e) => e.event.content)).toContain('after');
    expect(sub.events.filter((e) => e.event.id === live.id)).toHaveLength(1);
    sub.close();
  });

  it('reconnects with exponential backoff and re-sends open subscriptions', async () => {
    const db = tempDb();
    let relay = await startTestRelay({}, db);
    const port = relay.port;
    const statuses: RelayStatus[] = [];
    const p = pool([relay.url], {
      backoff: { initialMs: 50, maxMs: 400, factor: 2 },
      onStatus: (_url, status) => statuses.push(status),
    });
    await p.connect();
    const author = signer();
    const sub = collect(p, [{ authors: [author.pubkey] }]);
    await sub.eose;

    await relay.close();
    await expect.poll(() => p.status()[relay.url]).toBe('disconnected');
    // Down for a while: several attempts fail, each after a longer delay.
    await new Promise((resolve) => setTimeout(resolve, 500));
    relay = await startTestRelay({}, db, port);
    cleanup.push(() => relay.close());
    await expect.poll(() => p.status()[relay.url], { timeout: 3000 }).toBe('connected');
    expect(statuses.filter((s) => s === 'connecting').length).toBeGreaterThanOrEqual(3);

    const after = author.sign({ content: 'after the restart' });
    const [result] = await p.publish(after);
    expect(result?.ok).toBe(true);
    await expect.poll(() => sub.events.map((e) => e.event.id)).toEqual([after.id]);
  });

  it('one relay down: publish still reaches the others and reports the failure', async () => {
    const [up] = (await relays(1)) as [RelayServer];
    const down = await startTestRelay();
    const downUrl = down.url;
    await down.close();
    const p = pool([up.url, downUrl], {
      publishTimeoutMs: 300,
      connectTimeoutMs: 300,
      backoff: { initialMs: 1000 },
    });
    await p.connect();
    expect(p.status()).toEqual({ [up.url]: 'connected', [downUrl]: 'disconnected' });
    const results = await p.publish(signer().sign({}));
    expect(results).toEqual([
      { url: up.url, ok: true, message: '' },
      { url: downUrl, ok: false, message: 'error: not connected to this relay' },
    ]);
  });

  it('a CLOSED from one relay is reported; the subscription goes on elsewhere', async () => {
    const strict = await startTestRelay({ maxFilters: 1 });
    cleanup.push(() => strict.close());
    const [lenient] = (await relays(1)) as [RelayServer];
    const p = pool([strict.url, lenient.url]);
    await p.connect();
    const closed: [string, string][] = [];
    const author = signer();
    await new Promise<void>((resolve) =>
      p.subscribe([{ authors: [author.pubkey] }, { kinds: [7], authors: [author.pubkey] }], {
        onevent: () => {},
        onclosed: (url, reason) => closed.push([url, reason]),
        oneose: resolve,
      }),
    );
    expect(closed).toEqual([[strict.url, 'blocked: 2 filters in one REQ, the limit is 1']]);
  });

  it('backoff doubles up to the cap', () => {
    const backoff = { initialMs: 250, maxMs: 30_000, factor: 2 };
    expect([0, 1, 2, 3, 7, 20].map((n) => backoffDelay(n, backoff))).toEqual([
      250, 500, 1000, 2000, 30_000, 30_000,
    ]);
  });

  it('typed errors: no relay, a URL that is not ws(s), use after close', async () => {
    expect(codeOf(() => new RelayPool([]))).toBe('POOL_INVALID_URL');
    expect(codeOf(() => new RelayPool(['http://127.0.0.1:1']))).toBe('POOL_INVALID_URL');
    const p = new RelayPool(['ws://127.0.0.1:1']);
    p.close();
    expect(codeOf(() => p.subscribe([{}], { onevent: () => {} }))).toBe('POOL_CLOSED');
    await expect(p.publish(signer().sign({}))).rejects.toMatchObject({ code: 'POOL_CLOSED' });
  });
});
