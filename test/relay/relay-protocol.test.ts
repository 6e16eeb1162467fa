import type { AbstractRelay } from 'nostr-tools/abstract-relay';
import type { NostrEvent } from 'nostr-tools/pure';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RelayServer } from '../../node/relay/server.js';
import {
  connectClient,
  nip01Order,
  query,
  RawClient,
  type Signer,
  signer,
  startTestRelay,
} from '../support/relay.js';

/** NIP-01 over real websockets against the embedded relay, with nostr-tools as the client. */
let relay: RelayServer;
let client: AbstractRelay;

beforeAll(async () => {
  relay = await startTestRelay();
  client = await connectClient(relay.url);
});

afterAll(async () => {
  client.close();
  await relay.close();
});

describe('publish and query', () => {
  it('an event published is returned by id, byte for byte the same fields', async () => {
    const event = signer().sign({ kind: 1, content: 'hello relay', tags: [['t', 'greeting']] });
    await expect(client.publish(event)).resolves.toBe('');
    const [found, ...rest] = await query(client, [{ ids: [event.id] }]);
    expect(rest).toEqual([]);
    expect(found).toEqual(event);
  });

  it('DVM events (kinds 5900, 6900, 7000, 31990) of more than 512 KiB fit the default limits', async () => {
    const customer = signer();
    const provider = signer();
    const plan = 'p'.repeat(512 * 1024);
    const request = customer.sign({ kind: 5900, tags: [['verification', 'zk']], content: plan });
    const proof = Buffer.alloc(384 * 1024, 7).toString('base64');
    expect(proof.length).toBe(512 * 1024);
    const result = provider.sign({
      kind: 6900,
      tags: [
        ['e', request.id],
        ['p', request.pubkey],
        ['proof', proof],
      ],
      content: '{"status":"success"}',
    });
    const feedback = provider.sign({
      kind: 7000,
      tags: [
        ['e', request.id],
        ['status', 'processing'],
      ],
    });
    const handler = provider.sign({
      kind: 31990,
      tags: [
        ['d', 'm2m'],
        ['k', '5900'],
      ],
    });
    for (const event of [request, result])
      expect(JSON.stringify(event).length).toBeGreaterThan(512 * 1024);
    for (const event of [request, result, feedback, handler])
      await expect(client.publish(event)).resolves.toBe('');
    const found = await query(client, [{ '#e': [request.id] }]);
    expect(found.map((e) => e.id).sort()).toEqual([result.id, feedback.id].sort());
    expect(found.find((e) => e.id === result.id)).toEqual(result);
  });
});

describe('filters', () => {
  const alice = signer();
  const bob = signer();
  const base = 1_700_000_000;
  let corpus: NostrEvent[];
  // Raw frames, not nostr-tools: its client drops events that do not match the filter, which
  // would hide a relay that returns too much.
  let raw: RawClient;
  let n = 0;
  const rawQuery = (filters: Record<string, unknown>[]) => raw.fetch(`f${n++}`, ...filters);

  beforeAll(async () => {
    // A corpus of its own (kinds 4000-4003) so events from other tests do not match.
    corpus = [
      alice.sign({ kind: 4000, created_at: base + 1, tags: [['t', 'red']] }),
      alice.sign({
        kind: 4001,
        created_at: base + 2,
        tags: [
          ['t', 'blue'],
          ['T', 'RED'],
        ],
      }),
      alice.sign({ kind: 4002, created_at: base + 3, tags: [['p', bob.pubkey]] }),
      bob.sign({ kind: 4000, created_at: base + 3, tags: [['t', 'blue']] }),
      bob.sign({
        kind: 4001,
        created_at: base + 4,
        tags: [
          ['t', 'red'],
          ['e', 'x'.repeat(5)],
        ],
      }),
      bob.sign({ kind: 4003, created_at: base + 5, tags: [['t', 'green', 'extra']] }),
      bob.sign({ kind: 4003, created_at: base + 5, content: 'same second' }),
    ];
    for (const event of corpus) await client.publish(event);
    raw = await RawClient.open(relay.url);
  });

  afterAll(() => raw.close());

  const KINDS = [4000, 4001, 4002, 4003];
  const expectFilter = async (
    filter: Record<string, unknown>,
    predicate: (e: NostrEvent) => boolean,
  ) => {
    const got = await rawQuery([{ kinds: KINDS, ...filter }]);
    expect(got.map((e) => e.id)).toEqual(nip01Order(corpus.filter(predicate)).map((e) => e.id));
  };

  it('kinds alone: every event, newest first, equal created_at by lowest id', async () => {
    await expectFilter({}, () => true);
  });

  it('ids', async () => {
    const ids = [corpus[0]?.id as string, corpus[4]?.id as string];
    await expectFilter({ ids }, (e) => ids.includes(e.id));
  });

  it('authors', async () => {
    await expectFilter({ authors: [bob.pubkey] }, (e) => e.pubkey === bob.pubkey);
  });

  it('kinds narrowed', async () => {
    const got = await rawQuery([{ kinds: [4001, 4003] }]);
    expect(got.map((e) => e.id)).toEqual(
      nip01Order(corpus.filter((e) => e.kind === 4001 || e.kind === 4003)).map((e) => e.id),
    );
  });

  it('#t matches the first value of a t tag; tag letters are case-sensitive', async () => {
    await expectFilter({ '#t': ['red'] }, (e) =>
      e.tags.some((t) => t[0] === 't' && t[1] === 'red'),
    );
    await expectFilter({ '#T': ['RED'] }, (e) => e.tags.some((t) => t[0] === 'T'));
    await expectFilter({ '#t': ['extra'] }, () => false);
    await expectFilter({ '#p': [bob.pubkey] }, (e) => e.kind === 4002);
  });

  it('#t with several values is an OR over them; two tag conditions are AND', async () => {
    await expectFilter({ '#t': ['red', 'green'] }, (e) =>
      e.tags.some((t) => t[0] === 't' && (t[1] === 'red' || t[1] === 'green')),
    );
    await expectFilter(
      { '#t': ['red'], '#e': ['xxxxx'] },
      (e) => e.kind === 4001 && e.pubkey === bob.pubkey,
    );
  });

  it('since and until are inclusive', async () => {
    await expectFilter({ since: base + 3 }, (e) => e.created_at >= base + 3);
    await expectFilter({ until: base + 3 }, (e) => e.created_at <= base + 3);
    await expectFilter({ since: base + 3, until: base + 3 }, (e) => e.created_at === base + 3);
    await expectFilter({ since: base + 4, until: base + 3 }, () => false);
  });

  it('limit returns the newest n', async () => {
    const got = await rawQuery([{ kinds: KINDS, limit: 3 }]);
    expect(got.map((e) => e.id)).toEqual(
      nip01Order(corpus)
        .slice(0, 3)
        .map((e) => e.id),
    );
  });

  it('fields in one filter are AND; several filters are OR, each with its own limit', async () => {
    await expectFilter(
      { authors: [alice.pubkey], '#t': ['blue'] },
      (e) => e.pubkey === alice.pubkey && e.tags.some((t) => t[1] === 'blue'),
    );
    const got = await rawQuery([
      { kinds: [4000], authors: [alice.pubkey] },
      { kinds: [4003], limit: 1 },
      { ids: [corpus[0]?.id as string] },
    ]);
    const newest4003 = nip01Order(corpus.filter((e) => e.kind === 4003))[0] as NostrEvent;
    expect(got.map((e) => e.id)).toEqual(
      nip01Order([newest4003, corpus[0] as NostrEvent]).map((e) => e.id),
    );
  });

  it('an empty list matches nothing', async () => {
    await expectFilter({ authors: [] }, () => false);
    await expectFilter({ '#t': [] }, () => false);
  });

  it('a malformed filter is refused with CLOSED invalid:', async () => {
    const raw = await RawClient.open(relay.url);
    for (const filter of [
      { ids: ['abc'] },
      { kinds: ['1'] },
      { since: -1 },
      { limit: 1.5 },
      { '#tag': ['x'] },
      { search: 'x' },
      [],
    ]) {
      raw.send(['REQ', 'bad', filter]);
      const closed = await raw.nextFor('bad', ['CLOSED', 'EOSE']);
      expect(closed[0]).toBe('CLOSED');
      expect(closed[2]).toMatch(/^invalid: /);
    }
    await raw.close();
  });
});

describe('replaceable, addressable and ephemeral events', () => {
  const latest = async (author: Signer, kind: number, d?: string) =>
    query(client, [
      { authors: [author.pubkey], kinds: [kind], ...(d === undefined ? {} : { '#d': [d] }) },
    ]);

  it.each([0, 3, 10002])('kind %i keeps only the newest per author', async (kind) => {
    const author = signer();
    const old = author.sign({ kind, created_at: 1000, content: 'old' });
    const newer = author.sign({ kind, created_at: 2000, content: 'new' });
    await client.publish(old);
    await client.publish(newer);
    expect((await latest(author, kind)).map((e) => e.content)).toEqual(['new']);
    // The old version again is refused, and does not come back.
    await expect(client.publish(old)).rejects.toThrow(/^duplicate: a newer version/);
    expect((await latest(author, kind)).map((e) => e.content)).toEqual(['new']);
    // Another author's version is independent.
    const other = signer();
    await client.publish(other.sign({ kind, created_at: 500 }));
    expect(await latest(other, kind)).toHaveLength(1);
  });

  it('on equal created_at the lowest id wins, whatever order they arrive in', async () => {
    for (const lowerFirst of [true, false]) {
      const author = signer();
      const a = author.sign({ kind: 10000, created_at: 3000, content: 'a' });
      const b = author.sign({ kind: 10000, created_at: 3000, content: 'b' });
      const [low, high] = a.id < b.id ? [a, b] : [b, a];
      const [first, second] = lowerFirst ? [low, high] : [high, low];
      await client.publish(first);
      await client.publish(second).catch(() => undefined);
      expect((await latest(author, 10000)).map((e) => e.id)).toEqual([low.id]);
    }
  });

  it('kind 30000-39999 is keyed by the d tag (a missing d tag is "")', async () => {
    const author = signer();
    const a1 = author.sign({ kind: 31990, created_at: 100, tags: [['d', 'a']], content: 'a1' });
    const b1 = author.sign({ kind: 31990, created_at: 100, tags: [['d', 'b']], content: 'b1' });
    const none = author.sign({ kind: 31990, created_at: 100, content: 'no d' });
    const a2 = author.sign({ kind: 31990, created_at: 200, tags: [['d', 'a']], content: 'a2' });
    const empty = author.sign({
      kind: 31990,
      created_at: 300,
      tags: [['d', '']],
      content: 'empty d',
    });
    for (const event of [a1, b1, none, a2]) await client.publish(event);
    expect((await latest(author, 31990, 'a')).map((e) => e.content)).toEqual(['a2']);
    expect((await latest(author, 31990, 'b')).map((e) => e.content)).toEqual(['b1']);
    await client.publish(empty);
    expect((await latest(author, 31990)).map((e) => e.content).sort()).toEqual([
      'a2',
      'b1',
      'empty d',
    ]);
  });

  it('kind 20000-29999 reaches open subscriptions but is never stored', async () => {
    const author = signer();
    const listener = await connectClient(relay.url);
    const received: NostrEvent[] = [];
    await new Promise<void>((resolve) => {
      listener.subscribe([{ kinds: [20001], authors: [author.pubkey] }], {
        onevent: (e) => received.push(e),
        oneose: resolve,
      });
    });
    const ephemeral = author.sign({ kind: 20001, content: 'now or never' });
    await expect(client.publish(ephemeral)).resolves.toBe('');
    await expect.poll(() => received.map((e) => e.id)).toEqual([ephemeral.id]);
    expect(await query(client, [{ ids: [ephemeral.id] }])).toEqual([]);
    listener.close();
  });
});

describe('subscriptions', () => {
  it('after EOSE, live events that match an open subscription are delivered, others are not', async () => {
    const raw = await RawClient.open(relay.url);
    const author = signer();
    expect(await raw.req('live', { kinds: [5900], authors: [author.pubkey] })).toEqual([]);
    const job = author.sign({ kind: 5900, tags: [['i', 'plan', 'text']] });
    const note = author.sign({ kind: 1 });
    await client.publish(note);
    await client.publish(job);
    const live = await raw.nextFor('live', ['EVENT']);
    expect(live[2]).toEqual(job);
    await raw.close();
  });

  it('CLOSE ends a subscription: no more events for it', async () => {
    const raw = await RawClient.open(relay.url);
    const author = signer();
    await raw.req('gone', { authors: [author.pubkey] });
    const before = relay.stats().subscriptions;
    raw.send(['CLOSE', 'gone']);
    await raw.req('probe', { limit: 0 });
    expect(relay.stats().subscriptions).toBe(before);
    await client.publish(author.sign({}));
    // The relay sent any EVENT for "gone" before this REQ's EOSE: messages are ordered.
    await raw.req('probe2', { limit: 0 });
    expect(raw.messages.filter((m) => m[1] === 'gone' && m[0] === 'EVENT')).toEqual([]);
    await raw.close();
  });

  it('a REQ with an open id replaces that subscription', async () => {
    const raw = await RawClient.open(relay.url);
    const author = signer();
    await raw.req('s', { kinds: [1], authors: [author.pubkey] });
    await raw.req('s', { kinds: [7], authors: [author.pubkey] });
    const reaction = author.sign({ kind: 7, content: '+' });
    await client.publish(author.sign({ kind: 1 }));
    await client.publish(reaction);
    const delivered = await raw.nextFor('s', ['EVENT']);
    expect(delivered[2]).toEqual(reaction);
    await raw.close();
  });
});
