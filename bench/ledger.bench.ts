/**
 * Settlement throughput. Targets (issue 5): the embedded SQLite ledger creates >= 20,000
 * transfers/s in batches of 1,000, and ILP-over-HTTP carries >= 1,000 PREPARE/FULFILL round
 * trips/s on loopback (medians).
 * Run: npm run bench:ledger  -> prints a table and writes bench/results/ledger.json
 *
 * Ledger: a fresh SQLite file (WAL) with 100 funded accounts (debits_must_not_exceed_credits);
 * each run creates BATCHES batches of 1,000 single-phase transfers between random accounts, each
 * batch one createTransfers call (one SQLite transaction), every result checked `created`. A
 * second series does two-phase payments: 1,000 pending transfers, then a batch posting them.
 * ILP: the receiver runs in a worker thread (its own core) behind the real ILP-over-HTTP endpoint
 * (bearer auth, OER decoding, condition check); the sender keeps CONCURRENCY requests in flight on
 * keep-alive connections and checks that every FULFILL hashes to its condition.
 * Bounded: BENCH_RUNS runs (default 5) of each; the bench stops itself after BENCH_TIMEOUT_S (300).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { IlpHttpClient, ilpEndpoint } from '../node/ilp/http.js';
import { fulfills, reject } from '../node/ilp/packets.js';
import { startHttpServer } from '../node/ilp/server.js';
import { SqliteLedger } from '../node/ledger/sqlite-ledger.js';
import {
  AccountFlags,
  AMOUNT_MAX,
  account,
  CreateTransferStatus,
  TransferFlags,
  transfer,
} from '../node/ledger/types.js';
import { saveResults } from './stats.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const BATCH = 1000;
const BATCHES = 20;
const ROUND_TRIPS = 5000;
const CONCURRENCY = 32;
const TIMEOUT_S = Number(process.env.BENCH_TIMEOUT_S ?? 300);
const TOKEN = 'bench-token-0123456789abcdef';
const targets = { transfersPerSecond: 20_000, roundTripsPerSecond: 1_000 };

const fulfillmentOf = (secret: Buffer, data: Buffer) =>
  createHash('sha256').update(secret).update(data).digest();

if (!isMainThread) {
  // The receiver: fulfils with sha256(secret || data), refusing a PREPARE whose condition differs.
  const { secret } = workerData as { secret: Uint8Array };
  const key = Buffer.from(secret);
  const server = await startHttpServer(
    {
      'POST /ilp': ilpEndpoint({
        ilpAddress: 'test.bench.receiver',
        tokens: new Map([[TOKEN, 'sender']]),
        onPrepare: async (prepare) => {
          const fulfillment = fulfillmentOf(key, prepare.data);
          return fulfills(fulfillment, prepare.executionCondition)
            ? { type: 'fulfill', fulfillment, data: Buffer.alloc(0) }
            : reject('F05', 'test.bench.receiver', 'wrong condition');
        },
        replayCacheSize: 0,
      }),
    },
    { host: '127.0.0.1', port: 0 },
  );
  parentPort?.postMessage(server.url);
} else {
  const watchdog = setTimeout(() => {
    console.error(`ledger bench: stopped after ${TIMEOUT_S} s`);
    process.exit(1);
  }, TIMEOUT_S * 1000);
  watchdog.unref();

  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)] as number;
  };
  const round = (x: number) => Math.round(x);

  // --- SQLite ledger ---------------------------------------------------------------------------
  const dir = mkdtempSync(join(tmpdir(), 'm2m-ledger-bench-'));
  const ledger = new SqliteLedger(join(dir, 'ledger.db'));
  const ACCOUNTS = 100;
  await ledger.createAccounts([
    account({ id: 1n, ledger: 1, code: 1 }),
    ...Array.from({ length: ACCOUNTS }, (_, i) =>
      account({
        id: BigInt(100 + i),
        ledger: 1,
        code: 10,
        flags: AccountFlags.debits_must_not_exceed_credits,
      }),
    ),
  ]);
  let nextId = 1_000_000n;
  await ledger.createTransfers(
    Array.from({ length: ACCOUNTS }, (_, i) =>
      transfer({
        id: ++nextId,
        debit_account_id: 1n,
        credit_account_id: BigInt(100 + i),
        amount: 10n ** 12n,
        ledger: 1,
        code: 1,
      }),
    ),
  );
  const pick = () => BigInt(100 + Math.floor(Math.random() * ACCOUNTS));
  const randomTransfer = (flags = 0) => {
    const debit = pick();
    let credit = pick();
    while (credit === debit) credit = pick();
    return transfer({
      id: ++nextId,
      debit_account_id: debit,
      credit_account_id: credit,
      amount: 1n + BigInt(Math.floor(Math.random() * 100)),
      ledger: 1,
      code: 2,
      flags,
      timeout: flags === 0 ? 0 : 3600,
    });
  };
  const check = (results: { status: number }[]) => {
    for (const r of results)
      if (r.status !== CreateTransferStatus.created)
        throw new Error(`transfer failed: ${CreateTransferStatus[r.status]}`);
  };
  const singleRates: number[] = [];
  const twoPhaseRates: number[] = [];
  for (let run = 0; run < RUNS + 1; run++) {
    const batches = Array.from({ length: BATCHES }, () =>
      Array.from({ length: BATCH }, () => randomTransfer()),
    );
    const start = process.hrtime.bigint();
    for (const b of batches) check(await ledger.createTransfers(b));
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (run > 0) singleRates.push((BATCHES * BATCH) / seconds); // run 0 warms up
    const pendings = Array.from({ length: BATCHES / 2 }, () =>
      Array.from({ length: BATCH }, () => randomTransfer(TransferFlags.pending)),
    );
    const posts = pendings.map((b) =>
      b.map((p) =>
        transfer({
          id: ++nextId,
          pending_id: p.id,
          amount: AMOUNT_MAX,
          flags: TransferFlags.post_pending_transfer,
        }),
      ),
    );
    const start2 = process.hrtime.bigint();
    for (let i = 0; i < pendings.length; i++) {
      check(await ledger.createTransfers(pendings[i] as never));
      check(await ledger.createTransfers(posts[i] as never));
    }
    const seconds2 = Number(process.hrtime.bigint() - start2) / 1e9;
    if (run > 0) twoPhaseRates.push((BATCHES * BATCH) / seconds2);
  }
  await ledger.close();
  rmSync(dir, { recursive: true, force: true });

  // --- ILP over HTTP -----------------------------------------------------------------------------
  const secret = randomBytes(32);
  const worker = new Worker(new URL(import.meta.url), { workerData: { secret } });
  const url = await new Promise<string>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const client = new IlpHttpClient(
    { url: `${url}/ilp`, token: TOKEN },
    { maxSockets: CONCURRENCY },
  );
  const roundTrip = async () => {
    const data = randomBytes(16);
    const fulfillment = fulfillmentOf(secret, data);
    const condition = createHash('sha256').update(fulfillment).digest();
    const reply = await client.sendPrepare({
      amount: 100n,
      expiresAt: new Date(Date.now() + 30_000),
      executionCondition: condition,
      destination: 'test.bench.receiver',
      data,
    });
    if (reply === 'accepted' || reply.type !== 'fulfill' || !fulfills(reply.fulfillment, condition))
      throw new Error('round trip did not end in a valid FULFILL');
  };
  const ilpRates: number[] = [];
  for (let run = 0; run < RUNS + 1; run++) {
    let sent = 0;
    const start = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (sent < ROUND_TRIPS) {
          sent++;
          await roundTrip();
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (run > 0) ilpRates.push(ROUND_TRIPS / seconds);
  }
  client.close();
  await worker.terminate();

  const figures = {
    sqliteTransfersPerSecond: {
      median: round(median(singleRates)),
      runs: singleRates.map(round),
      batch: BATCH,
      batchesPerRun: BATCHES,
      target: targets.transfersPerSecond,
    },
    sqliteTwoPhaseTransfersPerSecond: {
      median: round(median(twoPhaseRates)),
      runs: twoPhaseRates.map(round),
      note: 'pending + post, each counted',
    },
    ilpHttpRoundTripsPerSecond: {
      median: round(median(ilpRates)),
      runs: ilpRates.map(round),
      roundTripsPerRun: ROUND_TRIPS,
      concurrency: CONCURRENCY,
      target: targets.roundTripsPerSecond,
    },
    loadAverage1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
  const rows: [string, number, string][] = [
    [
      'SQLite ledger, single-phase (batches of 1,000)',
      figures.sqliteTransfersPerSecond.median,
      `>= ${targets.transfersPerSecond} transfers/s`,
    ],
    [
      'SQLite ledger, pending + post (batches of 1,000)',
      figures.sqliteTwoPhaseTransfersPerSecond.median,
      '(no target)',
    ],
    [
      'ILP-over-HTTP PREPARE/FULFILL round trips',
      figures.ilpHttpRoundTripsPerSecond.median,
      `>= ${targets.roundTripsPerSecond} /s`,
    ],
  ];
  console.log(`ledger bench: ${RUNS} runs each, medians (load average ${figures.loadAverage1m})`);
  for (const [what, value, target] of rows)
    console.log(`  ${what.padEnd(50)} ${String(value).padStart(8)}/s   target ${target}`);
  console.log(`  results: ${saveResults('ledger', figures)}`);
  clearTimeout(watchdog);
}
