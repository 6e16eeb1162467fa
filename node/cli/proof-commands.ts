import { writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { M2mError } from '../../zkvm/errors.js';
import { BLOSSOM_DEFAULTS, startBlossomServer } from '../blossom/server.js';
import { loadOrCreateSecretKey } from '../market/keyfile.js';
import type { ProofStoreConfig } from '../storage/config.js';
import { sha256Hex } from '../storage/hash.js';
import { ProofStore } from '../storage/proof-store.js';
import { EXIT, nextSignal, printJson, readFileBytes } from './io.js';

const defaultDataDir = (): string => process.env.M2M_HOME ?? join(homedir(), '.m2m');
const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

const positive = (what: string) => (text: string) => {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive ${what}`);
  return n;
};
const portNumber = (text: string): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('expected a port from 0 to 65535');
  return n;
};
const digest = (text: string): string => {
  const hex = text.replace(/^sha256:/, '');
  if (!/^[0-9a-f]{64}$/.test(hex))
    throw new InvalidArgumentError('expected sha256:<64 hex> (the proof-ref tag digest)');
  return hex;
};

interface StoreOptions {
  dataDir: string;
  key?: string;
  server?: string[];
  ipfs: string;
  gateway?: string[];
  json?: boolean;
}

function withStore(command: Command): Command {
  return command
    .option(
      '--data-dir <dir>',
      'proofs.db, the proof cache and the Helia repo live under <dir>/proofs ($M2M_HOME)',
      defaultDataDir(),
    )
    .option(
      '--key <file>',
      'key signing Blossom uploads and deletes (default <data-dir>/proofs.key, created when missing)',
    )
    .option('--server <url>', 'Blossom server, in order of preference; repeatable', collect)
    .option(
      '--ipfs <helia|none|url>',
      'IPFS fallback: the embedded Helia node, none, or a Kubo RPC API URL',
      'helia',
    )
    .option('--gateway <url>', 'IPFS gateway written into ipfs: references; repeatable', collect)
    .option('--json', 'print the result as JSON');
}

async function openStore(opts: StoreOptions): Promise<ProofStore> {
  const dataDir = resolve(opts.dataDir, 'proofs');
  const ipfs: ProofStoreConfig['ipfs'] =
    opts.ipfs === 'helia'
      ? { kind: 'helia', dir: join(dataDir, 'ipfs') }
      : opts.ipfs === 'none'
        ? { kind: 'none' }
        : /^https?:\/\//.test(opts.ipfs)
          ? { kind: 'kubo', api: opts.ipfs }
          : (() => {
              throw new M2mError(
                'USAGE',
                `--ipfs must be helia, none or a Kubo API URL, got ${opts.ipfs}`,
              );
            })();
  const keyFile = opts.key ?? join(opts.dataDir, 'proofs.key');
  return ProofStore.open(
    {
      dataDir,
      blossomServers: opts.server ?? [],
      embeddedBlossom: false,
      ipfs,
      gateways: opts.gateway ?? [],
      cacheBytes: 256 * 1024 * 1024,
      retentionMs: 168 * 3600_000,
    },
    {
      secretKey: loadOrCreateSecretKey(keyFile).secretKey,
      onFallback: (f) =>
        process.stderr.write(`${f.store} failed (${f.reason}); trying the next store\n`),
    },
  );
}

async function run<T>(opts: StoreOptions, work: (store: ProofStore) => Promise<T>): Promise<T> {
  const store = await openStore(opts);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

export function registerProofCommands(program: Command, setExit: (code: number) => void): void {
  const proof = program
    .command('proof')
    .description(
      'proof storage: upload proofs to Blossom (IPFS as the fallback), fetch them by reference, pin, collect garbage',
    );

  withStore(
    proof
      .command('upload')
      .description(
        'upload a proof envelope (any file); prints its reference (blossom:... or ipfs:...)',
      )
      .argument('<file>', 'the binary proof envelope')
      .option('--job <id>', 'the job this proof belongs to (kept by gc until the job settles)'),
  ).action(async (file: string, opts: StoreOptions & { job?: string }) => {
    const bytes = readFileBytes(file);
    process.stderr.write(`uploading ${bytes.length} bytes (sha256 ${sha256Hex(bytes)})\n`);
    const stored = await run(opts, (store) => store.upload(bytes, { jobId: opts.job }));
    if (opts.json)
      printJson({ ok: true, ...stored, ref: undefined, sha256: `sha256:${stored.sha256}` });
    else process.stdout.write(`${stored.uri}\n`);
    setExit(EXIT.ok);
  });

  withStore(
    proof
      .command('fetch')
      .description(
        'fetch a proof by reference; the bytes are checked against the reference (and --sha256)',
      )
      .argument('<ref>', 'blossom:<sha256>?server=..., ipfs:<cid>, or a Blossom blob URL')
      .option('--sha256 <digest>', 'also require this SHA-256 (the proof-ref tag digest)', digest)
      .option('--out <file>', 'write the bytes here (default: stdout)'),
  ).action(async (ref: string, opts: StoreOptions & { sha256?: string; out?: string }) => {
    const bytes = await run(opts, (store) => store.fetch(ref, opts.sha256));
    if (opts.out !== undefined) writeFileSync(opts.out, bytes);
    if (opts.json)
      printJson({
        ok: true,
        ref,
        sha256: `sha256:${sha256Hex(bytes)}`,
        size: bytes.length,
        out: opts.out,
      });
    else if (opts.out === undefined) process.stdout.write(bytes);
    else
      process.stdout.write(
        `${bytes.length} bytes, sha256 ${sha256Hex(bytes)}, written to ${opts.out}\n`,
      );
    setExit(EXIT.ok);
  });

  withStore(
    proof
      .command('pin')
      .description('keep a proof: pin it in its store and exempt it from gc')
      .argument('<ref>', 'proof reference')
      .option('--reason <text>', 'why (e.g. dispute:<id>)', 'manual'),
  ).action(async (ref: string, opts: StoreOptions & { reason: string }) => {
    await run(opts, (store) => store.pin(ref, opts.reason));
    if (opts.json) printJson({ ok: true, ref, pinned: true, reason: opts.reason });
    else process.stdout.write(`pinned ${ref}\n`);
    setExit(EXIT.ok);
  });

  withStore(
    proof
      .command('unpin')
      .description(
        'let gc take a proof once it is past retention and no unsettled job references it',
      )
      .argument('<ref>', 'proof reference or sha256 hex'),
  ).action(async (ref: string, opts: StoreOptions) => {
    await run(opts, async (store) => store.unpin(ref));
    if (opts.json) printJson({ ok: true, ref, pinned: false });
    else process.stdout.write(`unpinned ${ref}\n`);
    setExit(EXIT.ok);
  });

  withStore(
    proof
      .command('gc')
      .description(
        'delete unpinned proofs past the retention window that no unsettled job references',
      )
      .option(
        '--retention <hours>',
        'keep proofs younger than this (default 168)',
        positive('number of hours'),
      ),
  ).action(async (opts: StoreOptions & { retention?: number }) => {
    const report = await run(opts, (store) =>
      store.gc(opts.retention === undefined ? {} : { retentionMs: opts.retention * 3600_000 }),
    );
    if (opts.json) printJson({ ok: report.failed.length === 0, ...report });
    else {
      for (const d of report.deleted) process.stdout.write(`deleted ${d.uri} (${d.size} bytes)\n`);
      for (const f of report.failed) process.stderr.write(`kept ${f.uri}: ${f.reason}\n`);
      process.stdout.write(
        `${report.deleted.length} deleted, ${report.kept} kept, ${report.failed.length} failed\n`,
      );
    }
    setExit(report.failed.length === 0 ? EXIT.ok : EXIT.rejected);
  });

  withStore(
    proof.command('list').description('the proofs this node stored, pins and job references'),
  ).action(async (opts: StoreOptions) => {
    const rows = await run(opts, async (store) => store.list());
    if (opts.json) printJson(rows);
    else
      for (const r of rows)
        process.stdout.write(
          `${r.pinned ? 'pinned ' : '       '} ${r.size.toString().padStart(9)} ${new Date(r.createdMs).toISOString()} ${r.uri}${r.jobs.length === 0 ? '' : ` jobs=${r.jobs.map((j) => `${j.jobId}${j.settled ? '(settled)' : ''}`).join(',')}`}\n`,
        );
    setExit(EXIT.ok);
  });

  const blossom = program.command('blossom').description('the Blossom blob server (BUD-01/02/06)');
  blossom
    .command('start')
    .description('serve Blossom blobs from a directory until SIGINT or SIGTERM')
    .option('--dir <dir>', 'blobs and index.db (default <$M2M_HOME>/blossom)')
    .option('--host <address>', `address to listen on (default ${BLOSSOM_DEFAULTS.host})`)
    .option('--port <n>', `port; 0 picks a free one (default ${BLOSSOM_DEFAULTS.port})`, portNumber)
    .option('--public-url <url>', 'base URL written into blob descriptors')
    .option('--max-blob-mb <n>', 'largest blob accepted (default 64)', positive('number of MiB'))
    .option('--quota-mb <n>', 'bytes each pubkey may own (default 1024)', positive('number of MiB'))
    .option('--json', 'print the listening and stopped lines as JSON')
    .action(
      async (opts: {
        dir?: string;
        host?: string;
        port?: number;
        publicUrl?: string;
        maxBlobMb?: number;
        quotaMb?: number;
        json?: boolean;
      }) => {
        const dir = resolve(opts.dir ?? join(defaultDataDir(), 'blossom'));
        const server = await startBlossomServer({
          dir,
          host: opts.host,
          port: opts.port,
          publicUrl: opts.publicUrl,
          maxBlobBytes:
            opts.maxBlobMb === undefined ? undefined : Math.round(opts.maxBlobMb * 1024 * 1024),
          quotaBytesPerPubkey:
            opts.quotaMb === undefined ? undefined : Math.round(opts.quotaMb * 1024 * 1024),
        });
        if (opts.json) printJson({ url: server.url, dir });
        else process.stdout.write(`blossom listening on ${server.url} (dir ${dir})\n`);
        const signal = await nextSignal();
        const stats = server.stats();
        await server.close();
        if (opts.json) printJson({ stopped: signal, ...stats });
        else
          process.stdout.write(
            `blossom stopped on ${signal}; ${stats.blobs} blobs, ${stats.bytes} bytes\n`,
          );
        setExit(EXIT.ok);
      },
    );
}
