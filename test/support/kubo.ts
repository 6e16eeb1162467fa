/**
 * A real Kubo daemon for the storage tests: its own repository in a temp dir (`ipfs init
 * --profile test`: API, gateway and swarm on 127.0.0.1 random ports, no bootstrap, no mDNS),
 * started with `ipfs daemon --offline`, so it never dials out. Test-only.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

export interface KuboDaemon {
  /** RPC API base URL, e.g. http://127.0.0.1:45123 */
  api: string;
  /** HTTP gateway base URL (serves /ipfs/<cid>). */
  gateway: string;
  repo: string;
  stop(): Promise<void>;
}

/** The Kubo binary `npm run build:kubo` installs (or M2M_KUBO_BIN). */
export function kuboBinary(): string {
  const bin = process.env.M2M_KUBO_BIN ?? join(homedir(), '.cache', 'm2m', 'kubo', 'bin', 'ipfs');
  if (!existsSync(bin))
    throw new Error(
      `Kubo is not installed at ${bin}: run npm run build:kubo (scripts/kubo.sh builds it with Go)`,
    );
  return bin;
}

export async function startKubo(timeoutMs = 60_000): Promise<KuboDaemon> {
  const bin = kuboBinary();
  const repo = mkdtempSync(join(tmpdir(), 'm2m-kubo-'));
  const env = { ...process.env, IPFS_PATH: repo, IPFS_TELEMETRY: 'off' };
  execFileSync(bin, ['init', '--profile', 'test', '--empty-repo'], { env, stdio: 'pipe' });
  // Belt and braces over the test profile: loopback only, nothing to bootstrap from.
  const set = (key: string, value: string) =>
    execFileSync(bin, ['config', '--json', key, value], { env, stdio: 'pipe' });
  set('Addresses.API', '"/ip4/127.0.0.1/tcp/0"');
  set('Addresses.Gateway', '"/ip4/127.0.0.1/tcp/0"');
  set('Addresses.Swarm', '["/ip4/127.0.0.1/tcp/0"]');
  set('Bootstrap', '[]');
  const child: ChildProcess = spawn(bin, ['daemon', '--offline'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const ready = new Promise<{ api: string; gateway: string }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`Kubo did not start within ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const api = /RPC API server listening on \/ip4\/127\.0\.0\.1\/tcp\/(\d+)/.exec(output);
      const gateway = /Gateway server listening on \/ip4\/127\.0\.0\.1\/tcp\/(\d+)/.exec(output);
      if (api !== null && gateway !== null && output.includes('Daemon is ready')) {
        clearTimeout(timer);
        resolve({ api: `http://127.0.0.1:${api[1]}`, gateway: `http://127.0.0.1:${gateway[1]}` });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Kubo exited with ${code} before it was ready:\n${output}`));
    });
  });
  const { api, gateway } = await ready;
  // The API answers once the daemon is ready; check once so a failure names the daemon.
  const id = await fetch(`${api}/api/v0/id`, { method: 'POST' });
  if (!id.ok) throw new Error(`Kubo API ${api} answered ${id.status} to /api/v0/id`);
  await id.body?.cancel();
  return {
    api,
    gateway,
    repo,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(repo, { recursive: true, force: true });
    },
  };
}
