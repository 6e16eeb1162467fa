/**
 * Proof storage throughput on loopback for 256 KB proofs (issue 6).
 * Target: at least 50 MB/s for upload and for fetch on the node's Blossom server.
 * Run: npm run bench:storage  -> prints a table and writes bench/results/storage.json
 *
 * Blossom: `m2m blossom start` in a child process (so client and server each have a core), and
 * the node's Blossom client in this process: every upload is signed (kind 24242), streamed,
 * hashed, fsynced and renamed by the server; every fetch is re-hashed by the client. Helia: the
 * embedded node in this process (blockstore on disk). Kubo: a daemon started here, offline and on
 * loopback, when `npm run build:kubo` has installed it (skipped, and said so, otherwise).
 * Each run moves BLOBS blobs with CONCURRENCY requests in flight; MB/s = MB moved / wall time;
 * the table shows the median of BENCH_RUNS runs (default 5). Stopped after BENCH_TIMEOUT_S.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSecretKey } from 'nostr-tools/pure';
import { BlossomClient } from '../node/storage/blossom-client.js';
import { HeliaProofStorage, KuboProofStorage } from '../node/storage/ipfs.js';
import type { ProofRef } from '../node/storage/ref.js';
import type { ProofStorage } from '../node/storage/types.js';
import { saveResults } from './stats.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const BLOBS = Number(process.env.BENCH_BLOBS ?? 64);
const SIZE = 256 * 1024;
const CONCURRENCY = 4;
const TIMEOUT_S = Number(process.env.BENCH_TIMEOUT_S ?? 300);
const TARGET_MBPS = 50;

const CLI = fileURLToPath(new URL('../node/cli/main.js', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'm2m-storage-bench-'));
const children: ChildProcess[] = [];
const watchdog = setTimeout(() => {
  console.error(`storage bench: stopped after ${TIMEOUT_S} s`);
  for (const child of children) child.kill('SIGKILL');
  process.exit(1);
}, TIMEOUT_S * 1000);
watchdog.unref();

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};
const round = (x: number) => Math.round(x * 10) / 10;

/** Runs `work` over `items` with CONCURRENCY in flight; returns MB/s. */
async function throughput<T>(items: T[], task: (item: T) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < items.length) await task(items[next++] as T);
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return (items.length * SIZE) / 1e6 / seconds;
}

interface Figures {
  uploadMBps: number;
  fetchMBps: number;
  uploadRuns: number[];
  fetchRuns: number[];
}

async function measure(store: ProofStorage, name: string): Promise<Figures> {
  const uploadRuns: number[] = [];
  const fetchRuns: number[] = [];
  // One warm-up run, not counted.
  for (let run = -1; run < RUNS; run++) {
    const blobs = Array.from({ length: BLOBS }, () => randomBytes(SIZE));
    const refs: ProofRef[] = [];
    const up = await throughput(blobs, async (bytes) => refs.push((await store.upload(bytes)).ref));
    const down = await throughput(refs, (ref) => store.fetch(ref));
    if (run >= 0) {
      uploadRuns.push(round(up));
      fetchRuns.push(round(down));
    }
    process.stderr.write(
      `${name} run ${run + 1}: upload ${round(up)} MB/s, fetch ${round(down)} MB/s\n`,
    );
  }
  return { uploadMBps: median(uploadRuns), fetchMBps: median(fetchRuns), uploadRuns, fetchRuns };
}

function startBlossomChild(): Promise<string> {
  const child = spawn(
    process.execPath,
    [
      CLI,
      'blossom',
      'start',
      '--port',
      '0',
      '--dir',
      join(work, 'blossom'),
      '--quota-mb',
      '100000',
      '--json',
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk) => {
      out += chunk;
      const match = /"url": "([^"]+)"/.exec(out);
      if (match !== null) resolve(match[1] as string);
    });
    child.once('exit', (code) => reject(new Error(`m2m blossom start exited ${code}`)));
  });
}

async function startKubo(): Promise<{ api: string; child: ChildProcess } | undefined> {
  const bin = process.env.M2M_KUBO_BIN ?? join(homedir(), '.cache', 'm2m', 'kubo', 'bin', 'ipfs');
  if (!existsSync(bin)) return undefined;
  const env = { ...process.env, IPFS_PATH: join(work, 'kubo') };
  execFileSync(bin, ['init', '--profile', 'test', '--empty-repo'], { env, stdio: 'pipe' });
  const child = spawn(bin, ['daemon', '--offline'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (chunk: Buffer) => {
      out += chunk;
      const api = /RPC API server listening on \/ip4\/127\.0\.0\.1\/tcp\/(\d+)/.exec(out);
      if (api !== null && out.includes('Daemon is ready'))
        resolve({ api: `http://127.0.0.1:${api[1]}`, child });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`ipfs daemon exited ${code}: ${out}`)));
  });
}

const results: Record<string, Figures | string> = {};
try {
  const url = await startBlossomChild();
  results.blossom = await measure(
    new BlossomClient({ servers: [url], secretKey: generateSecretKey() }),
    'blossom',
  );
  const helia = await HeliaProofStorage.open(join(work, 'helia'));
  try {
    results.helia = await measure(helia, 'helia');
  } finally {
    await helia.close();
  }
  const kubo = await startKubo();
  results.kubo =
    kubo === undefined
      ? 'skipped: Kubo not installed (npm run build:kubo)'
      : await measure(new KuboProofStorage(kubo.api), 'kubo');
} finally {
  for (const child of children) child.kill('SIGTERM');
}

const row = (name: string, f: Figures | string | undefined, target?: number) => {
  if (f === undefined || typeof f === 'string') return `${name.padEnd(22)} ${f ?? 'not run'}`;
  const mark = (v: number) => (target === undefined ? '' : v >= target ? ' ok' : ' BELOW TARGET');
  return `${name.padEnd(22)} upload ${String(f.uploadMBps).padStart(7)} MB/s${mark(f.uploadMBps)}   fetch ${String(f.fetchMBps).padStart(7)} MB/s${mark(f.fetchMBps)}`;
};
console.log(
  `proof storage, ${BLOBS} x 256 KB per run, ${CONCURRENCY} in flight, median of ${RUNS} runs (load ${loadavg()[0]?.toFixed(2)})`,
);
console.log(
  row('blossom (loopback)', results.blossom, TARGET_MBPS),
  `  target >= ${TARGET_MBPS} MB/s`,
);
console.log(row('helia (in process)', results.helia));
console.log(row('kubo (RPC, loopback)', results.kubo));
const file = saveResults('storage', {
  blobBytes: SIZE,
  blobsPerRun: BLOBS,
  concurrency: CONCURRENCY,
  runs: RUNS,
  targets: { blossomMBps: TARGET_MBPS },
  loadAverage: loadavg()[0],
  ...results,
});
console.log(`written to ${file}`);
rmSync(work, { recursive: true, force: true });
clearTimeout(watchdog);
