/**
 * Sequencer ingest benchmark: `m2m sequencer start` in a child process against a private
 * PostgreSQL cluster started here (and SQLite for comparison), pre-signed VES events in batches
 * of 100. Two measures, each a median of bounded rounds: the ceiling (CLIENTS concurrent
 * keep-alive clients back to back: events/s, and batch latency p50/p99/max at saturation) and the
 * latency at the target rate (open loop, one batch every 20 ms = 5,000 events/s: p50/p99/max per
 * batch request). Targets beside. Run: npm run bench:sequencer
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ed25519 } from '@noble/curves/ed25519.js';
import pg from 'pg';
import { ed25519NativeSigner } from '../node/sequencer/ed25519-native.js';
import { startPrivatePostgres } from '../node/sequencer/pg-cluster.js';
import { eventSigningHash, hex0x, payloadPlainHash, ZERO_HASH } from '../node/ves/hash.js';
import { signKeyRegistration } from '../node/ves/sign.js';
import type { VesEventEnvelope } from '../node/ves/types.js';
import { saveResults } from './stats.js';

const CLI = fileURLToPath(new URL('../node/cli/main.js', import.meta.url));
const BATCH = 100;
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 4);
const EVENTS_PER_ROUND = 10_000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Enough for the JIT and for every pooled PostgreSQL connection to prepare its statements. */
const WARMUP_BATCHES = 50;
const TARGET_EVENTS_PER_S = 5000;
const TARGET_P99_MS = 100;
const API_KEY = 'bench-key';
/** Extra node flags for the sequencer process, e.g. BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof". */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');

interface Agentish {
  tenantId: string;
  storeId: string;
  agentId: string;
  secretKey: Uint8Array;
}

/** Pre-signed request bodies: batches of BATCH events, serialized once. */
function presign(agent: Agentish, batches: number): string[] {
  const sign = ed25519NativeSigner(agent.secretKey);
  const bodies: string[] = [];
  for (let b = 0; b < batches; b++) {
    const events: VesEventEnvelope[] = [];
    for (let i = 0; i < BATCH; i++) {
      const payload = { job: `job-${b}-${i}`, amount: String(1000 + i), unit: 'msat' };
      const unsigned = {
        ves_version: 1 as const,
        event_id: randomUUID(),
        tenant_id: agent.tenantId,
        store_id: agent.storeId,
        source_agent_id: agent.agentId,
        agent_key_id: 1,
        entity_type: 'Job',
        entity_id: `job-${b}-${i % 10}`,
        event_type: 'JobSettled',
        created_at: new Date().toISOString(),
        payload_kind: 0 as const,
        payload,
        payload_plain_hash: hex0x(payloadPlainHash(payload)),
        payload_cipher_hash: hex0x(ZERO_HASH),
      };
      const signature = sign(eventSigningHash({ ...unsigned, agent_signature: '' }));
      events.push({ ...unsigned, agent_signature: hex0x(signature) });
    }
    bodies.push(JSON.stringify({ agentId: agent.agentId, events }));
  }
  return bodies;
}

function post(
  base: URL,
  path: string,
  body: string,
  agent: Agent,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: base.hostname,
        port: base.port,
        path: `${base.pathname}${path}`,
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'x-api-key': API_KEY,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function startCli(
  args: string[],
  seed: Uint8Array,
): Promise<{ url: URL; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    [...NODE_ARGS, CLI, 'sequencer', 'start', '--port', '0', '--api-key', API_KEY, ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, VES_SEQUENCER_SIGNING_KEY: Buffer.from(seed).toString('hex') },
    },
  );
  let err = '';
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const url = await new Promise<URL>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m?.[1] !== undefined) resolve(new URL(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`sequencer exited ${code}: ${err}`)));
  });
  return { url, child };
}

async function stopCli(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

/** CPU seconds (user + system) of the processes `match` selects, by pid, cmdline, parent pid (Linux /proc). */
function cpuSeconds(match: (pid: string, cmdline: string, ppid: string) => boolean): number {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (!match(pid, cmdline, fields[1] ?? '')) continue;
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {}
  }
  return ticks / 100;
}

/** Our cluster only: its postmaster (started with `-D <dbDir>/data`) and that postmaster's children. */
function clusterCpuSeconds(dbDir: string): number {
  const postmasters = new Set<string>();
  cpuSeconds((pid, cmd) => {
    if (cmd.includes(dbDir)) postmasters.add(pid);
    return false;
  });
  return cpuSeconds((pid, _cmd, ppid) => postmasters.has(pid) || postmasters.has(ppid));
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
const median = (xs: number[]) =>
  quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );
const round1 = (x: number) => Math.round(x * 10) / 10;

interface StoreFigures {
  /** CPU milliseconds per 1,000 events: sequencer process, database processes, this client. */
  cpuMsPer1000Events: { sequencer: number; database: number; client: number };
  eventsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** The slowest batch of each round (median over rounds), beside the p99. */
  maxMs: number;
  rounds: { eventsPerSecond: number; p50Ms: number; p99Ms: number; maxMs: number }[];
  /**
   * Open loop at the target rate: a batch every BATCH / TARGET_EVENTS_PER_S seconds whatever is
   * still in flight, latency counted from the scheduled send (no coordinated omission). This is
   * what "5,000 events/s with p99 < 100 ms" asks; the closed loop above measures the ceiling,
   * where latency is queueing by construction (Little: CLIENTS x BATCH / throughput).
   */
  atTargetRate: {
    offeredEventsPerSecond: number;
    achievedEventsPerSecond: number;
    p50Ms: number;
    p99Ms: number;
    maxMs: number;
    rounds: { achievedEventsPerSecond: number; p50Ms: number; p99Ms: number; maxMs: number }[];
  };
  errors: number;
}

async function runAgainst(storeArgs: string[], dbDir?: string): Promise<StoreFigures> {
  const seed = ed25519.utils.randomSecretKey();
  const { url, child } = await startCli(storeArgs, seed);
  const httpAgent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  try {
    const agent: Agentish = {
      tenantId: randomUUID(),
      storeId: randomUUID(),
      agentId: randomUUID(),
      secretKey: ed25519.utils.randomSecretKey(),
    };
    const reg = signKeyRegistration(
      { tenantId: agent.tenantId, agentId: agent.agentId, keyId: 1 },
      agent.secretKey,
    );
    const r = await post(url, '/v1/agents/keys', JSON.stringify(reg), httpAgent);
    if (r.status !== 201) throw new Error(`key registration failed: ${r.status} ${r.text}`);
    const perRound = EVENTS_PER_ROUND / BATCH;
    const bodies = presign(agent, WARMUP_BATCHES + perRound * ROUNDS * 2);
    let errors = 0;
    let next = 0;
    const push = async (count: number, latencies: number[]) => {
      const end = next + count;
      await Promise.all(
        Array.from({ length: CLIENTS }, async () => {
          while (next < end) {
            const body = bodies[next++] as string;
            const started = process.hrtime.bigint();
            const reply = await post(url, '/v1/ves/events/ingest', body, httpAgent);
            latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
            if (reply.status !== 200) {
              errors += 1;
              if (errors < 3)
                process.stderr.write(`ingest ${reply.status}: ${reply.text.slice(0, 300)}\n`);
            }
          }
        }),
      );
    };
    await push(WARMUP_BATCHES, []);
    const serverPid = String(child.pid);
    const cpu = () => ({
      sequencer: cpuSeconds((pid) => pid === serverPid),
      database: dbDir === undefined ? 0 : clusterCpuSeconds(dbDir),
      client: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
    });
    const cpuBefore = cpu();
    const rounds: StoreFigures['rounds'] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const latencies: number[] = [];
      const started = process.hrtime.bigint();
      await push(perRound, latencies);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      latencies.sort((a, b) => a - b);
      rounds.push({
        eventsPerSecond: Math.round(EVENTS_PER_ROUND / seconds),
        p50Ms: round1(quantile(latencies, 0.5)),
        p99Ms: round1(quantile(latencies, 0.99)),
        maxMs: round1(latencies[latencies.length - 1] as number),
      });
    }
    const cpuAfter = cpu();
    const per1000 = (k: 'sequencer' | 'database' | 'client') =>
      Math.round(((cpuAfter[k] - cpuBefore[k]) * 1e6) / (EVENTS_PER_ROUND * ROUNDS));

    const openAgent = new Agent({ keepAlive: true, maxSockets: 64 });
    const intervalMs = (1000 * BATCH) / TARGET_EVENTS_PER_S;
    const paced: StoreFigures['atTargetRate']['rounds'] = [];
    try {
      for (let i = 0; i < ROUNDS; i++) {
        const latencies: number[] = [];
        const inFlight: Promise<void>[] = [];
        const t0 = performance.now();
        for (let b = 0; b < perRound; b++) {
          const scheduled = t0 + b * intervalMs;
          const wait = scheduled - performance.now();
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
          const body = bodies[next++] as string;
          inFlight.push(
            post(url, '/v1/ves/events/ingest', body, openAgent).then((reply) => {
              latencies.push(performance.now() - scheduled);
              if (reply.status !== 200) errors += 1;
            }),
          );
        }
        await Promise.all(inFlight);
        const seconds = (performance.now() - t0) / 1000;
        latencies.sort((a, b) => a - b);
        paced.push({
          achievedEventsPerSecond: Math.round(EVENTS_PER_ROUND / seconds),
          p50Ms: round1(quantile(latencies, 0.5)),
          p99Ms: round1(quantile(latencies, 0.99)),
          maxMs: round1(latencies[latencies.length - 1] as number),
        });
      }
    } finally {
      openAgent.destroy();
    }
    return {
      cpuMsPer1000Events: {
        sequencer: per1000('sequencer'),
        database: per1000('database'),
        client: per1000('client'),
      },
      eventsPerSecond: median(rounds.map((x) => x.eventsPerSecond)),
      p50Ms: median(rounds.map((x) => x.p50Ms)),
      p99Ms: median(rounds.map((x) => x.p99Ms)),
      maxMs: median(rounds.map((x) => x.maxMs)),
      rounds,
      atTargetRate: {
        offeredEventsPerSecond: TARGET_EVENTS_PER_S,
        achievedEventsPerSecond: median(paced.map((x) => x.achievedEventsPerSecond)),
        p50Ms: median(paced.map((x) => x.p50Ms)),
        p99Ms: median(paced.map((x) => x.p99Ms)),
        maxMs: median(paced.map((x) => x.maxMs)),
        rounds: paced,
      },
      errors,
    };
  } finally {
    httpAgent.destroy();
    await stopCli(child);
  }
}

/** 30 WAL segments written (WAL-only messages, no table data) and recycled by a checkpoint. */
async function warmWal(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (let i = 0; i < 30; i++)
      await client.query(
        "SELECT pg_logical_emit_message(false, 'bench-warm-up', repeat('x', $1))",
        [16 * 1024 * 1024],
      );
    await client.query('CHECKPOINT');
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  // BENCH_PG_UNSAFE=1 turns fsync off: a diagnostic to separate commit latency from CPU.
  // A production cluster runs warm: its WAL segments are recycled at checkpoints (min_wal_size
  // keeps 1 GB of them). A fresh cluster instead creates and zero-fills a new 16 MB segment under
  // the WAL write lock every ~6,000 events, a 50 ms to 1 s commit stall that no steady-state
  // server sees. So: the same durable settings (fsync, synchronous_commit on), plus ~480 MB of WAL
  // written and checkpointed before measuring. BENCH_PG_COLD=1 skips the warm-up.
  const cluster = await startPrivatePostgres({
    unsafeFast: process.env.BENCH_PG_UNSAFE === '1',
    settings: { min_wal_size: '1GB', max_wal_size: '2GB' },
  });
  if (process.env.BENCH_PG_COLD !== '1') await warmWal(cluster.url);
  const dir = mkdtempSync(join(tmpdir(), 'm2m-seq-bench-'));
  let postgres: StoreFigures;
  let sqlite: StoreFigures;
  try {
    postgres = await runAgainst(['--postgres', cluster.url], cluster.dir);
    sqlite = await runAgainst(['--db', join(dir, 'bench.db')]);
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const ok = (v: boolean) => (v ? 'ok' : 'MISSED');
  const rows = [
    [
      'store',
      'events/s (median)',
      `target >= ${TARGET_EVENTS_PER_S}`,
      `p50/p99/max ms, ${CLIENTS} clients`,
      `p50/p99/max ms at ${TARGET_EVENTS_PER_S} events/s`,
      `target p99 < ${TARGET_P99_MS}`,
      'errors',
    ],
    ...(
      [
        ['PostgreSQL', postgres],
        ['SQLite', sqlite],
      ] as const
    ).map(([name, f]) => [
      name,
      String(f.eventsPerSecond),
      name === 'SQLite' ? '(comparison)' : ok(f.eventsPerSecond >= TARGET_EVENTS_PER_S),
      `${f.p50Ms} / ${f.p99Ms} / ${f.maxMs}`,
      `${f.atTargetRate.p50Ms} / ${f.atTargetRate.p99Ms} / ${f.atTargetRate.maxMs}`,
      name === 'SQLite' ? '' : ok(f.atTargetRate.p99Ms < TARGET_P99_MS),
      String(f.errors),
    ]),
  ];
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  '));
  // What the measured CPU cost would allow if every core of this machine were ours: an estimate
  // that separates the implementation's cost from other load on a shared box.
  const ceiling = (f: StoreFigures) => {
    const c = f.cpuMsPer1000Events;
    return Math.round((availableParallelism() * 1e6) / (c.sequencer + c.database + c.client));
  };
  for (const [name, f] of [
    ['PostgreSQL', postgres],
    ['SQLite', sqlite],
  ] as const)
    console.log(
      `${name}: CPU ms per 1,000 events: sequencer ${f.cpuMsPer1000Events.sequencer}, database ${f.cpuMsPer1000Events.database}, bench client ${f.cpuMsPer1000Events.client}; CPU-bound ceiling on ${availableParallelism()} idle cores ~${ceiling(f)} events/s`,
    );
  console.log(
    `\n${ROUNDS} rounds x ${EVENTS_PER_ROUND} signed events, batches of ${BATCH}, ${CLIENTS} concurrent clients, load average ${loadavg()[0]?.toFixed(2)}`,
  );
  const file = saveResults('sequencer', {
    setup: { batch: BATCH, clients: CLIENTS, eventsPerRound: EVENTS_PER_ROUND, rounds: ROUNDS },
    targets: { eventsPerSecond: TARGET_EVENTS_PER_S, p99Ms: TARGET_P99_MS },
    postgres: { ...postgres, cpuBoundCeilingEventsPerSecond: ceiling(postgres) },
    sqlite: { ...sqlite, cpuBoundCeilingEventsPerSecond: ceiling(sqlite) },
    postgresCluster: {
      settings: 'defaults + min_wal_size=1GB, max_wal_size=2GB (fsync and synchronous_commit on)',
      warmWal: process.env.BENCH_PG_COLD !== '1',
    },
    loadAverage1m: loadavg()[0],
    met: {
      eventsPerSecond: postgres.eventsPerSecond >= TARGET_EVENTS_PER_S,
      p99AtTargetRate: postgres.atTargetRate.p99Ms < TARGET_P99_MS,
    },
  });
  console.log(`results: ${file}`);
  if (postgres.errors + sqlite.errors > 0) process.exitCode = 1;
}

await main();
