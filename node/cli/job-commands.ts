import { homedir } from 'node:os';
import { join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { getPublicKey } from 'nostr-tools/pure';
import semver from 'semver';
import { M2mError } from '../../zkvm/errors.js';
import { fetchJobEvents, readFeedback, waitForJob } from '../customer/follow.js';
import { payForJob } from '../customer/pay.js';
import { assertPublished, prepareJob, publishJob } from '../customer/request.js';
import { type CustomerJob, CustomerStore } from '../customer/store.js';
import type { JobVerdict } from '../customer/verify.js';
import { KIND_JOB_RESULT } from '../dvm/event.js';
import type { JobFeedback } from '../dvm/feedback.js';
import type { ZkvmChoice } from '../dvm/request.js';
import { DEFAULT_RELAY } from '../market/defaults.js';
import { loadOrCreateSecretKey, parsePubkey, parseSecretKey } from '../market/keyfile.js';
import { RelayPool } from '../nostr/pool.js';
import {
  type EscrowAdmin,
  FINAL_PAYMENT_STATES,
  paymentStatus,
} from '../settlement/admin-client.js';
import type { PaymentView } from '../settlement/node.js';
import { createProofFetcher } from '../storage/fetch.js';
import type { MarketEventData, MarketEventKind } from '../ves/market-events.js';
import { openMarketRecorder } from '../ves/recorder.js';
import { EXIT, printJson, readJson, readText } from './io.js';

/** The embedded relay's default address (`m2m relay start`). */

const defaultDataDir = (): string => process.env.M2M_HOME ?? join(homedir(), '.m2m');

const positiveInteger = (text: string): number => {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new InvalidArgumentError('expected a positive whole number');
  return n;
};

const msats = (text: string): bigint => {
  if (!/^(0|[1-9][0-9]*)$/.test(text) || BigInt(text) >= 1n << 64n)
    throw new InvalidArgumentError('expected a whole number of millisats such as 21000');
  return BigInt(text);
};

const version = (text: string): string => {
  if (semver.valid(text) !== text)
    throw new InvalidArgumentError('expected a semantic version such as 0.2.0');
  return text;
};

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

interface CommonOptions {
  dataDir: string;
  key?: string;
  relay?: string[];
  json?: boolean;
}

function withCommon(command: Command, relayDefault: string): Command {
  return command
    .option(
      '--data-dir <dir>',
      'where the job file and the default key live ($M2M_HOME)',
      defaultDataDir(),
    )
    .option('--key <file>', 'customer secret key, 64 hex or nsec (default <data-dir>/customer.key)')
    .option('--relay <url>', `relay; repeatable (default ${relayDefault})`, collect)
    .option('--json', 'print the result as JSON');
}

const keyFile = (opts: CommonOptions): string => opts.key ?? join(opts.dataDir, 'customer.key');

function openStore(opts: CommonOptions): CustomerStore {
  return new CustomerStore(join(opts.dataDir, 'jobs.db'));
}

/** The customer's key, read only; it must be the one that signed the job. */
function jobKey(opts: CommonOptions, job: CustomerJob): Uint8Array {
  const path = keyFile(opts);
  const secretKey = parseSecretKey(readText(path), path);
  if (getPublicKey(secretKey) !== job.customer)
    throw new M2mError(
      'KEY_MISMATCH',
      `${path} is not the key that requested job ${job.requestId} (customer ${job.customer}); pass that key with --key`,
    );
  return secretKey;
}

async function withPool<T>(relays: string[], run: (pool: RelayPool) => Promise<T>): Promise<T> {
  const pool = new RelayPool(relays);
  try {
    return await run(pool);
  } finally {
    pool.close();
  }
}

const short = (hex: string | undefined): string => (hex === undefined ? '?' : hex.slice(0, 12));

function feedbackLine(feedback: JobFeedback): string {
  return `${feedback.status.padEnd(10)} from ${short(feedback.pubkey)}${feedback.info === undefined ? '' : `: ${feedback.info}`}`;
}

function printVerdict(verdict: JobVerdict): void {
  const timings = `verified in ${verdict.verifyMs.toFixed(1)} ms; ${(verdict.elapsedMs / 1000).toFixed(1)} s from request to verdict`;
  if (!verdict.valid) {
    process.stdout.write(
      `INVALID result ${short(verdict.resultId)} for job ${verdict.requestId}: ${verdict.code}: ${verdict.reason} (${timings})\n`,
    );
    return;
  }
  process.stdout.write(
    [
      `VALID plan proof for job ${verdict.requestId}`,
      `  provider    ${verdict.provider}`,
      `  result      ${verdict.resultId}`,
      `  plan hash   ${verdict.planHash}`,
      `  data root   ${verdict.dataRoot}`,
      `  output hash ${verdict.outputHash}`,
      `  proved in ${verdict.provingTimeMs} ms (${verdict.cyclesUsed} VM cycles, as claimed); ${timings}`,
      JSON.stringify(verdict.output, null, 2),
      '',
    ].join('\n'),
  );
}

interface EscrowOptions {
  escrow?: string;
  escrowToken?: string;
}

function escrowOf(opts: EscrowOptions): EscrowAdmin | undefined {
  if (opts.escrow === undefined) return undefined;
  const token = opts.escrowToken ?? process.env.M2M_ESCROW_TOKEN;
  if (token === undefined || token === '')
    throw new M2mError(
      'USAGE',
      "--escrow needs the escrow's adminToken: --escrow-token or $M2M_ESCROW_TOKEN",
    );
  return { url: opts.escrow, token };
}

/** Polls the escrow until the payment is final (fulfilled, rejected, expired) or time runs out. */
async function settledPayment(
  escrow: EscrowAdmin,
  id: string,
  timeoutSec: number,
): Promise<PaymentView> {
  const deadline = Date.now() + timeoutSec * 1000;
  for (;;) {
    const payment = await paymentStatus(escrow, id);
    if (FINAL_PAYMENT_STATES.has(payment.state) || Date.now() > deadline) return payment;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Records a market fact in the VES outbox when `m2m sync init` set up the sync dir. */
async function recordMarketEvent<K extends MarketEventKind>(
  opts: CommonOptions,
  kind: K,
  data: MarketEventData[K],
): Promise<void> {
  const recorder = openMarketRecorder(join(opts.dataDir, 'sync'));
  if (recorder === undefined) return;
  try {
    const outcome = await recorder.record(kind, data);
    if (!outcome.ok)
      process.stderr.write(`ves: ${kind} not recorded: ${outcome.code}: ${outcome.message}\n`);
  } finally {
    recorder.close();
  }
}

export function registerJobCommands(program: Command, setExit: (code: number) => void): void {
  const job = program
    .command('job')
    .description('the customer side: request ZK-verified jobs, follow them, verify their proofs');

  withCommon(
    job
      .command('request')
      .description(
        'publish a kind 5900 job request for a plan and its data; prints the request id (saved under --data-dir for status and wait)',
      )
      .requiredOption('--plan <file>', 'execution plan (YAML or JSON)')
      .requiredOption('--data <file>', 'input data: {"<data-input step id>": [records]}')
      .requiredOption('--bid <msats>', 'what you pay for a verified proof, in millisats', msats)
      .addOption(
        new Option('--zkvm <backend>', 'proving backend')
          .choices(['any', 'miden', 'risc-zero', 'sp1'])
          .default('any'),
      )
      .option(
        '--max-proving-time <seconds>',
        'longest proving time you accept',
        positiveInteger,
        300,
      )
      .option('--min-program-version <semver>', 'lowest plan compiler version you accept', version)
      .option('--provider <npub|hex>', 'address a provider; repeatable', collect)
      .option('--private', 'encrypt the plan and data to the one --provider (NIP-44)')
      .option(
        '--escrow <url>',
        'pay through this escrow (`m2m settlement start`): it holds the bid until the proof verifies',
      )
      .option('--escrow-token <token>', "the escrow's adminToken (default $M2M_ESCROW_TOKEN)")
      .option('--escrow-peer <name>', "the provider's peer name in the escrow's config")
      .option('--buyer <name>', "your buyer account on the escrow's ledger", 'default')
      .option(
        '--pay-deadline <seconds>',
        'how long the provider has to deliver a valid proof (default: max-proving-time + 300)',
        positiveInteger,
      ),
    DEFAULT_RELAY,
  ).action(
    async (
      opts: CommonOptions & {
        plan: string;
        data: string;
        bid: bigint;
        zkvm: ZkvmChoice;
        maxProvingTime: number;
        minProgramVersion?: string;
        provider?: string[];
        private?: boolean;
      } & EscrowOptions & { escrowPeer?: string; buyer: string; payDeadline?: number },
    ) => {
      const escrow = escrowOf(opts);
      if (escrow !== undefined && opts.escrowPeer === undefined)
        throw new M2mError(
          'USAGE',
          "--escrow needs --escrow-peer: the provider's peer name in the escrow's settlement config",
        );
      const { secretKey } = loadOrCreateSecretKey(keyFile(opts));
      const relays = opts.relay ?? [DEFAULT_RELAY];
      const prepared = prepareJob(
        {
          planText: readText(opts.plan),
          planSource: opts.plan,
          data: readJson(opts.data),
          backend: opts.zkvm,
          maxProvingTimeSec: opts.maxProvingTime,
          bidMsats: opts.bid,
          minProgramVersion: opts.minProgramVersion,
          providers: (opts.provider ?? []).map((p) => parsePubkey(p, '--provider')),
          relays,
          encrypt: opts.private === true,
        },
        secretKey,
      );
      const store = openStore(opts);
      try {
        const outcome = await withPool(relays, (pool) => publishJob(store, pool, prepared));
        assertPublished(prepared, outcome);
        const payment =
          escrow === undefined
            ? undefined
            : await payForJob(prepared, {
                ...escrow,
                provider: opts.escrowPeer as string,
                buyer: opts.buyer,
                deadlineSec: opts.payDeadline ?? opts.maxProvingTime + 300,
              });
        await recordMarketEvent(opts, 'job.requested', {
          jobId: prepared.requestId,
          customer: prepared.customer,
          planHash: prepared.planHash,
          bid: { amount: opts.bid, asset: 'msat' },
          zkvm: opts.zkvm,
        });
        if (opts.json)
          printJson({
            ok: true,
            requestId: prepared.requestId,
            customer: prepared.customer,
            planHash: prepared.planHash,
            dataRoot: prepared.dataRoot,
            relays: outcome.results,
            ...(payment === undefined ? {} : { payment }),
          });
        else {
          process.stderr.write(
            `job request published to ${outcome.results.filter((r) => r.ok).length}/${relays.length} relay(s); follow it with \`m2m job wait ${prepared.requestId}\`\n`,
          );
          if (payment !== undefined)
            process.stderr.write(
              `payment of ${payment.amount} msats to ${payment.provider} held by the escrow (${payment.state}) until a valid proof\n`,
            );
          process.stdout.write(`${prepared.requestId}\n`);
        }
      } finally {
        store.close();
      }
      setExit(EXIT.ok);
    },
  );

  withCommon(
    job
      .command('status')
      .description('print the latest feedback and results of a job from its relays')
      .argument('<id>', 'job request id'),
    "the job's relays",
  ).action(async (id: string, opts: CommonOptions) => {
    const store = openStore(opts);
    try {
      const found = store.require(id);
      const events = await withPool(opts.relay ?? found.relays, (pool) => fetchJobEvents(pool, id));
      const feedback = events
        .map((event) => readFeedback(found, event))
        .filter((f): f is JobFeedback => f !== undefined)
        .sort((a, b) => a.createdAt - b.createdAt);
      const results = events
        .filter((event) => event.kind === KIND_JOB_RESULT)
        .map((event) => ({ id: event.id, provider: event.pubkey, createdAt: event.created_at }));
      const latest = feedback.at(-1);
      const report = {
        requestId: id,
        published: found.publishedAt !== undefined,
        relays: opts.relay ?? found.relays,
        latest:
          latest === undefined
            ? undefined
            : { status: latest.status, info: latest.info, provider: latest.pubkey },
        feedback: feedback.map((f) => ({
          status: f.status,
          info: f.info,
          provider: f.pubkey,
          createdAt: f.createdAt,
        })),
        results,
        verdict: found.verdict,
      };
      if (opts.json) printJson(report);
      else {
        process.stdout.write(
          `job ${id}: ${report.published ? 'published' : 'NOT confirmed by any relay (m2m job wait sends it again)'}\n`,
        );
        if (feedback.length === 0) process.stdout.write('  no feedback yet\n');
        for (const f of feedback) process.stdout.write(`  ${feedbackLine(f)}\n`);
        for (const r of results)
          process.stdout.write(`  result ${r.id} from ${short(r.provider)}\n`);
        if (found.verdict !== undefined)
          process.stdout.write(
            `  verified: ${found.verdict.valid === true ? 'VALID' : `INVALID ${String(found.verdict.code)}`}\n`,
          );
        else if (results.length > 0)
          process.stdout.write(`  not verified yet: run \`m2m job wait ${id}\`\n`);
      }
    } finally {
      store.close();
    }
    setExit(EXIT.ok);
  });

  withCommon(
    job
      .command('wait')
      .description(
        'follow a job until its result arrives, then verify the proof in process; prints VALID or INVALID (exit 0 only when VALID)',
      )
      .argument('<id>', 'job request id')
      .option('--timeout <seconds>', 'give up after this long', positiveInteger, 600)
      .option(
        '--proof-server <url>',
        'Blossom server to fetch proofs sent by reference from, after the ones the reference names; repeatable',
        collect,
      )
      .option('--ipfs-api <url>', 'Kubo RPC API to fetch ipfs: proof references through')
      .option(
        '--ipfs-gateway <url>',
        'IPFS gateway for ipfs: proof references; repeatable',
        collect,
      )
      .option('--escrow <url>', 'after the verdict, wait for the payment to settle at this escrow')
      .option('--escrow-token <token>', "the escrow's adminToken (default $M2M_ESCROW_TOKEN)"),
    "the job's relays",
  ).action(
    async (
      id: string,
      opts: CommonOptions & {
        timeout: number;
        proofServer?: string[];
        ipfsApi?: string;
        ipfsGateway?: string[];
      } & EscrowOptions,
    ) => {
      const escrow = escrowOf(opts);
      const store = openStore(opts);
      try {
        const found = store.require(id);
        const secretKey = found.encrypted ? jobKey(opts, found) : undefined;
        const outcome = await withPool(opts.relay ?? found.relays, async (pool) => {
          if (found.publishedAt === undefined)
            assertPublished(found, await publishJob(store, pool, found));
          return waitForJob(pool, found, {
            timeoutMs: opts.timeout * 1000,
            customerSecretKey: secretKey,
            fetchProof: createProofFetcher({
              blossomServers: opts.proofServer,
              kuboApi: opts.ipfsApi,
              gateways: opts.ipfsGateway,
              dataDir: opts.dataDir,
            }),
            onFeedback: (f) => process.stderr.write(`feedback ${feedbackLine(f)}\n`),
            onResult: (v) =>
              process.stderr.write(
                `result ${short(v.resultId)} from ${short(v.provider)}: ${v.valid ? 'valid' : `invalid (${v.code})`}\n`,
              ),
          });
        });
        if (outcome.outcome === 'refused') {
          const reasons = outcome.feedback.map((f) => `${short(f.pubkey)}: ${f.info}`).join('; ');
          throw new M2mError('JOB_REFUSED', `job ${id} was refused or failed: ${reasons}`, {
            details: {
              requestId: id,
              feedback: outcome.feedback.map((f) => ({ provider: f.pubkey, info: f.info })),
            },
          });
        }
        const { verdict } = outcome;
        const { output: _output, ...summary } = verdict;
        store.recordVerdict(id, summary);
        await recordMarketEvent(opts, 'job.verified', {
          jobId: id,
          verifier: found.customer,
          valid: verdict.valid,
          ...(verdict.code === undefined ? {} : { reason: `${verdict.code}: ${verdict.reason}` }),
        });
        const payment =
          escrow === undefined ? undefined : await settledPayment(escrow, id, opts.timeout);
        if (opts.json)
          printJson({
            ok: verdict.valid,
            ...verdict,
            ...(payment === undefined ? {} : { payment }),
          });
        else {
          printVerdict(verdict);
          if (payment !== undefined)
            process.stdout.write(
              `payment ${payment.state}: ${payment.amount} msats to ${payment.provider}${payment.reason === null ? '' : ` (${payment.reason})`}\n`,
            );
        }
        setExit(verdict.valid ? EXIT.ok : EXIT.rejected);
      } finally {
        store.close();
      }
    },
  );
}
