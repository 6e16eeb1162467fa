/**
 * A private, throw-away PostgreSQL cluster for tests and benchmarks: initdb into a temp dir,
 * `postgres` on 127.0.0.1 with a free port and its socket in that dir, trust auth. PostgreSQL
 * refuses to run as root, so as root both run as the `postgres` OS user (runuser) on a dir
 * chowned to it. Never touches a system cluster.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { M2mError } from '../../zkvm/errors.js';

export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
}

export interface PrivatePostgresOptions {
  /** Turn fsync off (tests only: faster, not crash-safe). Default false. */
  unsafeFast?: boolean;
  maxConnections?: number;
  /** More server settings (`name` -> `value`, passed as `-c name=value`). */
  settings?: Record<string, string>;
}

export function findPostgresBinDir(): string | undefined {
  const fromEnv = process.env.PG_BINDIR;
  if (fromEnv !== undefined && existsSync(join(fromEnv, 'initdb'))) return fromEnv;
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0] !== undefined) return join(root, versions[0], 'bin');
  }
  for (const dir of (process.env.PATH ?? '').split(':'))
    if (dir !== '' && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'postgres')))
      return dir;
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function command(bin: string, args: string[]): [string, string[]] {
  return asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
}

export async function startPrivatePostgres(
  options: PrivatePostgresOptions = {},
): Promise<PrivatePostgres> {
  const bindir = findPostgresBinDir();
  if (bindir === undefined)
    throw new M2mError(
      'POSTGRES_NOT_INSTALLED',
      'PostgreSQL server binaries (initdb, postgres) not found: run `npm run setup:postgres` (or set PG_BINDIR)',
    );
  const dir = mkdtempSync(join(tmpdir(), 'm2m-pg-'));
  const data = join(dir, 'data');
  if (asRoot) {
    execFileSync('chown', ['postgres:postgres', dir]);
    chmodSync(dir, 0o700);
  }
  const [initBin, initArgs] = command(join(bindir, 'initdb'), [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
    '--no-sync',
  ]);
  try {
    execFileSync(initBin, initArgs, { stdio: 'pipe' });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new M2mError('POSTGRES_INITDB_FAILED', `initdb failed: ${stderr.trim()}`, {
      cause: error,
    });
  }
  const port = await freePort();
  const settings = [
    '-c',
    `max_connections=${options.maxConnections ?? 100}`,
    ...(options.unsafeFast ? ['-c', 'fsync=off', '-c', 'full_page_writes=off'] : []),
    ...Object.entries(options.settings ?? {}).flatMap(([name, value]) => [
      '-c',
      `${name}=${value}`,
    ]),
  ];
  const [pgBin, pgArgs] = command(join(bindir, 'postgres'), [
    '-D',
    data,
    '-k',
    dir,
    '-p',
    String(port),
    '-h',
    '127.0.0.1',
    ...settings,
  ]);
  const child: ChildProcess = spawn(pgBin, pgArgs, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  });
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      // pg_ctl signals the postmaster itself (a signal to runuser would not reach it).
      const [ctlBin, ctlArgs] = command(join(bindir, 'pg_ctl'), [
        'stop',
        '-D',
        data,
        '-m',
        'fast',
        '-w',
        '-t',
        '20',
      ]);
      try {
        execFileSync(ctlBin, ctlArgs, { stdio: 'pipe' });
      } catch {
        child.kill('SIGKILL');
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new M2mError('POSTGRES_START_FAILED', `postgres exited early: ${log.trim()}`);
    }
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      break;
    } catch {
      await client.end().catch(() => {});
      if (Date.now() > deadline) {
        await stop();
        throw new M2mError('POSTGRES_START_FAILED', `postgres did not accept connections: ${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { url, port, dir, stop };
}

/** Creates a fresh database in the cluster and returns its URL. */
export async function createDatabase(clusterUrl: string, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name))
    throw new M2mError('POSTGRES_BAD_NAME', `bad database name ${name}`);
  const client = new pg.Client({ connectionString: clusterUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return clusterUrl.replace(/\/[^/]*$/, `/${name}`);
}
