import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RelayPool } from '../../node/nostr/pool.js';
import type { RelayServer } from '../../node/relay/server.js';
import {
  NOSTR_RS_RELAY_BIN,
  NOSTR_RS_RELAY_PRESENT,
  startNostrRsRelay,
} from '../support/nostr-rs-relay.js';
import { type NostrEvent, signer, startTestRelay } from '../support/relay.js';

/**
 * The relay pool across a real nostr-rs-relay (scripts/nostr-rs-relay.sh, configured by
 * relay-config/nostr-rs-relay.toml) and the embedded relay. Without the binary every test fails
 * (never skips): `npm test` builds it (npm run build:relay).
 */
describe('RelayPool across nostr-rs-relay and the embedded relay', () => {
  let external: Awaited<ReturnType<typeof startNostrRsRelay>> | undefined;
  let embedded: RelayServer | undefined;
  let pool: RelayPool | undefined;

  beforeAll(async () => {
    if (!NOSTR_RS_RELAY_PRESENT) return;
    external = await startNostrRsRelay();
    embedded = await startTestRelay();
    pool = new RelayPool([embedded.url, external.url]);
    await pool.connect();
  }, 60_000);

  // Each test fails (not skips) when the binary is missing.
  const ready = () => {
    if (!NOSTR_RS_RELAY_PRESENT)
      throw new Error(
        `nostr-rs-relay is not installed at ${NOSTR_RS_RELAY_BIN}: run \`npm run build:relay\` (npm test does)`,
      );
    return {
      external: external as Awaited<ReturnType<typeof startNostrRsRelay>>,
      embedded: embedded as RelayServer,
      pool: pool as RelayPool,
    };
  };

  afterAll(async () => {
    pool?.close();
    await embedded?.close();
    if (external !== undefined && external.child.exitCode === null) {
      const exited = new Promise((resolve) => external?.child.once('exit', resolve));
      external.child.kill('SIGINT');
      await exited;
    }
  });

  it('nostr-rs-relay runs with the project config', async () => {
    const { external } = ready();
    const info = await fetch(external.url.replace('ws:', 'http:'), {
      headers: { Accept: 'application/nostr+json' },
    }).then((r) => r.json());
    expect(info).toMatchObject({
      name: 'm2m nostr-rs-relay',
      supported_nips: expect.arrayContaining([1, 11]),
    });
  });

  it('both relays accept a DVM job, a 512 KiB proof result, feedback and handler info', async () => {
    const { external, pool } = ready();
    const customer = signer();
    const provider = signer();
    const proof = Buffer.alloc(384 * 1024, 3).toString('base64');
    const request = customer.sign({
      kind: 5900,
      tags: [['verification', 'zk']],
      content: 'plan',
    });
    const events = [
      request,
      provider.sign({
        kind: 7000,
        tags: [
          ['e', request.id],
          ['status', 'processing'],
        ],
      }),
      provider.sign({
        kind: 6900,
        tags: [
          ['e', request.id],
          ['proof', proof],
        ],
        content: '{}',
      }),
      provider.sign({
        kind: 31990,
        tags: [
          ['d', 'm2m'],
          ['k', '5900'],
        ],
        content: '{}',
      }),
    ];
    expect(JSON.stringify(events[2]).length).toBeGreaterThan(512 * 1024);
    for (const event of events) {
      const results = await pool.publish(event);
      expect(
        results.map((r) => [r.ok, r.message]),
        `kind ${event.kind}: ${external.log()}`,
      ).toEqual([
        [true, ''],
        [true, expect.any(String)],
      ]);
    }

    // One subscription over both relays: every event once, although both relays have it.
    const received: NostrEvent[] = [];
    await new Promise<void>((resolve) =>
      pool.subscribe([{ '#e': [request.id] }, { ids: [request.id] }], {
        onevent: (event) => received.push(event),
        oneose: resolve,
      }),
    );
    expect(received.map((e) => e.id).sort()).toEqual(
      events
        .slice(0, 3)
        .map((e) => e.id)
        .sort(),
    );
    expect(received.find((e) => e.kind === 6900)?.tags[1]).toEqual(['proof', proof]);
  });

  it('both relays keep only the newest handler info (kind 31990, keyed by d)', async () => {
    const { external, embedded, pool } = ready();
    const provider = signer();
    const old = provider.sign({
      kind: 31990,
      created_at: 1000,
      tags: [['d', 'm2m']],
      content: 'old',
    });
    const fresh = provider.sign({
      kind: 31990,
      created_at: 2000,
      tags: [['d', 'm2m']],
      content: 'new',
    });
    await pool.publish(old);
    await pool.publish(fresh);
    for (const url of [embedded.url, external.url]) {
      const single = new RelayPool([url]);
      await single.connect();
      const got: string[] = [];
      await new Promise<void>((resolve) =>
        single.subscribe([{ kinds: [31990], authors: [provider.pubkey] }], {
          onevent: (event) => got.push(event.content),
          oneose: resolve,
        }),
      );
      single.close();
      expect(got, url).toEqual(['new']);
    }
  });
});
