import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../node/net.js';
import { REPO_ROOT } from './arbitraries.js';

/**
 * A real nostr-rs-relay for the suites that run against it (scripts/nostr-rs-relay.sh builds it,
 * relay-config/nostr-rs-relay.toml configures it). Without the binary those suites fail: `npm test`
 * builds it first (npm run build:relay).
 */
export const NOSTR_RS_RELAY_BIN =
  process.env.NOSTR_RS_RELAY_BIN ?? join(homedir(), '.cache/m2m/nostr-rs-relay/bin/nostr-rs-relay');
export const NOSTR_RS_RELAY_PRESENT = existsSync(NOSTR_RS_RELAY_BIN);

/** Starts nostr-rs-relay with the project's config on a free port; resolves once it serves. */
export async function startNostrRsRelay(): Promise<{
  url: string;
  child: ChildProcess;
  log: () => string;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'm2m-nostr-rs-relay-'));
  const port = await freePort();
  const config = readFileSync(join(REPO_ROOT, 'relay-config/nostr-rs-relay.toml'), 'utf8')
    .replace(/^port = \d+$/m, `port = ${port}`)
    .replace(/^relay_url = .*$/m, `relay_url = "ws://127.0.0.1:${port}/"`);
  writeFileSync(join(dir, 'config.toml'), config);
  const child = spawn(NOSTR_RS_RELAY_BIN, ['--config', join(dir, 'config.toml'), '--db', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: 'warn' },
  });
  let log = '';
  child.stdout?.on('data', (chunk) => {
    log += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    log += chunk;
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nostr-rs-relay exited ${child.exitCode}: ${log}`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/`, {
        headers: { Accept: 'application/nostr+json' },
      });
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`nostr-rs-relay did not start: ${log}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { url: `ws://127.0.0.1:${port}`, child, log: () => log };
}
