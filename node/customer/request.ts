import { getPublicKey } from 'nostr-tools/pure';
import { M2mError } from '../../zkvm/errors.js';
import { assertValidPlan } from '../../zkvm/plan/validate.js';
import { planDataRootPoseidon } from '../../zkvm/plan-proof/commitments.js';
import { buildJobRequest, type ZkvmChoice } from '../dvm/request.js';
import { dataInput, normalizeJobData } from '../market/data-input.js';
import { failedRelays, type PublishOutcome, publishEvent } from '../market/publish.js';
import type { RelayPool } from '../nostr/pool.js';
import type { CustomerJob, CustomerStore } from './store.js';

export interface NewJob {
  planText: string;
  /** Where the plan came from, for error locations. */
  planSource: string;
  /** The input data as parsed from the customer's file ({"<step id>": [records]} or an array). */
  data: unknown;
  backend: ZkvmChoice;
  maxProvingTimeSec: number;
  bidMsats: bigint;
  minProgramVersion?: string | undefined;
  providers: string[];
  relays: string[];
  /** NIP-44: plan and data encrypted to the single provider. */
  encrypt: boolean;
}

/**
 * Builds and signs a kind 5900 for a plan and its data, after checking locally what the provider
 * would refuse anyway: the plan validates and the data matches the plan's commitments. Returns the
 * job with the statement a proof must match (plan hash, job request hash, Poseidon2 data root).
 */
export function prepareJob(input: NewJob, secretKey: Uint8Array): CustomerJob {
  if (input.encrypt && input.providers.length !== 1)
    throw new M2mError(
      'JOB_PRIVATE_NEEDS_PROVIDER',
      `a private request is encrypted to one provider; pass exactly one --provider (got ${input.providers.length})`,
    );
  const validated = assertValidPlan(input.planText, { file: input.planSource });
  const data = normalizeJobData(input.data, validated.plan, 'the data file');
  const dataRoot = planDataRootPoseidon(validated.plan, data);
  const event = buildJobRequest(
    {
      backend: input.backend,
      minProgramVersion: input.minProgramVersion,
      maxProvingTimeSec: input.maxProvingTimeSec,
      bidMsats: input.bidMsats,
      output: 'application/json',
      relays: input.relays,
      providers: input.providers,
      encrypt: input.encrypt,
      body: {
        plan: { type: 'text', text: input.planText, planHash: validated.planHash },
        inputs: [dataInput(data)],
        params: [],
      },
    },
    secretKey,
  );
  return {
    requestId: event.id,
    customer: getPublicKey(secretKey),
    request: event,
    planText: input.planText,
    data,
    relays: input.relays,
    providers: input.providers,
    backend: input.backend,
    minProgramVersion: input.minProgramVersion,
    encrypted: input.encrypt,
    planHash: validated.planHash,
    jobRequestHash: validated.plan.jobRequestHash,
    dataRoot,
    createdAt: Date.now(),
    publishedAt: undefined,
    verdict: undefined,
  };
}

/**
 * Sends the job's request (again, if it was never confirmed: relays dedupe by id). The job is in
 * the store before anything is sent, so a lost OK never loses the job.
 */
export async function publishJob(
  store: CustomerStore,
  pool: RelayPool,
  job: CustomerJob,
): Promise<PublishOutcome> {
  if (store.get(job.requestId) === undefined) store.insert(job);
  const outcome = await publishEvent(pool, job.request);
  if (outcome.confirmed) store.markPublished(job.requestId);
  return outcome;
}

/** Throws JOB_PUBLISH_FAILED when no relay took the request. */
export function assertPublished(job: CustomerJob, outcome: PublishOutcome): void {
  if (!outcome.confirmed)
    throw new M2mError(
      'JOB_PUBLISH_FAILED',
      `no relay accepted job request ${job.requestId} (${failedRelays(outcome.results)}); it is saved, \`m2m job wait ${job.requestId}\` sends it again`,
      { details: { requestId: job.requestId, results: outcome.results } },
    );
}
