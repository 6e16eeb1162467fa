import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSequencer, startSequencer } from '../../node/sequencer/server.js';
import { SequencerClient } from '../../node/sync/client.js';
import { requireBuiltCli, runCli, STORE, TENANT, tempDir } from '../support/ves.js';

/** The `m2m sync` verbs end to end through the built CLI against the embedded sequencer. */

const API_KEY = 'cli-test-key';
let seq: RunningSequencer;
let work: { dir: string; cleanup: () => void };

beforeAll(async () => {
  requireBuiltCli();
  work = tempDir('sync-cli');
  seq = await startSequencer({
    host: '127.0.0.1',
    port: 0,
    store: { kind: 'sqlite', path: join(work.dir, 'sequencer.db') },
    apiKeys: [API_KEY],
  });
});

afterAll(async () => {
  await seq?.close();
  work?.cleanup();
});

const json = <T>(text: string): T => JSON.parse(text) as T;

describe('m2m sync', () => {
  it('init, keys generate, keys register, append, push, pull, status', async () => {
    const home = join(work.dir, 'home');
    const env = { M2M_HOME: home, M2M_SYNC_API_KEY: '' };
    const sync = (...args: string[]) => runCli(['sync', ...args], env);

    // Before init: a typed error that says what to do.
    const early = await sync('status', '--json');
    expect(early.code).toBe(1);
    expect(json<{ error: { code: string } }>(early.stdout).error.code).toBe('SYNC_NOT_INITIALIZED');

    const init = await sync(
      'init',
      '--url',
      seq.url,
      '--api-key',
      API_KEY,
      '--tenant-id',
      TENANT,
      '--store-id',
      STORE,
      '--json',
    );
    expect(init.code, init.stderr).toBe(0);
    const cfg = json<{ config: string; agentId: string; keyId: number }>(init.stdout);
    expect(cfg.config).toBe(join(home, 'sync', 'sync.json'));
    expect(statSync(cfg.config).mode & 0o777).toBe(0o600);
    const again = await sync('init', '--url', seq.url, '--tenant-id', TENANT, '--store-id', STORE);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/SYNC_ALREADY_INITIALIZED/);
    const badUuid = await sync(
      'init',
      '--url',
      seq.url,
      '--tenant-id',
      'x',
      '--store-id',
      STORE,
      '--force',
    );
    expect(badUuid.code).toBe(2);

    const gen = await sync('keys', 'generate', '--json');
    expect(gen.code, gen.stderr).toBe(0);
    const key = json<{ keyFile: string; publicKey: string }>(gen.stdout);
    expect(key.publicKey).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(key.keyFile).mode & 0o777).toBe(0o600);
    expect((await sync('keys', 'generate')).stderr).toMatch(/SYNC_AGENT_KEY_EXISTS/);

    // Pushing before the key is registered: the events are rejected and parked.
    expect(
      (
        await sync(
          'append',
          '--entity-type',
          'job',
          '--entity-id',
          'j0',
          '--event-type',
          'job.requested',
          '--payload',
          '{"n":0}',
        )
      ).code,
    ).toBe(0);
    const refused = await sync('push', '--json');
    expect(refused.code).toBe(1);
    expect(json<{ rejected: { reason: string }[] }>(refused.stdout).rejected[0]?.reason).toMatch(
      /Key/i,
    );

    const reg = await sync('keys', 'register', '--json');
    expect(reg.code, reg.stderr).toBe(0);
    expect(
      json<{ request: { proofOfPossession: string } }>(reg.stdout).request.proofOfPossession,
    ).toMatch(/^[0-9a-f]{128}$/);

    for (let i = 1; i <= 2; i++) {
      const r = await sync(
        'append',
        '--entity-type',
        'job',
        '--entity-id',
        `j${i}`,
        '--event-type',
        'job.requested',
        '--payload',
        JSON.stringify({ n: i, bid: '1000' }),
      );
      expect(r.code, r.stderr).toBe(0);
    }

    const push = await sync('push', '--retry-rejected', '--batch-size', '2');
    expect(push.code, push.stderr).toBe(0);
    expect(push.stdout).toMatch(/pushed: 3 sequenced/);
    expect(push.stderr).toMatch(/batch 2: 3\/3 sequenced/);

    const pull = await sync('pull', '--json');
    expect(pull.code, pull.stderr).toBe(0);
    expect(json<{ pulled: number; lastPulledSeq: number }>(pull.stdout)).toMatchObject({
      pulled: 3,
      lastPulledSeq: 3,
    });

    const status = await sync('status', '--json');
    expect(status.code, status.stderr).toBe(0);
    expect(json<Record<string, unknown>>(status.stdout)).toMatchObject({
      pending: 0,
      pushed: 3,
      rejected: 0,
      pulled: 3,
      lastPushedSeq: 3,
      lastPulledSeq: 3,
      remote: { head: 3 },
      publicKey: key.publicKey,
      agentId: cfg.agentId,
    });

    // The sequencer agrees, and a wrong API key at run time is a typed, actionable error.
    const client = new SequencerClient({ baseUrl: seq.url, apiKey: API_KEY });
    expect(await client.head({ tenantId: TENANT, storeId: STORE })).toBe(3);
    const denied = await runCli(['sync', 'pull'], { M2M_HOME: home, M2M_SYNC_API_KEY: 'wrong' });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/SYNC_UNAUTHORIZED.*api-key/);
  });
});
