import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { finalizeEvent } from 'nostr-tools/pure';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blossomAuthHeader } from '../../node/blossom/auth.js';
import type { BlobDescriptor, BlossomServer } from '../../node/blossom/server.js';
import { sha256Hex } from '../../node/storage/hash.js';
import { blob, startTestBlossom, tempDir, type Uploader, uploader } from '../support/storage.js';

/** The node's Blossom server over HTTP: BUD-01/02/06, and every bad input the issue lists. */
describe('Blossom server (BUD-01, BUD-02, BUD-06) over HTTP', () => {
  const MAX = 1024 * 1024;
  const QUOTA = 3 * 1024 * 1024;
  const dir = tempDir('blossom-protocol');
  let server: BlossomServer;
  let alice: Uploader;
  let bob: Uploader;
  /** A blob Alice stored; every bad-input test checks it is still served intact. */
  const kept = blob(200_000);
  const keptSha = sha256Hex(kept);

  beforeAll(async () => {
    server = await startTestBlossom({ dir, maxBlobBytes: MAX, quotaBytesPerPubkey: QUOTA });
    alice = uploader();
    bob = uploader();
    const put = await upload(kept, alice.auth('upload', keptSha));
    expect(put.status).toBe(201);
  });
  afterAll(async () => {
    await server?.close();
  });

  const upload = (bytes: Uint8Array, auth?: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/upload`, {
      method: 'PUT',
      headers: {
        'Content-Type': 'application/octet-stream',
        ...(auth === undefined ? {} : { Authorization: auth }),
        ...headers,
      },
      body: bytes,
    });

  /** The server still answers, and the kept blob is byte for byte what was uploaded. */
  async function stillServing(): Promise<void> {
    const response = await fetch(`${server.url}/${keptSha}`);
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer()).equals(kept)).toBe(true);
    expect(readdirSync(join(dir, '.tmp'))).toEqual([]);
  }

  it('PUT /upload stores a blob and answers its descriptor; GET and HEAD serve it', async () => {
    const bytes = blob(50_000);
    const sha = sha256Hex(bytes);
    const before = Math.floor(Date.now() / 1000);
    const response = await upload(bytes, alice.auth('upload', sha), {
      'Content-Type': 'application/x-m2m-proof',
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    const descriptor = (await response.json()) as BlobDescriptor;
    expect(descriptor).toEqual({
      url: `${server.url}/${sha}`,
      sha256: sha,
      size: 50_000,
      type: 'application/x-m2m-proof',
      uploaded: expect.any(Number),
    });
    expect(descriptor.uploaded).toBeGreaterThanOrEqual(before);
    const get = await fetch(`${server.url}/${sha}`);
    expect(get.headers.get('content-type')).toBe('application/x-m2m-proof');
    expect(Buffer.from(await get.arrayBuffer()).equals(bytes)).toBe(true);
    const withExt = await fetch(`${server.url}/${sha}.bin`);
    expect(withExt.status).toBe(200);
    await withExt.body?.cancel();
    const head = await fetch(`${server.url}/${sha}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('50000');
    // The file on disk is named by its hash and holds exactly the bytes.
    expect(readFileSync(join(dir, sha)).equals(bytes)).toBe(true);
    // The same blob again: 200, same descriptor, one file.
    const again = await upload(bytes, alice.auth('upload', sha));
    expect(again.status).toBe(200);
    expect(((await again.json()) as BlobDescriptor).sha256).toBe(sha);
  });

  it('GET /list/<pubkey> lists what a pubkey uploaded; OPTIONS answers CORS preflight', async () => {
    const listed = (await (
      await fetch(`${server.url}/list/${alice.pubkey}`)
    ).json()) as BlobDescriptor[];
    expect(listed.map((d: { sha256: string }) => d.sha256)).toContain(keptSha);
    expect(await (await fetch(`${server.url}/list/${bob.pubkey}`)).json()).toEqual([]);
    const future = await (
      await fetch(`${server.url}/list/${alice.pubkey}?since=99999999999`)
    ).json();
    expect(future).toEqual([]);
    const preflight = await fetch(`${server.url}/upload`, { method: 'OPTIONS' });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-methods')).toMatch(/PUT/);
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
  });

  it('BUD-06 HEAD /upload: 200 when it would accept, X-Reason when not', async () => {
    const sha = sha256Hex(blob(10));
    const check = (headers: Record<string, string>) =>
      fetch(`${server.url}/upload`, { method: 'HEAD', headers });
    const ok = await check({
      Authorization: alice.auth('upload', sha),
      'X-SHA-256': sha,
      'X-Content-Length': '10',
      'X-Content-Type': 'application/octet-stream',
    });
    expect(ok.status).toBe(200);
    const big = await check({
      Authorization: alice.auth('upload', sha),
      'X-SHA-256': sha,
      'X-Content-Length': String(MAX + 1),
    });
    expect(big.status).toBe(413);
    expect(big.headers.get('x-reason')).toMatch(/over the limit/);
    const noLength = await check({ Authorization: alice.auth('upload', sha), 'X-SHA-256': sha });
    expect(noLength.status).toBe(411);
    const noAuth = await check({ 'X-SHA-256': sha, 'X-Content-Length': '10' });
    expect(noAuth.status).toBe(401);
    expect(noAuth.headers.get('x-reason')).toMatch(/missing Authorization/);
  });

  describe('bad input: a clear refusal, the server keeps serving, no blob lost', () => {
    it('a body whose hash is not the X-SHA-256 / x tag it was authorized for (409/401)', async () => {
      const bytes = blob(1000);
      const other = sha256Hex(blob(1000));
      const wrongHeader = await upload(bytes, alice.auth('upload', other), { 'X-SHA-256': other });
      expect(wrongHeader.status).toBe(409);
      expect(wrongHeader.headers.get('x-reason')).toMatch(
        /body hashes to [0-9a-f]{64}, not X-SHA-256/,
      );
      const wrongTag = await upload(bytes, alice.auth('upload', other));
      expect(wrongTag.status).toBe(401);
      expect(wrongTag.headers.get('x-reason')).toMatch(/does not name blob/);
      expect((await fetch(`${server.url}/${sha256Hex(bytes)}`)).status).toBe(404);
      await stillServing();
    });

    it('an oversized blob, declared or streamed (413)', async () => {
      const bytes = blob(MAX + 1);
      const sha = sha256Hex(bytes);
      const declared = await upload(bytes, alice.auth('upload', sha));
      expect(declared.status).toBe(413);
      // Chunked, so the server only finds out while reading.
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let at = 0; at < bytes.length; at += 65_536)
            controller.enqueue(bytes.subarray(at, at + 65_536));
          controller.close();
        },
      });
      const streamed = await fetch(`${server.url}/upload`, {
        method: 'PUT',
        headers: { Authorization: alice.auth('upload', sha) },
        body: stream,
        duplex: 'half',
      } as RequestInit);
      expect(streamed.status).toBe(413);
      expect((await fetch(`${server.url}/${sha}`)).status).toBe(404);
      await stillServing();
    });

    it('expired, mis-signed, wrong-kind, wrong-verb or missing authorization (401)', async () => {
      const bytes = blob(500);
      const sha = sha256Hex(bytes);
      const now = Math.floor(Date.now() / 1000);
      const expired = blossomAuthHeader(alice.secretKey, 'upload', {
        sha256: sha,
        createdAt: now - 600,
        expiresInSec: 60,
      });
      const good = JSON.parse(Buffer.from(alice.auth('upload', sha).slice(6), 'base64').toString());
      const misSigned = `Nostr ${Buffer.from(JSON.stringify({ ...good, sig: good.sig.replace(/^./, good.sig[0] === '0' ? '1' : '0') })).toString('base64')}`;
      const retagged = `Nostr ${Buffer.from(JSON.stringify({ ...good, content: 'changed' })).toString('base64')}`;
      const wrongKind = `Nostr ${Buffer.from(
        JSON.stringify(
          finalizeEvent(
            {
              kind: 1,
              created_at: now,
              tags: [
                ['t', 'upload'],
                ['x', sha],
                ['expiration', String(now + 60)],
              ],
              content: '',
            },
            alice.secretKey,
          ),
        ),
      ).toString('base64')}`;
      const cases: [string, string | undefined, RegExp][] = [
        ['expired', expired, /expired/],
        ['mis-signed', misSigned, /invalid id or signature/],
        ['altered after signing', retagged, /invalid id or signature/],
        ['wrong kind', wrongKind, /kind 24242/],
        ['wrong verb', alice.auth('delete', sha), /not for "upload"/],
        ['not Nostr', 'Bearer abc', /Nostr <base64 event>/],
        ['garbage base64', 'Nostr !!!', /Nostr <base64 event>/],
        ['missing', undefined, /missing Authorization/],
      ];
      for (const [what, auth, reason] of cases) {
        const response = await upload(bytes, auth);
        expect(response.status, what).toBe(401);
        expect(response.headers.get('x-reason'), what).toMatch(reason);
      }
      expect((await fetch(`${server.url}/${sha}`)).status).toBe(404);
      await stillServing();
    });

    it("deleting another pubkey's blob (403), or with the wrong verb or blob (401)", async () => {
      const denied = await fetch(`${server.url}/${keptSha}`, {
        method: 'DELETE',
        headers: { Authorization: bob.auth('delete', keptSha) },
      });
      expect(denied.status).toBe(403);
      expect(denied.headers.get('x-reason')).toMatch(/does not own the blob/);
      const wrongVerb = await fetch(`${server.url}/${keptSha}`, {
        method: 'DELETE',
        headers: { Authorization: alice.auth('upload', keptSha) },
      });
      expect(wrongVerb.status).toBe(401);
      const wrongBlob = await fetch(`${server.url}/${keptSha}`, {
        method: 'DELETE',
        headers: { Authorization: alice.auth('delete', sha256Hex(blob(5))) },
      });
      expect(wrongBlob.status).toBe(401);
      await stillServing();
    });

    it('over the per-pubkey quota (413), while another pubkey can still upload', async () => {
      const carol = uploader();
      for (let i = 0; i < 3; i++) {
        const bytes = blob(MAX - 10);
        expect((await upload(bytes, carol.auth('upload', sha256Hex(bytes)))).status).toBe(201);
      }
      const over = blob(100_000);
      const refused = await upload(over, carol.auth('upload', sha256Hex(over)));
      expect(refused.status).toBe(413);
      expect(refused.headers.get('x-reason')).toMatch(/quota exceeded/);
      expect((await upload(over, bob.auth('upload', sha256Hex(over)))).status).toBe(201);
      await stillServing();
    });

    it('unknown paths and methods (404/405), a malformed list bound (400)', async () => {
      expect((await fetch(`${server.url}/nope`)).status).toBe(404);
      expect((await fetch(`${server.url}/upload`)).status).toBe(405);
      expect((await fetch(`${server.url}/${keptSha}`, { method: 'PUT' })).status).toBe(405);
      expect((await fetch(`${server.url}/list/${alice.pubkey}?since=yesterday`)).status).toBe(400);
      await stillServing();
    });
  });

  it('DELETE removes only the caller’s ownership; the file goes with the last owner', async () => {
    const bytes = blob(4096);
    const sha = sha256Hex(bytes);
    expect((await upload(bytes, alice.auth('upload', sha))).status).toBe(201);
    expect((await upload(bytes, bob.auth('upload', sha))).status).toBe(200);
    const del = (who: Uploader) =>
      fetch(`${server.url}/${sha}`, {
        method: 'DELETE',
        headers: { Authorization: who.auth('delete', sha) },
      });
    const first = await del(alice);
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ deleted: sha, fileRemoved: false });
    expect((await fetch(`${server.url}/${sha}`)).status).toBe(200);
    expect((await del(alice)).status).toBe(403);
    expect(await (await del(bob)).json()).toEqual({ deleted: sha, fileRemoved: true });
    expect((await fetch(`${server.url}/${sha}`)).status).toBe(404);
    expect(readdirSync(dir)).not.toContain(sha);
    await stillServing();
  });

  it('restarts on the same directory with every blob and owner intact', async () => {
    await server.close();
    writeFileSync(join(dir, '.tmp', 'partial-upload'), 'cut short by a crash');
    server = await startTestBlossom({ dir, maxBlobBytes: MAX, quotaBytesPerPubkey: QUOTA });
    expect(readdirSync(join(dir, '.tmp'))).toEqual([]);
    await stillServing();
    const listed = (await (
      await fetch(`${server.url}/list/${alice.pubkey}`)
    ).json()) as BlobDescriptor[];
    expect(listed.map((d: { sha256: string }) => d.sha256)).toContain(keptSha);
  });
});
