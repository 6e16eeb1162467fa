import { describe, expect, it } from 'vitest';
import { resolveRelayConfig } from '../../node/relay/config.js';
import { compareVersions, kindClass } from '../../node/relay/event.js';
import { matchFilter, parseFilters, type RelayFilter } from '../../node/relay/filters.js';
import { DEFAULT_RELAY_LIMITS, TokenBucket } from '../../node/relay/limits.js';
import { RelayStore } from '../../node/relay/storage.js';
import { startSignaturePool } from '../../node/relay/verify-pool.js';
import { codeOf } from '../support/errors.js';
import { signer, tempDb } from '../support/relay.js';

/** The relay's pieces on their own: no sockets. */
describe('kinds and versions', () => {
  it.each([
    [0, 'replaceable'],
    [1, 'regular'],
    [3, 'replaceable'],
    [9999, 'regular'],
    [10000, 'replaceable'],
    [19999, 'replaceable'],
    [20000, 'ephemeral'],
    [29999, 'ephemeral'],
    [30000, 'addressable'],
    [31990, 'addressable'],
    [39999, 'addressable'],
    [40000, 'regular'],
    [5900, 'regular'],
  ])('kind %i is %s', (kind, expected) => {
    expect(kindClass(kind)).toBe(expected);
  });

  it('the later created_at wins; on a tie the lower id', () => {
    const a = { created_at: 5, id: 'b'.repeat(64) };
    expect(compareVersions(a, { created_at: 4, id: 'a'.repeat(64) })).toBeLessThan(0);
    expect(compareVersions(a, { created_at: 5, id: 'a'.repeat(64) })).toBeGreaterThan(0);
    expect(compareVersions(a, { created_at: 5, id: 'c'.repeat(64) })).toBeLessThan(0);
  });
});

describe('TokenBucket', () => {
  it('allows the burst, then refills at the rate', () => {
    let now = 0;
    const bucket = new TokenBucket(2, 3, () => now);
    expect([1, 2, 3, 4].map(() => bucket.take())).toEqual([true, true, true, false]);
    now = 499;
    expect(bucket.take()).toBe(false);
    now = 500;
    expect(bucket.take()).toBe(true);
    now = 60_000;
    expect([1, 2, 3, 4].map(() => bucket.take())).toEqual([true, true, true, false]);
  });
});

describe('filters', () => {
  it('limits: filters per REQ, values per list, limit clamped, default limit', () => {
    const limits = { ...DEFAULT_RELAY_LIMITS, maxFilters: 2, maxFilterValues: 2, maxLimit: 10 };
    expect(parseFilters([{}, {}, {}], limits)).toMatchObject({ ok: false, reason: /^blocked: / });
    expect(parseFilters([{ kinds: [1, 2, 3] }], limits)).toMatchObject({
      ok: false,
      reason: 'invalid: kinds has 3 values, the limit is 2',
    });
    const parsed = parseFilters([{ limit: 99 }, {}], limits);
    expect(parsed.ok && parsed.filters.map((f) => f.limit)).toEqual([10, limits.defaultLimit]);
  });

  it('matchFilter agrees on every field', () => {
    const event = signer().sign({
      kind: 7,
      created_at: 100,
      tags: [
        ['e', 'x'],
        ['t', 'a', 'b'],
      ],
    });
    const match = (filter: Record<string, unknown>) => {
      const parsed = parseFilters([filter], DEFAULT_RELAY_LIMITS);
      if (!parsed.ok) throw new Error(parsed.reason);
      return matchFilter(parsed.filters[0] as RelayFilter, event);
    };
    expect(match({})).toBe(true);
    expect(match({ ids: [event.id] })).toBe(true);
    expect(match({ ids: ['0'.repeat(64)] })).toBe(false);
    expect(match({ authors: [event.pubkey], kinds: [7] })).toBe(true);
    expect(match({ kinds: [1] })).toBe(false);
    expect(match({ since: 100, until: 100 })).toBe(true);
    expect(match({ since: 101 })).toBe(false);
    expect(match({ until: 99 })).toBe(false);
    expect(match({ '#e': ['x'], '#t': ['a'] })).toBe(true);
    expect(match({ '#t': ['b'] })).toBe(false);
    expect(match({ '#E': ['x'] })).toBe(false);
    // limit does not apply to live events, limit 0 included.
    expect(match({ limit: 0 })).toBe(true);
  });
});

describe('config', () => {
  it('defaults < file < command line', () => {
    const config = resolveRelayConfig(
      { port: 1, db: 'file.db', limits: { maxSubscriptions: 3 } },
      { port: 2 },
    );
    expect(config).toMatchObject({ host: '127.0.0.1', port: 2, db: 'file.db' });
    expect(config.limits).toEqual({ ...DEFAULT_RELAY_LIMITS, maxSubscriptions: 3 });
  });

  it.each([
    [{ port: 70000 }],
    [{ limits: { maxSubscriptions: 0 } }],
    [{ limits: { unknown: 1 } }],
    [{ info: { pubkey: 'not hex' } }],
    [{ limits: { defaultLimit: 10, maxLimit: 5 } }],
    ['a string'],
  ])('%j is RELAY_CONFIG_INVALID', (file) => {
    expect(codeOf(() => resolveRelayConfig(file))).toBe('RELAY_CONFIG_INVALID');
  });
});

describe('RelayStore', () => {
  it('a database that cannot be opened is IO_RELAY_DB_OPEN_FAILED', () => {
    expect(codeOf(() => new RelayStore('/nonexistent-dir/relay.db'))).toBe(
      'IO_RELAY_DB_OPEN_FAILED',
    );
  });

  it('one batch: duplicates and replaced versions inside the same transaction', () => {
    const store = new RelayStore(tempDb());
    const author = signer();
    const note = author.sign({ kind: 1 });
    const v1 = author.sign({ kind: 0, created_at: 1 });
    const v2 = author.sign({ kind: 0, created_at: 2 });
    const item = (event: typeof note) => ({ event, json: JSON.stringify(event) });
    expect(store.storeBatch([note, v1, note, v2, v1].map(item))).toEqual([
      'stored',
      'stored',
      'duplicate',
      'stored',
      'superseded',
    ]);
    expect(store.count()).toBe(2);
    const parsed = parseFilters([{ authors: [author.pubkey] }], DEFAULT_RELAY_LIMITS);
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(store.query(parsed.filters).map((json) => JSON.parse(json).id)).toEqual(
      [note, v2].sort((a, b) => b.created_at - a.created_at).map((e) => e.id),
    );
    store.close();
  });
});

describe('signature checks', () => {
  it.each([0, 2])(
    'with %i worker threads: valid, bad signature, signed by another key',
    async (threads) => {
      const pool = await startSignaturePool(threads);
      expect(pool).toMatchObject({ backend: 'wasm', threads });
      const author = signer();
      const events = Array.from({ length: 40 }, (_, i) => author.sign({ content: String(i) }));
      const forged = { ...author.sign({}), sig: signer().sign({}).sig };
      const flipped = events[0] as (typeof events)[0];
      const broken = {
        ...flipped,
        sig: `${flipped.sig.slice(0, -2)}${flipped.sig.endsWith('00') ? '11' : '00'}`,
      };
      const verdicts = await Promise.all([...events, forged, broken].map((e) => pool.verify(e)));
      expect(verdicts).toEqual([...events.map(() => true), false, false]);
      await pool.close();
    },
  );
});
