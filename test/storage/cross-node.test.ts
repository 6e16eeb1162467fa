import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSecretKey } from 'nostr-tools/pure';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlossomServer } from '../../node/blossom/server.js';
import type { ProofStoreConfig } from '../../node/storage/config.js';
import { createProofFetcher } from '../../node/storage/fetch.js';
import { sha256Hex } from '../../node/storage/hash.js';
import { ProofStore } from '../../node/storage/proof-store.js';
import { toDigest } from '../../zkvm/commitment/digest.js';
import { decodeEnvelope } from '../../zkvm/proof/envelope.js';
import { ProgramRegistry } from '../../zkvm/registry/registry.js';
import { ZKVerifier } from '../../zkvm/verifier/verifier.js';
import { type KuboDaemon, startKubo } from '../support/kubo.js';
import {
  blob,
  type ProvenSensor,
  proveSensorSummary,
  startTestBlossom,
  tempDir,
} from '../support/storage.js';

/**
 * Two nodes: A proves sensor-summary and uploads the envelope; B knows only the reference and
 * the proof-ref digest, fetches, and verifies the proof with the ZKVerifier. Over the node's own
 * Blossom server, over a real Kubo daemon, and over the embedded Helia node behind A's server.
 */
describe('a proof uploaded by one node is fetched and verified by another', () => {
  let proof: ProvenSensor;
  let kubo: KuboDaemon;
  let standalone: BlossomServer;
  const dirs: string[] = [];
  const stores: ProofStore[] = [];
  const registry = new ProgramRegistry();

  const base = (overrides: Partial<ProofStoreConfig>): ProofStoreConfig => {
    const dataDir = tempDir('proof-node');
    dirs.push(dataDir);
    return {
      dataDir,
      blossomServers: [],
      embeddedBlossom: false,
      ipfs: { kind: 'none' },
      gateways: [],
      cacheBytes: 64 * 1024 * 1024,
      retentionMs: 3600_000,
      timeoutMs: 5000,
      ...overrides,
    };
  };
  const open = async (overrides: Partial<ProofStoreConfig>) => {
    const store = await ProofStore.open(base(overrides), { secretKey: generateSecretKey() });
    stores.push(store);
    return store;
  };

  /** Node B: a fresh fetcher with no configuration, then the verifier. */
  async function fetchAndVerify(uri: string): Promise<void> {
    const dataDir = tempDir('verifier');
    dirs.push(dataDir);
    const bytes = await createProofFetcher({ dataDir })(
      uri,
      toDigest(Buffer.from(sha256Hex(proof.bytes), 'hex')),
    );
    expect(Buffer.from(bytes).equals(proof.bytes)).toBe(true);
    const verdict = await new ZKVerifier(registry).verify(
      decodeEnvelope(bytes),
      proof.jobRequestHash,
    );
    expect(verdict).toMatchObject({ valid: true });
  }

  beforeAll(async () => {
    [proof, kubo, standalone] = await Promise.all([
      proveSensorSummary(),
      startKubo(),
      startTestBlossom(),
    ]);
  }, 120_000);
  afterAll(async () => {
    for (const store of stores) await store.close();
    await standalone?.close();
    await kubo?.stop();
    registry.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('via Blossom: the node’s embedded server and a second server, both in the reference', async () => {
    const a = await open({
      embeddedBlossom: { host: '127.0.0.1', port: 0, dir: tempDir('embedded') },
      blossomServers: [standalone.url],
    });
    const stored = await a.upload(proof.bytes, { jobId: 'job-blossom' });
    expect(stored).toMatchObject({
      store: 'blossom',
      sha256: sha256Hex(proof.bytes),
      size: proof.bytes.length,
    });
    expect(stored.ref).toMatchObject({ servers: [a.server?.url, standalone.url] });
    expect(stored.uri).toMatch(/^blossom:[0-9a-f]{64}\?server=/);
    await fetchAndVerify(stored.uri);
  });

  it('via IPFS (Kubo): the reference carries the gateway, B needs no IPFS node of its own', async () => {
    const a = await open({ ipfs: { kind: 'kubo', api: kubo.api }, gateways: [kubo.gateway] });
    const stored = await a.upload(proof.bytes);
    expect(stored.store).toBe('ipfs:kubo');
    expect(stored.uri).toMatch(/^ipfs:bafk[a-z2-7]+\?gateway=/);
    await fetchAndVerify(stored.uri);
    // And through the Kubo API instead of the gateway.
    const viaApi = await createProofFetcher({ kuboApi: kubo.api })(
      stored.uri.replace(/\?.*$/, ''),
      toDigest(Buffer.from(stored.sha256, 'hex')),
    );
    expect(Buffer.from(viaApi).equals(proof.bytes)).toBe(true);
  });

  it('via IPFS (embedded Helia): an offline node serves its CIDs at its Blossom server’s /ipfs/', async () => {
    const a = await open({
      ipfs: { kind: 'helia', dir: tempDir('helia-node') },
      embeddedBlossom: { host: '127.0.0.1', port: 0, dir: tempDir('embedded-h') },
    });
    // Blossom first: put IPFS to work by uploading through the IPFS store directly.
    const ipfs = a.storage.stores.find((s) => s.name === 'ipfs:helia');
    if (ipfs === undefined) throw new Error('no Helia store');
    const stored = await ipfs.upload(proof.bytes);
    expect(stored.uri).toBe(
      `ipfs:${(stored.ref as { cid: string }).cid}?gateway=${encodeURIComponent(a.server?.url ?? '')}`,
    );
    await fetchAndVerify(stored.uri);
  });

  it('content that does not match its address: a typed error, never a verified proof', async () => {
    const a = await open({ blossomServers: [standalone.url] });
    const stored = await a.upload(proof.bytes);
    const fetcher = createProofFetcher();
    const digest = toDigest(Buffer.from(stored.sha256, 'hex'));
    // The right blob, but the proof-ref tag pins other bytes.
    await expect(
      fetcher(stored.uri, toDigest(Buffer.from(sha256Hex(blob(8)), 'hex'))),
    ).rejects.toMatchObject({ code: 'STORAGE_HASH_MISMATCH' });
    // The server's file replaced on disk.
    const tampered = Buffer.from(proof.bytes);
    tampered[tampered.length - 10] = (tampered[tampered.length - 10] as number) ^ 0xff;
    writeFileSync(join(standalone.index.path.replace(/index\.db$/, ''), stored.sha256), tampered);
    await expect(fetcher(stored.uri, digest)).rejects.toMatchObject({
      code: 'STORAGE_HASH_MISMATCH',
    });
    // A gateway that serves other bytes for a CID.
    const liar = await startTestBlossom({ ipfsGateway: async () => tampered });
    try {
      const k = await open({ ipfs: { kind: 'kubo', api: kubo.api } });
      const onIpfs = await k.upload(proof.bytes);
      const lying = `${onIpfs.uri}?gateway=${encodeURIComponent(liar.url)}`;
      await expect(fetcher(lying, digest)).rejects.toMatchObject({
        code: 'STORAGE_HASH_MISMATCH',
        message: expect.stringMatching(/whose CID is/),
      });
    } finally {
      await liar.close();
    }
    // A store that is down.
    await expect(
      fetcher(
        `blossom:${stored.sha256}?server=${encodeURIComponent('http://127.0.0.1:9')}`,
        digest,
      ),
    ).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
  });

  it('fallback: with Blossom down the upload goes to IPFS, each failure named', async () => {
    const fallbacks: unknown[] = [];
    const dataDir = tempDir('fallback');
    dirs.push(dataDir);
    const a = await ProofStore.open(
      base({
        dataDir,
        blossomServers: ['http://127.0.0.1:9'],
        ipfs: { kind: 'kubo', api: kubo.api },
        gateways: [kubo.gateway],
      }),
      { secretKey: generateSecretKey(), onFallback: (f) => fallbacks.push(f) },
    );
    stores.push(a);
    const stored = await a.upload(proof.bytes);
    expect(stored.store).toBe('ipfs:kubo');
    expect(fallbacks).toEqual([
      {
        store: 'blossom',
        code: 'STORAGE_UNAVAILABLE',
        reason: expect.stringMatching(/127\.0\.0\.1:9/),
      },
    ]);
    await fetchAndVerify(stored.uri);
    // Every store down: STORAGE_UNAVAILABLE with both failures.
    const none = await open({
      blossomServers: ['http://127.0.0.1:9'],
      ipfs: { kind: 'kubo', api: 'http://127.0.0.1:10' },
    });
    await expect(none.upload(blob(100))).rejects.toMatchObject({
      code: 'STORAGE_UNAVAILABLE',
      details: { failures: [{ store: 'blossom' }, { store: 'ipfs:kubo' }] },
    });
  });

  it('GC never deletes a pinned or referenced proof, and deletes the rest from their stores', async () => {
    const a = await open({
      ipfs: { kind: 'helia', dir: tempDir('helia-gc') },
      blossomServers: [standalone.url],
    });
    const t0 = 1_000_000;
    const [pinned, referenced, settled, loose, fresh] = await Promise.all(
      [0, 1, 2, 3, 4].map(() => blob(30_000)),
    ).then(async (blobs) => {
      const out = [];
      for (const [i, b] of blobs.entries())
        out.push(
          await a.upload(b, {
            now: i === 4 ? t0 + 9_000 : t0,
            ...(i === 1 || i === 2 ? { jobId: `job${i}` } : {}),
          }),
        );
      return out;
    });
    await a.pin(pinned?.uri as string, 'dispute:42');
    expect(a.markJobSettled('job2')).toBe(1); // settled: pinned automatically
    const report = await a.gc({ retentionMs: 5_000, now: t0 + 10_000 });
    expect(report.deleted.map((d) => d.uri)).toEqual([loose?.uri]);
    expect(report.failed).toEqual([]);
    expect(report.kept).toBe(4);
    const client = a.storage.stores[0];
    await expect(client?.fetch(loose?.ref as never)).rejects.toMatchObject({
      code: 'STORAGE_NOT_FOUND',
    });
    for (const kept of [pinned, referenced, settled, fresh]) {
      const bytes = await client?.fetch(kept?.ref as never);
      expect(sha256Hex(bytes as Uint8Array)).toBe(kept?.sha256);
    }
    // Unpinned and past retention: collected next time; the referenced one waits for its job.
    a.unpin(pinned?.uri as string);
    const second = await a.gc({ retentionMs: 5_000, now: t0 + 20_000 });
    expect(second.deleted.map((d) => d.uri).sort()).toEqual([pinned?.uri, fresh?.uri].sort());
    expect(
      a
        .list()
        .map((r) => r.uri)
        .sort(),
    ).toEqual([referenced?.uri, settled?.uri].sort());
    a.markJobSettled('job1');
    a.unpin(referenced?.uri as string);
    expect(
      (await a.gc({ retentionMs: 5_000, now: t0 + 30_000 })).deleted.map((d) => d.uri),
    ).toEqual([referenced?.uri]);
  });
});
