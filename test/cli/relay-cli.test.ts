import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectClient, query, signer } from '../support/relay.js';

/** `m2m relay start` as users run it: the built bin, a real relay, real signals. */
const BIN = new URL('../../dist/node/cli/main.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'm2m-relay-cli-'));

interface Running {
  child: ChildProcess;
  firstLine: string;
  exit: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Starts the relay and waits until its stdout matches `ready` (by default, a first line). */
function start(args: string[], ready = /\n/): Promise<Running> {
  const child = spawn(process.execPath, [BIN, 'relay', 'start', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (chunk) => {
      stdout += chunk;
      const match = ready.exec(stdout);
      if (match !== null) resolve({ child, firstLine: stdout.slice(0, match.index), exit });
    });
    void exit.then((r) =>
      reject(new Error(`relay exited ${r.code} before listening: ${r.stderr}`)),
    );
  });
}

describe('m2m relay start (CLI)', () => {
  it('--port 0 prints its URL, serves events, and stops cleanly on SIGTERM', async () => {
    const db = join(dir, 'cli.db');
    const relay = await start(['--port', '0', '--db', db]);
    const url = /^relay listening on (ws:\/\/127\.0\.0\.1:\d+) \(db /.exec(relay.firstLine)?.[1];
    expect(url, relay.firstLine).toBeDefined();
    const client = await connectClient(url as string);
    const event = signer().sign({ kind: 5900, content: 'over the CLI relay' });
    await expect(client.publish(event)).resolves.toBe('');
    expect((await query(client, [{ ids: [event.id] }])).map((e) => e.id)).toEqual([event.id]);
    relay.child.kill('SIGTERM');
    const { code, stdout, stderr } = await relay.exit;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/relay stopped on SIGTERM; 1 events stored\n$/);
    client.close();
  });

  it('--config sets limits and info; command-line options win over the file', async () => {
    const config = join(dir, 'relay.json');
    writeFileSync(
      config,
      JSON.stringify({
        port: 1,
        db: join(dir, 'ignored.db'),
        info: { name: 'from config' },
        limits: { maxSubscriptions: 7 },
      }),
    );
    // --json prints indented objects: wait for the end of the first one.
    const relay = await start(
      ['--config', config, '--port', '0', '--db', ':memory:', '--json'],
      /\n\}\n/,
    );
    const listening = JSON.parse(`${relay.firstLine}\n}`) as { url: string; db: string };
    expect(listening.db).toBe(':memory:');
    const info = await fetch(listening.url.replace('ws:', 'http:'), {
      headers: { Accept: 'application/nostr+json' },
    }).then((r) => r.json());
    expect(info).toMatchObject({ name: 'from config', limitation: { max_subscriptions: 7 } });
    relay.child.kill('SIGINT');
    const { code, stdout } = await relay.exit;
    expect(code).toBe(0);
    const stopped = JSON.parse(stdout.slice(stdout.indexOf('\n}\n') + 3));
    expect(stopped).toEqual({ stopped: 'SIGINT', storedEvents: 0 });
  });

  it('a bad config exits 1 with RELAY_CONFIG_INVALID; a port in use with RELAY_LISTEN_FAILED', async () => {
    const config = join(dir, 'bad.json');
    writeFileSync(config, JSON.stringify({ limits: { maxSubscriptions: 0 } }));
    const bad = spawnSync(process.execPath, [BIN, 'relay', 'start', '--config', config], {
      encoding: 'utf8',
    });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^error RELAY_CONFIG_INVALID: .*limits\.maxSubscriptions/);

    const first = await start(['--port', '0', '--db', ':memory:']);
    const port = /:(\d+) /.exec(first.firstLine)?.[1] as string;
    const busy = spawnSync(
      process.execPath,
      [BIN, 'relay', 'start', '--port', port, '--db', ':memory:'],
      { encoding: 'utf8' },
    );
    expect(busy.status).toBe(1);
    expect(busy.stderr).toMatch(
      /^error RELAY_LISTEN_FAILED: cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/,
    );
    first.child.kill('SIGTERM');
    expect((await first.exit).code).toBe(0);
  });
});
