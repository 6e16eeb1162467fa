import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cidOf,
  fetchFromGateways,
  HeliaProofStorage,
  KuboProofStorage,
} from '../../node/storage/ipfs.js';
import { parseProofRef } from '../../node/storage/ref.js';
import { type KuboDaemon, startKubo } from '../support/kubo.js';
import { blob, tempDir } from '../support/storage.js';

/** Both IPFS backends for real: the embedded Helia node on disk and a Kubo daemon (offline). */
describe('IPFS backends', () => {
  let kubo: KuboDaemon;
  let helia: HeliaProofStorage;
  const heliaDir = tempDir('helia');

  beforeAll(async () => {
    kubo = await startKubo();
    helia = await HeliaProofStorage.open(heliaDir);
  }, 90_000);
  afterAll(async () => {
    await helia?.close();
    await kubo?.stop();
    rmSync(heliaDir, { recursive: true, force: true });
  });

  it('the same bytes get the same CIDv1 in Kubo, Helia and cidOf (one chunk and several)', async () => {
    const store = new KuboProofStorage(kubo.api);
    for (const size of [1, 100_000, 262_145, 1_048_576, 1_048_577, 3_000_000]) {
      const bytes = blob(size);
      const [a, b, c] = [await store.upload(bytes), await helia.upload(bytes), await cidOf(bytes)];
      expect(a.ref).toMatchObject({ store: 'ipfs' });
      expect(b.uri).toBe(a.uri);
      expect(a.uri).toBe(`ipfs:${c.toString()}`);
      expect(c.version).toBe(1);
    }
  });

  it('Kubo: upload, fetch (re-checked), pin and unpin', async () => {
    const store = new KuboProofStorage(kubo.api, { gateways: [kubo.gateway] });
    const bytes = blob(300_000);
    const stored = await store.upload(bytes);
    expect(stored.url).toBe(`${kubo.gateway}/ipfs/${(stored.ref as { cid: string }).cid}`);
    expect(Buffer.from(await store.fetch(stored.ref)).equals(bytes)).toBe(true);
    const cid = (stored.ref as { cid: string }).cid;
    expect(await store.isPinned(cid)).toBe(true);
    await store.unpin(stored.ref);
    expect(await store.isPinned(cid)).toBe(false);
    await store.pin(stored.ref);
    expect(await store.isPinned(cid)).toBe(true);
    // Through the gateway (what another node does with the reference's hint).
    expect(Buffer.from(await fetchFromGateways(cid, [kubo.gateway])).equals(bytes)).toBe(true);
  });

  it('Helia: upload, fetch, pin, and unpin garbage-collects the blocks', async () => {
    const bytes = blob(600_000);
    const stored = await helia.upload(bytes);
    const cid = (stored.ref as { cid: string }).cid;
    expect(await helia.isPinned(cid)).toBe(true);
    expect(Buffer.from(await helia.fetch(stored.ref)).equals(bytes)).toBe(true);
    await helia.unpin(stored.ref);
    expect(await helia.isPinned(cid)).toBe(false);
    await expect(helia.fetch(stored.ref)).rejects.toMatchObject({ code: 'STORAGE_NOT_FOUND' });
    await expect(helia.pin(stored.ref)).rejects.toMatchObject({ code: 'STORAGE_NOT_FOUND' });
  });

  it('a CID neither store holds is STORAGE_NOT_FOUND, promptly (offline)', async () => {
    const ref = parseProofRef(`ipfs:${(await cidOf(blob(64))).toString()}`);
    await expect(helia.fetch(ref)).rejects.toMatchObject({ code: 'STORAGE_NOT_FOUND' });
    await expect(new KuboProofStorage(kubo.api).fetch(ref)).rejects.toMatchObject({
      code: 'STORAGE_NOT_FOUND',
    });
  });

  it('a daemon that is down is STORAGE_UNAVAILABLE, naming it', async () => {
    const down = new KuboProofStorage('http://127.0.0.1:9', { timeoutMs: 2000 });
    await expect(down.upload(blob(10))).rejects.toMatchObject({
      code: 'STORAGE_UNAVAILABLE',
      message: expect.stringMatching(/Kubo at http:\/\/127\.0\.0\.1:9 failed to add/),
    });
  });
});
