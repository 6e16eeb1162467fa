import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../node/storage/hash.js';
import { m2m } from '../dvm-market/processes.js';
import { blob, tempDir } from '../support/storage.js';

const BIN = new URL('../../dist/node/cli/main.js', import.meta.url).pathname;

/** `m2m blossom start` and `m2m proof upload|fetch|list|pin|unpin|gc`, as users run them (dist). */
describe('m2m proof and m2m blossom (CLI)', () => {
  const dir = tempDir('proof-cli');
  const dataDir = join(dir, 'home');
  let server: ChildProcess;
  let url: string;
  let exited: Promise<{ code: number | null; stdout: string }>;

  beforeAll(async () => {
    server = spawn(
      process.execPath,
      [BIN, 'blossom', 'start', '--port', '0', '--dir', join(dir, 'blobs'), '--json'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    exited = new Promise((resolve) => server.once('close', (code) => resolve({ code, stdout })));
    url = await new Promise<string>((resolve, reject) => {
      server.stdout?.on('data', (chunk) => {
        stdout += chunk;
        const match = /"url": "([^"]+)"/.exec(stdout);
        if (match !== null) resolve(match[1] as string);
      });
      void exited.then(() => reject(new Error('m2m blossom start exited early')));
    });
  });
  afterAll(() => {
    if (server.exitCode === null) server.kill('SIGKILL');
  });

  const proof = (...args: string[]) =>
    m2m('proof', ...args, '--data-dir', dataDir, '--ipfs', 'none');

  it('upload prints a blossom: reference; fetch writes the same bytes; list, pin, unpin, gc', async () => {
    const bytes = blob(300_000);
    const file = join(dir, 'proof.bin');
    writeFileSync(file, bytes);
    const up = await proof('upload', file, '--server', url, '--job', 'job-1');
    expect(up.code, up.stderr).toBe(0);
    const uri = up.stdout.trim();
    expect(uri).toBe(`blossom:${sha256Hex(bytes)}?server=${encodeURIComponent(url)}`);

    const out = join(dir, 'fetched.bin');
    const fetched = await proof(
      'fetch',
      uri,
      '--out',
      out,
      '--sha256',
      `sha256:${sha256Hex(bytes)}`,
      '--json',
    );
    expect(fetched.code, fetched.stderr).toBe(0);
    expect(JSON.parse(fetched.stdout)).toMatchObject({
      ok: true,
      size: 300_000,
      sha256: `sha256:${sha256Hex(bytes)}`,
    });
    expect(readFileSync(out).equals(bytes)).toBe(true);

    const pinned = await proof('pin', uri, '--reason', 'dispute:7', '--server', url);
    expect(pinned.code, pinned.stderr).toBe(0);
    const listed = JSON.parse((await proof('list', '--json')).stdout);
    expect(listed).toEqual([
      expect.objectContaining({
        uri,
        pinned: true,
        pinReason: 'dispute:7',
        jobs: [{ jobId: 'job-1', settled: false }],
      }),
    ]);

    // Pinned, then referenced by an open job: gc keeps it both times.
    const keep = await proof('gc', '--retention', '0.000001', '--server', url, '--json');
    expect(JSON.parse(keep.stdout)).toMatchObject({ deleted: [], kept: 1 });
    expect((await proof('unpin', uri)).code).toBe(0);
    expect(
      JSON.parse((await proof('gc', '--retention', '0.000001', '--server', url, '--json')).stdout),
    ).toMatchObject({ deleted: [], kept: 1 });
    expect((await fetch(`${url}/${sha256Hex(bytes)}`, { method: 'HEAD' })).status).toBe(200);
  });

  it('a bad reference or a store that is down: exit 1 with a typed error', async () => {
    const bad = await proof('fetch', 'blossom:1234');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error STORAGE_BAD_REF: /m);
    const down = await proof(
      'fetch',
      `blossom:${'a'.repeat(64)}?server=${encodeURIComponent('http://127.0.0.1:9')}`,
    );
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^error STORAGE_UNAVAILABLE: .*127\.0\.0\.1:9/m);
    const file = join(dir, 'x.bin');
    writeFileSync(file, blob(10));
    const none = await proof('upload', file, '--server', 'http://127.0.0.1:9', '--json');
    expect(none.code).toBe(1);
    expect(JSON.parse(none.stdout)).toMatchObject({
      ok: false,
      error: { code: 'STORAGE_UNAVAILABLE' },
    });
  });

  it('the Blossom server stops cleanly on SIGTERM, reporting what it holds', async () => {
    server.kill('SIGTERM');
    const { code, stdout } = await exited;
    expect(code).toBe(0);
    expect(stdout).toMatch(/"stopped": "SIGTERM"/);
    expect(stdout).toMatch(/"blobs": 1/);
  });
});
