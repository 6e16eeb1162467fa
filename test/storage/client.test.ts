import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { getPublicKey } from 'nostr-tools/pure';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlossomServer } from '../../node/blossom/server.js';
import {
  BlossomClient,
  buildServerList,
  serversOfList,
} from '../../node/storage/blossom-client.js';
import { ProofCache } from '../../node/storage/cache.js';
import { sha256Hex } from '../../node/storage/hash.js';
import { cidOf } from '../../node/storage/ipfs.js';
import { ProofIndex } from '../../node/storage/proof-index.js';
import {
  formatProofRef,
  type ProofRef,
  parseProofRef,
  refFromUri,
} from '../../node/storage/ref.js';
import { blob, startTestBlossom, tempDir, uploader } from '../support/storage.js';

describe('proof references', () => {
  it('round-trip blossom: and ipfs: references, with their hints', async () => {
    const sha = sha256Hex(blob(10));
    const cid = (await cidOf(blob(10))).toString();
    const refs: ProofRef[] = [
      { store: 'blossom', sha256: sha, servers: ['http://127.0.0.1:3000', 'https://b.example/x'] },
      { store: 'ipfs', cid, gateways: [] },
      { store: 'ipfs', cid, gateways: ['http://127.0.0.1:8080'] },
    ];
    for (const ref of refs) expect(parseProofRef(formatProofRef(ref))).toEqual(ref);
    expect(formatProofRef(refs[0] as ProofRef)).toBe(
      `blossom:${sha}?server=http%3A%2F%2F127.0.0.1%3A3000&server=https%3A%2F%2Fb.example%2Fx`,
    );
    expect(refFromUri(`https://b.example/${sha}.bin`)).toEqual({
      store: 'blossom',
      sha256: sha,
      servers: ['https://b.example'],
    });
    expect(refFromUri(`ipfs://${cid}`)).toEqual({ store: 'ipfs', cid, gateways: [] });
  });

  it('refuses malformed references with STORAGE_BAD_REF, saying what is wrong', () => {
    const sha = 'a'.repeat(64);
    const cases: [string, RegExp][] = [
      ['', /is empty/],
      [`blossom:${sha}`, /names no server/],
      [`blossom:${'A'.repeat(64)}?server=http%3A%2F%2Fx`, /64 lowercase hex/],
      [`blossom:${sha}?server=ftp%3A%2F%2Fx`, /http:\/\/ or https:\/\//],
      [`blossom:${sha}?server=http%3A%2F%2Fx&evil=1`, /unknown parameter "evil"/],
      ['ipfs:QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG', /CIDv1/],
      ['ipfs:notacid', /no valid CID/],
      [`s3:${sha}`, /unknown store "s3"/],
      [`https://example.com/page`, /not a Blossom blob URL/],
    ];
    for (const [uri, message] of cases) {
      expect(() => refFromUri(uri), uri).toThrow(message);
      try {
        refFromUri(uri);
      } catch (error) {
        expect((error as { code: string }).code).toBe('STORAGE_BAD_REF');
      }
    }
  });
});

describe('Blossom client with several servers', () => {
  let one: BlossomServer;
  let two: BlossomServer;
  const key = uploader();
  const down = 'http://127.0.0.1:9';

  beforeAll(async () => {
    one = await startTestBlossom();
    two = await startTestBlossom();
  });
  afterAll(async () => {
    await one?.close();
    await two?.close();
  });

  it('skips a server that is down, uploads to the others, and the reference lists them', async () => {
    const client = new BlossomClient({
      servers: [down, one.url, two.url],
      secretKey: key.secretKey,
      timeoutMs: 3000,
    });
    const bytes = blob(100_000);
    const stored = await client.upload(bytes);
    expect(stored.ref).toEqual({
      store: 'blossom',
      sha256: sha256Hex(bytes),
      servers: [one.url, two.url],
    });
    expect(stored.url).toBe(`${one.url}/${sha256Hex(bytes)}`);
    // Another node, knowing only the reference, fetches it (first listed server down too).
    const reader = new BlossomClient({ servers: [] });
    expect(
      Buffer.from(
        await reader.fetch({
          store: 'blossom',
          sha256: stored.sha256,
          servers: [down, ...(stored.ref as { servers: string[] }).servers],
        }),
      ).equals(bytes),
    ).toBe(true);
    const listed = await client.list(two.url, key.pubkey);
    expect(listed.map((d) => d.sha256)).toContain(sha256Hex(bytes));
    await client.unpin(stored.ref);
    expect(await client.has(one.url, sha256Hex(bytes))).toBe(false);
    // Gone from both live servers; with one server down the answer is "unavailable" instead.
    const live = new BlossomClient({ servers: [one.url, two.url], secretKey: key.secretKey });
    await expect(live.pin(stored.ref)).rejects.toMatchObject({ code: 'STORAGE_NOT_FOUND' });
    await expect(client.pin(stored.ref)).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
  });

  it('mirrors: 1 stops after the first server that takes it', async () => {
    const client = new BlossomClient({
      servers: [one.url, two.url],
      secretKey: key.secretKey,
      mirrors: 1,
    });
    const stored = await client.upload(blob(1000));
    expect((stored.ref as { servers: string[] }).servers).toEqual([one.url]);
  });

  it('every server down: STORAGE_UNAVAILABLE naming each', async () => {
    const client = new BlossomClient({
      servers: [down, 'http://127.0.0.1:10'],
      secretKey: key.secretKey,
      timeoutMs: 3000,
    });
    await expect(client.upload(blob(10))).rejects.toMatchObject({
      code: 'STORAGE_UNAVAILABLE',
      details: { failures: [{ server: down }, { server: 'http://127.0.0.1:10' }] },
    });
  });

  it('tampered bytes at a server: STORAGE_HASH_MISMATCH, unless another server has the real blob', async () => {
    const client = new BlossomClient({ servers: [one.url, two.url], secretKey: key.secretKey });
    const bytes = blob(20_000);
    const stored = await client.upload(bytes);
    const sha = sha256Hex(bytes);
    // Someone with disk access replaces the blob on server one.
    writeFileSync(join(tempDirOf(one), sha), blob(20_000));
    const onlyOne = { store: 'blossom' as const, sha256: sha, servers: [one.url] };
    await expect(new BlossomClient({ servers: [] }).fetch(onlyOne)).rejects.toMatchObject({
      code: 'STORAGE_HASH_MISMATCH',
      message: expect.stringMatching(/does not match its address/),
    });
    expect(
      Buffer.from(await new BlossomClient({ servers: [] }).fetch(stored.ref)).equals(bytes),
    ).toBe(true);
  });

  it('BUD-03: a signed server list (kind 10063) and the servers read back from it', () => {
    const event = buildServerList([one.url, `${two.url}/`], key.secretKey);
    expect(event.kind).toBe(10063);
    expect(event.pubkey).toBe(getPublicKey(key.secretKey));
    expect(serversOfList(event)).toEqual([one.url, two.url]);
    expect(
      serversOfList({
        ...event,
        tags: [
          ['server', 'not a url'],
          ['server', one.url],
        ],
      }),
    ).toEqual([one.url]);
  });
});

/** The directory a test Blossom server keeps its blobs in (from its index path). */
const tempDirOf = (server: BlossomServer): string => server.index.path.replace(/\/index\.db$/, '');

describe('local proof cache (LRU by bytes)', () => {
  it('stays under its bound, evicts the least recently used, never a pinned entry', () => {
    const pinned = new Set<string>();
    const cache = new ProofCache(tempDir('cache'), 3000, (sha) => pinned.has(sha));
    const items = Array.from({ length: 5 }, () => blob(1000));
    const shas = items.map(sha256Hex);
    pinned.add(shas[0] as string);
    for (const [i, item] of items.entries()) {
      cache.put(shas[i] as string, item);
      if (i === 2) cache.get(shas[1] as string); // 1 is now more recent than 2
      expect(cache.bytes).toBeLessThanOrEqual(3000);
    }
    expect(cache.has(shas[0] as string)).toBe(true);
    expect(cache.has(shas[1] as string)).toBe(false);
    expect(cache.has(shas[4] as string)).toBe(true);
  });

  it('drops a damaged entry instead of returning it', () => {
    const dir = tempDir('cache-damaged');
    const cache = new ProofCache(dir, 10_000);
    const bytes = blob(100);
    const sha = sha256Hex(bytes);
    cache.put(sha, bytes);
    writeFileSync(join(dir, sha), blob(100));
    expect(cache.get(sha)).toBeUndefined();
    expect(cache.has(sha)).toBe(false);
    // Reopened from disk, it knows what is there.
    cache.put(sha, bytes);
    expect(new ProofCache(dir, 10_000).get(sha)?.length).toBe(100);
  });
});

describe('garbage collection rules (proof index)', () => {
  it('property: gc candidates are never pinned, never within retention, never referenced by an unsettled job', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('record' as const), proof: fc.nat(5), age: fc.nat(100) }),
      fc.record({ kind: fc.constant('reference' as const), proof: fc.nat(5), job: fc.nat(3) }),
      fc.record({ kind: fc.constant('settle' as const), job: fc.nat(3) }),
      fc.record({ kind: fc.constant('pin' as const), proof: fc.nat(5) }),
      fc.record({ kind: fc.constant('unpin' as const), proof: fc.nat(5) }),
    );
    const dir = tempDir('gc-property');
    let run = 0;
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), fc.nat(100), (ops, retention) => {
        const index = new ProofIndex(join(dir, `${run++}.db`));
        const now = 1000;
        const sha = (n: number) => n.toString(16).padStart(64, '0');
        try {
          for (const o of ops) {
            if (o.kind === 'record')
              index.record({
                uri: `ipfs:x${o.proof}`,
                sha256: sha(o.proof),
                store: 'ipfs',
                size: 1,
                createdMs: now - o.age,
              });
            else if (o.kind === 'reference') index.reference(sha(o.proof), `job${o.job}`);
            else if (o.kind === 'settle') index.markJobSettled(`job${o.job}`);
            else if (o.kind === 'pin') index.pin(sha(o.proof), 'dispute');
            else index.unpin(sha(o.proof));
          }
          const candidates = index.collectable(now - retention);
          for (const row of candidates) {
            expect(row.pinned).toBe(false);
            expect(row.createdMs).toBeLessThan(now - retention);
            expect(row.jobs.every((j) => j.settled)).toBe(true);
          }
          // And everything else is kept for one of those reasons.
          const picked = new Set(candidates.map((c) => c.uri));
          for (const row of index.list().filter((r) => !picked.has(r.uri)))
            expect(
              row.pinned || row.createdMs >= now - retention || row.jobs.some((j) => !j.settled),
            ).toBe(true);
        } finally {
          index.close();
        }
      }),
      { numRuns: 40 },
    );
  });

  it('a settled job pins its proofs (the evidence of a payment)', () => {
    const index = new ProofIndex(join(tempDir('gc-settle'), 'p.db'));
    index.record({ uri: 'ipfs:a', sha256: 'a'.repeat(64), store: 'ipfs', size: 1, createdMs: 0 });
    index.reference('a'.repeat(64), 'job1');
    expect(index.collectable(10)).toEqual([]);
    expect(index.markJobSettled('job1')).toBe(1);
    expect(index.find('ipfs:a')[0]).toMatchObject({
      pinned: true,
      pinReason: 'settled:job1',
      jobs: [{ jobId: 'job1', settled: true }],
    });
    expect(index.collectable(10)).toEqual([]);
    index.close();
  });
});
