import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_INLINE_PROOF_BYTES } from '../../node/dvm/result.js';
import { resolveProviderConfig } from '../../node/provider/config.js';
import { tempDir } from '../support/storage.js';

describe('the proofStorage section of node.yaml', () => {
  const dir = tempDir('storage-config');
  const base = { relays: ['ws://127.0.0.1:7447'], price: 1000, dataDir: 'p' };

  it('absent: every proof inline, as before', () => {
    expect(resolveProviderConfig(base, dir).proofStorage).toBeUndefined();
  });

  it('defaults: embedded Helia under <dataDir>/proofs, no Blossom server, 512 KiB threshold', () => {
    expect(resolveProviderConfig({ ...base, proofStorage: {} }, dir).proofStorage).toEqual({
      dataDir: join(dir, 'p', 'proofs'),
      blossomServers: [],
      mirrors: undefined,
      embeddedBlossom: false,
      ipfs: { kind: 'helia', dir: join(dir, 'p', 'proofs', 'ipfs') },
      gateways: [],
      cacheBytes: 256 * 1024 * 1024,
      retentionMs: 168 * 3600_000,
      inlineMaxBytes: MAX_INLINE_PROOF_BYTES,
    });
  });

  it('an embedded server, other servers, Kubo; the threshold never above the inline limit', () => {
    const resolved = resolveProviderConfig(
      {
        ...base,
        proofStorage: {
          inlineMaxBytes: 10 * 1024 * 1024,
          blossom: { embedded: { port: 3000, dir: 'blobs' }, servers: ['https://b.example'] },
          ipfs: { kubo: 'http://127.0.0.1:5001' },
        },
      },
      dir,
    ).proofStorage;
    expect(resolved).toMatchObject({
      inlineMaxBytes: MAX_INLINE_PROOF_BYTES,
      embeddedBlossom: { host: '127.0.0.1', port: 3000, dir: join(dir, 'blobs') },
      blossomServers: ['https://b.example'],
      ipfs: { kind: 'kubo', api: 'http://127.0.0.1:5001' },
    });
  });

  it('refuses what it cannot use, naming the field (CONFIG_INVALID)', () => {
    const bad: [unknown, RegExp][] = [
      [{ ipfs: 'ipfs.io' }, /proofStorage\.ipfs/],
      [{ blossom: { servers: ['ftp://x'] } }, /proofStorage\.blossom\.servers\.0: must be an http/],
      [{ blossom: { embedded: { port: 70000 } } }, /proofStorage\.blossom\.embedded/],
      [{ inlineMaxBytes: -1 }, /proofStorage\.inlineMaxBytes/],
      [{ surprise: true }, /proofStorage/],
    ];
    for (const [proofStorage, message] of bad)
      expect(() => resolveProviderConfig({ ...base, proofStorage }, dir)).toThrow(message);
  });
});
