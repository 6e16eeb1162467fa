import { join } from 'node:path';
import semver from 'semver';
import { z } from 'zod';
import { waitForJob } from '../node/customer/follow.js';
import { assertPublished, prepareJob, publishJob } from '../node/customer/request.js';
import { CustomerStore } from '../node/customer/store.js';
import type { JobVerdict } from '../node/customer/verify.js';
import { loadOrCreateSecretKey, parsePubkey } from '../node/market/keyfile.js';
import type { PublishResult } from '../node/nostr/pool.js';
import { RelayPool } from '../node/nostr/pool.js';
import { M2mError } from '../zkvm/errors.js';
import type { SkillContext } from './context.js';
import { readDataArgument, readPlanArgument } from './inputs.js';
import type { Skill } from './skill.js';

const PUBKEY = /^([0-9a-f]{64}|npub1[02-9ac-hj-np-z]{58})$/;
const MSATS = /^(0|[1-9][0-9]*)$/;
const U64_LIMIT = 1n << 64n;
const fitsU64 = (v: string | number): boolean => MSATS.test(String(v)) && BigInt(v) < U64_LIMIT;

export const RelayUrls = z
  .array(z.string().regex(/^wss?:\/\/[^\s/]+/, 'a relay URL: ws://host:port or wss://host'))
  .min(1)
  .describe('relays to use for this call instead of the server-wide ones');

export const VERIFICATION_LEVELS = ['hash', 'zk', 'zk-tls'] as const;

export const RequestZkJobParams = z
  .object({
    providerPubkey: z
      .string()
      .regex(PUBKEY, 'a public key as 64 lowercase hex characters or npub1…')
      .optional()
      .describe(
        'the provider to address (hex or npub); absent: any provider listening on the relays may take the job',
      ),
    task: z
      .object({
        plan: z
          .string()
          .min(1)
          .describe('the execution plan: its YAML or JSON text, or the path of a plan file'),
        data: z
          .union([z.record(z.string(), z.unknown()), z.array(z.unknown()), z.string().min(1)])
          .describe(
            'the input data: {"<data-input step id>": [records]} (a bare array for a plan with one data-input step), or the path of a JSON file',
          ),
      })
      .strict(),
    verificationLevel: z
      .enum(VERIFICATION_LEVELS)
      .default('zk')
      .describe('how the result is checked; only "zk" (a zkVM proof of the plan) is served today'),
    zkvm: z
      .enum(['risc-zero', 'sp1', 'miden', 'any'])
      .default('any')
      .describe('the proving backend; "any" lets the provider choose'),
    maxProvingTime: z
      .number()
      .int()
      .positive()
      .max(86_400)
      .default(300)
      .describe('the longest proving time accepted, in seconds'),
    minProgramVersion: z
      .string()
      .refine((v) => semver.valid(v) === v, 'a semantic version such as 0.2.0')
      .optional()
      .describe('the lowest plan-compiler program version accepted'),
    payment: z
      .object({
        bidMsats: z
          .union([z.string().regex(MSATS, 'a whole number of millisats'), z.number().int().min(0)])
          .refine(fitsU64, {
            message: 'at most 2^64 - 1 millisats',
            when: (payload) => payload.issues.length === 0,
          })
          .describe('what is paid for a verified proof, in millisats (a string for large amounts)'),
      })
      .strict(),
    private: z
      .boolean()
      .default(false)
      .describe('encrypt the plan and data to the one providerPubkey (NIP-44)'),
    relays: RelayUrls.optional(),
    wait: z
      .boolean()
      .default(false)
      .describe(
        'follow the job until its result arrives and verify the proof; returns the verdict',
      ),
    timeout: z
      .number()
      .int()
      .positive()
      .max(3600)
      .default(600)
      .describe('with wait: give up after this many seconds (JOB_TIMEOUT)'),
  })
  .strict();

export type RequestZkJobParams = z.output<typeof RequestZkJobParams>;

export interface RequestZkJobResult {
  requestId: string;
  /** The customer's pubkey (the request's author). */
  customer: string;
  planHash: string;
  jobRequestHash: string;
  /** Poseidon2 data root of the customer's data: what the proof must state. */
  dataRoot: string;
  zkvm: string;
  providers: string[];
  relays: string[];
  /** Relays that stored the request (or already had it). */
  acceptedRelays: string[];
  publish: PublishResult[];
  /** With wait: the verdict on the result (valid or not; the output when valid). */
  verdict?: JobVerdict;
}

const UNSUPPORTED: Record<Exclude<RequestZkJobParams['verificationLevel'], 'zk'>, string> = {
  hash: 'verificationLevel "hash" (a bare output hash, no proof) is not served: a hash cannot show the output was computed from the plan and data, and this market pays only on a verified ZK proof; use "zk"',
  'zk-tls':
    'verificationLevel "zk-tls" (a proof that the data came from a TLS server) is not served: no provider here has a TLS-notary backend; use "zk" and send the data with the request',
};

/** Publishes a kind 5900 ZK job request through the customer module, optionally following it. */
export const requestZkJob: Skill<RequestZkJobParams, RequestZkJobResult> = {
  name: 'request_zk_job',
  description:
    'Buy a computation with a zero-knowledge proof: validates an execution plan and its input data, publishes a NIP-90 kind 5900 job request to the relays, and saves the job for verify_proof. With wait: true it follows the job and verifies the proof in process (verdict VALID or a code).',
  parameters: RequestZkJobParams,
  async run(params: RequestZkJobParams, context: SkillContext): Promise<RequestZkJobResult> {
    if (params.verificationLevel !== 'zk')
      throw new M2mError('VERIFICATION_UNSUPPORTED', UNSUPPORTED[params.verificationLevel], {
        details: { verificationLevel: params.verificationLevel, supported: ['zk'] },
      });
    const { planText, planSource } = readPlanArgument(params.task.plan, context.cwd, 'task.plan');
    const data = readDataArgument(params.task.data, context.cwd);
    const providers =
      params.providerPubkey === undefined
        ? []
        : [parsePubkey(params.providerPubkey, 'providerPubkey')];
    const relays = params.relays ?? context.relays;
    if (params.private && providers.length !== 1)
      throw new M2mError(
        'JOB_PRIVATE_NEEDS_PROVIDER',
        'a private request is encrypted to one provider; pass providerPubkey',
      );
    const { secretKey } = loadOrCreateSecretKey(context.keyFile);
    const job = prepareJob(
      {
        planText,
        planSource,
        data,
        backend: params.zkvm,
        maxProvingTimeSec: params.maxProvingTime,
        bidMsats: BigInt(params.payment.bidMsats),
        minProgramVersion: params.minProgramVersion,
        providers,
        relays,
        encrypt: params.private,
      },
      secretKey,
    );
    const store = new CustomerStore(join(context.dataDir, 'jobs.db'));
    const pool = new RelayPool(relays);
    try {
      const outcome = await publishJob(store, pool, job);
      assertPublished(job, outcome);
      const result: RequestZkJobResult = {
        requestId: job.requestId,
        customer: job.customer,
        planHash: job.planHash,
        jobRequestHash: job.jobRequestHash,
        dataRoot: job.dataRoot,
        zkvm: job.backend,
        providers,
        relays: [...pool.urls],
        acceptedRelays: outcome.results
          .filter((r) => r.ok || r.message.startsWith('duplicate:'))
          .map((r) => r.url),
        publish: outcome.results,
      };
      context.progress?.(
        `job ${job.requestId} published to ${result.acceptedRelays.length}/${relays.length} relay(s)`,
      );
      if (!params.wait) return result;
      const waited = await waitForJob(pool, job, {
        timeoutMs: params.timeout * 1000,
        customerSecretKey: secretKey,
        onFeedback: (f) =>
          context.progress?.(
            `feedback ${f.status} from ${f.pubkey}${f.info === undefined ? '' : `: ${f.info}`}`,
          ),
        onResult: (v) =>
          context.progress?.(
            `result ${v.resultId} from ${v.provider}: ${v.valid ? 'valid' : `invalid (${v.code})`}`,
          ),
      });
      if (waited.outcome === 'refused')
        throw new M2mError(
          'JOB_REFUSED',
          `job ${job.requestId} was refused or failed: ${waited.feedback.map((f) => `${f.pubkey}: ${f.info}`).join('; ')}`,
          {
            details: {
              requestId: job.requestId,
              feedback: waited.feedback.map((f) => ({ provider: f.pubkey, info: f.info })),
            },
          },
        );
      const { output: _output, ...summary } = waited.verdict;
      store.recordVerdict(job.requestId, summary);
      return { ...result, verdict: waited.verdict };
    } finally {
      pool.close();
      store.close();
    }
  },
};
