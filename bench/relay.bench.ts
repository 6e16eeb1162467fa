/**
 * The embedded Nostr relay over loopback, run as users run it (`m2m relay start` in a child
 * process, so client and relay each have a core).
 * Targets (issue 4): accept >= 2,000 events/s; answer a REQ for 1,000 stored events in < 50 ms.
 * Run: npm run bench:relay  -> prints a table and writes bench/results/relay.json
 *
 * Ingest: EVENTS signed events per run, sent over CONNECTIONS websockets with at most WINDOW
 * unanswered per connection; the time runs from the first send to the last OK (each OK true is
 * written to SQLite, WAL with synchronous=FULL, before it is sent). The relay verifies every id
 * and signature. The per-connection rate limit is raised for this run (see the config below).
 * REQ: a fresh relay holding exactly 1,000 events; one REQ {limit: 1000} per run, timed from the
 * send to EOSE, all 1,000 EVENTs received.
 * Bounded: BENCH_RUNS runs (default 5 ingest, 4x that for REQ), and the whole bench is stopped
 * after BENCH_TIMEOUT_S (default 300) seconds.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initNostrWasm } from 'nostr-wasm';
import { WebSocket } from 'ws';
import { saveResults } from './stats.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const REQ_RUNS = RUNS * 4;
const EVENTS = 2000;
const CONNECTIONS = 4;
const WINDOW = 100;
const STORED = 1000;
const TIMEOUT_S = Number(process.env.BENCH_TIMEOUT_S ?? 300);
const targets = { eventsPerSecond: 2000, req1000Ms: 50 };

const CLI = fileURLToPath(new URL('../node/cli/main.js', import.meta.url));
const children: ChildProcess[] = [];
const work = mkdtempSync(join(tmpdir(), 'm2m-relay-bench-'));

const watchdog = setTimeout(() => {
  console.error(`relay bench: stopped after ${TIMEOUT_S} s`);
  for (const child of children) child.kill('SIGKILL');
  process.exit(1);
}, TIMEOUT_S * 1000);
watchdog.unref();

interface Stats {
  runs: number;
  median: number;
  p10: number;
  p90: number;
  min: number;
  max: number;
}

function summarize(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    runs: s.length,
    median: round(at(0.5)),
    p10: round(at(0.1)),
    p90: round(at(0.9)),
    min: round(s[0] as number),
    max: round(s[s.length - 1] as number),
  };
}

/** Starts `m2m relay start` on a free port with a fresh database; resolves with its URL. */
async function startRelay(name: string): Promise<{ url: string; child: ChildProcess }> {
  const config = join(work, `${name}.json`);
  writeFileSync(
    config,
    JSON.stringify({ limits: { eventsPerSecond: 1_000_000, eventBurst: 1_000_000 } }),
  );
  const child = spawn(
    process.execPath,
    [CLI, 'relay', 'start', '--port', '0', '--db', join(work, `${name}.db`), '--config', config],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk) => {
      out += chunk;
      const match = /listening on (ws:\/\/\S+)/.exec(out);
      if (match) resolve(match[1] as string);
    });
    child.once('exit', (code) => reject(new Error(`relay exited with ${code}`)));
  });
  return { url, child };
}

async function stopRelay(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

type Event = {
  id: string;
  pubkey: string;
  created_at: number;
  kind: number;
  tags: string[][];
  content: string;
  sig: string;
};

const nostr = await initNostrWasm();
const secretKey = nostr.generateSecretKey();
let serial = 0;

/** Events shaped like DVM job requests (kind 5900 with a few tags and a short plan reference). */
function signEvents(count: number): string[] {
  const now = Math.floor(Date.now() / 1000);
  return Array.from({ length: count }, () => {
    const n = serial++;
    const event = {
      kind: 5900,
      created_at: now - (n % 600),
      tags: [
        ['verification', 'zk'],
        ['zkvm', 'miden'],
        ['bid', '1000', 'msat'],
        ['i', `sha256:${n.toString(16).padStart(64, '0')}`, 'text'],
      ],
      content: `plan reference ${n}`,
    } as unknown as Event;
    nostr.finalizeEvent(event, secretKey);
    return JSON.stringify(['EVENT', event]);
  });
}

/** Sends `messages` over the sockets, WINDOW in flight each; resolves with [ms, refused]. */
function ingest(sockets: WebSocket[], messages: string[]): Promise<[number, number]> {
  return new Promise((resolve) => {
    let next = 0;
    let answered = 0;
    let refused = 0;
    const started = performance.now();
    const sendOne = (ws: WebSocket) => {
      if (next < messages.length) ws.send(messages[next++] as string);
    };
    for (const ws of sockets) {
      ws.removeAllListeners('message');
      ws.on('message', (data) => {
        const text = data.toString();
        if (!text.startsWith('["OK"')) return;
        if (!text.includes('",true,')) refused++;
        answered++;
        if (answered === messages.length) resolve([performance.now() - started, refused]);
        else sendOne(ws);
      });
      for (let i = 0; i < WINDOW; i++) sendOne(ws);
    }
  });
}

/** One REQ for everything stored; resolves with [ms, events received]. */
function reqAll(ws: WebSocket, id: string): Promise<[number, number]> {
  return new Promise((resolve) => {
    let events = 0;
    ws.removeAllListeners('message');
    ws.on('message', (data) => {
      const text = data.toString();
      if (text.startsWith('["EVENT"')) events++;
      else if (text.startsWith('["EOSE"')) {
        const elapsed = performance.now() - started;
        ws.send(JSON.stringify(['CLOSE', id]));
        resolve([elapsed, events]);
      }
    });
    const started = performance.now();
    ws.send(JSON.stringify(['REQ', id, { limit: STORED }]));
  });
}

try {
  process.stderr.write(`signing ${EVENTS * (RUNS + 1) + STORED} events ...\n`);
  const batches = Array.from({ length: RUNS + 1 }, () => signEvents(EVENTS));
  const storedBatch = signEvents(STORED);

  // Ingest: one warm-up batch, then RUNS timed batches, all into the same database.
  const ingestRelay = await startRelay('ingest');
  const sockets = await Promise.all(
    Array.from({ length: CONNECTIONS }, () => open(ingestRelay.url)),
  );
  const rates: number[] = [];
  const ingestMs: number[] = [];
  for (const [i, batch] of batches.entries()) {
    const [ms, refused] = await ingest(sockets, batch);
    if (refused > 0) throw new Error(`${refused} events were refused in run ${i}`);
    if (i === 0) continue;
    ingestMs.push(ms);
    rates.push(EVENTS / (ms / 1000));
    process.stderr.write(
      `  ingest run ${i}/${RUNS}: ${Math.round(EVENTS / (ms / 1000))} events/s\n`,
    );
  }
  for (const ws of sockets) ws.close();
  await stopRelay(ingestRelay.child);

  // REQ: exactly STORED events in a fresh relay.
  const reqRelay = await startRelay('req');
  const [reader] = await Promise.all([open(reqRelay.url)]);
  const [, refused] = await ingest([reader as WebSocket], storedBatch);
  if (refused > 0) throw new Error(`${refused} of the ${STORED} events were refused`);
  const reqMs: number[] = [];
  for (let i = 0; i < REQ_RUNS + 3; i++) {
    const [ms, received] = await reqAll(reader as WebSocket, `all-${i}`);
    if (received !== STORED) throw new Error(`REQ returned ${received} events, not ${STORED}`);
    if (i >= 3) reqMs.push(ms);
  }
  reader?.close();
  await stopRelay(reqRelay.child);

  const ingestStats = summarize(rates);
  const reqStats = summarize(reqMs);
  const figures = {
    targets,
    eventsPerSecondMedian: Math.round(ingestStats.median),
    req1000MedianMs: reqStats.median,
    ingest: {
      eventsPerRun: EVENTS,
      connections: CONNECTIONS,
      window: WINDOW,
      eventsPerSecond: ingestStats,
      runMs: summarize(ingestMs),
    },
    req1000: { storedEvents: STORED, ms: reqStats },
    loadAverageAtEnd: loadavg().map((x) => Math.round(x * 100) / 100),
  };
  const file = saveResults('relay', figures);
  console.log(
    `relay benchmarks over loopback, medians (${RUNS} ingest runs, ${REQ_RUNS} REQ runs)`,
  );
  console.log(
    `  ingest   ${String(figures.eventsPerSecondMedian).padStart(7)} events/s   (p10 ${Math.round(ingestStats.p10)}, p90 ${Math.round(ingestStats.p90)}; target >= ${targets.eventsPerSecond})`,
  );
  console.log(
    `  REQ 1000 ${reqStats.median.toFixed(1).padStart(7)} ms         (p10 ${reqStats.p10.toFixed(1)}, p90 ${reqStats.p90.toFixed(1)}; target < ${targets.req1000Ms})`,
  );
  console.log(`figures written to ${file}`);
  const missed = [
    ...(figures.eventsPerSecondMedian < targets.eventsPerSecond ? ['ingest'] : []),
    ...(reqStats.median >= targets.req1000Ms ? ['REQ 1000'] : []),
  ];
  if (missed.length > 0) console.log(`target missed by: ${missed.join(', ')}`);
} finally {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}
