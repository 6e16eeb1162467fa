import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import { z } from 'zod';
import { fetchStoredEvents } from '../node/customer/follow.js';
import { type CustomerJob, CustomerStore } from '../node/customer/store.js';
import { type JobVerdict, verifyJobResult } from '../node/customer/verify.js';
import { KIND_JOB_RESULT, type NostrEvent } from '../node/dvm/event.js';
import { parseJobResult } from '../node/dvm/result.js';
import { readFileBytes, readText } from '../node/files.js';
import { normalizeJobData } from '../node/market/data-input.js';
import { parseSecretKey } from '../node/market/keyfile.js';
import { RelayPool } from '../node/nostr/pool.js';
import { isM2mError, M2mError } from '../zkvm/errors.js';
import type { CanonicalRecord } from '../zkvm/exec/values.js';
import { assertValidPlan } from '../zkvm/plan/validate.js';
import { planDataRootPoseidon, planOutputHashPoseidon } from '../zkvm/plan-proof/commitments.js';
import { MAX_PROOF_BYTES, type ProofEnvelope, readEnvelope } from '../zkvm/proof/envelope.js';
import { ProgramRegistry } from '../zkvm/registry/registry.js';
import { ZKVerifier } from '../zkvm/verifier/verifier.js';
import type { SkillContext } from './context.js';
import { readDataArgument, readPlanArgument } from './inputs.js';
import { RelayUrls } from './request-zk-job.js';
import type { Skill } from './skill.js';

const HEX64 = /^[0-9a-f]{64}$/;
const SHA256 = /^sha256:[0-9a-f]{64}$/;
const DIGEST = /^[a-z0-9]+:[0-9a-f]+$/;
/** A proof fetched by URL may be this much larger than the proof bytes (the envelope header). */
const MAX_ENVELOPE_BYTES = MAX_PROOF_BYTES + 1024 * 1024;
const FETCH_TIMEOUT_MS = 30_000;

export const VerifyProofParams = z
  .object({
    jobResultEventId: z
      .string()
      .regex(HEX64, 'an event id: 64 lowercase hex characters')
      .optional()
      .describe(
        'a kind 6900 job result: fetched from the relays and verified against the job saved by request_zk_job (or against plan and data)',
      ),
    proofRef: z
      .string()
      .min(1)
      .optional()
      .describe(
        'a proof envelope (binary M2MPROOF or JSON): a file path, a file:// URL or an http(s) URL',
      ),
    plan: z
      .string()
      .min(1)
      .optional()
      .describe(
        'the agreed plan (YAML/JSON text or a path): the proof must be for its plan hash and job hash',
      ),
    data: z
      .union([z.record(z.string(), z.unknown()), z.array(z.unknown()), z.string().min(1)])
      .optional()
      .describe(
        'the input data (object, array, or JSON file path; needs plan): the proof must commit to it',
      ),
    output: z
      .array(z.record(z.string(), z.unknown()))
      .optional()
      .describe(
        'with proofRef: delivered output records (needs plan); the proof must state their hash',
      ),
    expectedPlanHash: z.string().regex(SHA256, 'sha256:<64 hex>').optional(),
    expectedJobHash: z
      .string()
      .regex(SHA256, 'sha256:<64 hex>')
      .optional()
      .describe("the plan's jobRequestHash"),
    expectedDataRoot: z
      .string()
      .regex(DIGEST, '<scheme>:<hex>')
      .optional()
      .describe('the Poseidon2 data root, instead of data'),
    expectedOutputHash: z.string().regex(DIGEST, '<scheme>:<hex>').optional(),
    minProgramVersion: z
      .string()
      .refine((v) => semver.valid(v) === v, 'a semantic version such as 0.2.0')
      .optional(),
    relays: RelayUrls.optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    const fail = (message: string, path: string[] = []) =>
      ctx.addIssue({ code: 'custom', message, path });
    if ((p.jobResultEventId === undefined) === (p.proofRef === undefined))
      fail('give exactly one of jobResultEventId and proofRef');
    if ((p.data !== undefined || p.output !== undefined) && p.plan === undefined)
      fail('data and output need plan', ['plan']);
    if (
      p.proofRef !== undefined &&
      p.plan === undefined &&
      p.expectedPlanHash === undefined &&
      p.expectedJobHash === undefined
    )
      fail(
        'a proofRef is checked against what you expect: give plan, expectedPlanHash or expectedJobHash',
        ['plan'],
      );
    if (p.jobResultEventId !== undefined && p.output !== undefined)
      fail('output comes with the job result; give it only with proofRef', ['output']);
  });

export type VerifyProofParams = z.output<typeof VerifyProofParams>;

export interface VerifyProofResult {
  valid: boolean;
  /** Stable code of the first failed check (absent when valid). */
  code?: string;
  reason?: string;
  source: 'job-result' | 'proof-ref';
  outputHash?: string;
  programId?: string;
  proofHash?: string;
  backend?: string;
  planHash?: string;
  dataRoot?: string;
  /** Prover figures as claimed by the proof (time, cycles, memory). */
  metadata?: Partial<ProofEnvelope['metadata']>;
  /** Time spent verifying here. */
  verifyMs: number;
  /** Job results: the job, the result event, its provider, and the delivered output when valid. */
  requestId?: string;
  resultId?: string;
  provider?: string;
  output?: unknown;
  /** Proof refs: the expectations that were checked besides the proof itself. */
  checked?: string[];
}

/** Verifies a job result (kind 6900) or a proof envelope file against what the caller expects. */
export const verifyProof: Skill<VerifyProofParams, VerifyProofResult> = {
  name: 'verify_proof',
  description:
    'Verify a zero-knowledge proof before trusting a result: either a kind 6900 job result by event id (fetched from the relays, checked against the job request_zk_job saved, or against plan and data), or a proof envelope by path/URL against an expected plan, job hash, data and output. Returns valid with a code and reason when it is not.',
  parameters: VerifyProofParams,
  run: (params, context) =>
    params.jobResultEventId === undefined
      ? verifyProofRef(params, context)
      : verifyJobResultEvent(params, params.jobResultEventId, context),
};

async function verifyJobResultEvent(
  params: VerifyProofParams,
  eventId: string,
  context: SkillContext,
): Promise<VerifyProofResult> {
  const relays = params.relays ?? context.relays;
  const pool = new RelayPool(relays);
  let event: NostrEvent | undefined;
  try {
    event = await fetchEvent(pool, eventId);
  } finally {
    pool.close();
  }
  if (event === undefined)
    throw new M2mError(
      'RESULT_NOT_FOUND',
      `no job result (kind ${KIND_JOB_RESULT}) ${eventId} on ${relays.join(', ')}; check the id, or pass the relays it was published to`,
      { details: { eventId, relays } },
    );
  const requestId = event.tags.find((t) => t[0] === 'e')?.[1];
  const store = new CustomerStore(join(context.dataDir, 'jobs.db'));
  try {
    const stored =
      params.plan === undefined && requestId !== undefined ? store.get(requestId) : undefined;
    let job: CustomerJob;
    if (stored !== undefined) job = stored;
    else {
      const fromParams = jobFromParams(params, event, context);
      if ('verdict' in fromParams) return fromParams.verdict;
      job = fromParams.job;
    }
    const verdict = await verifyJobResult(job, event, job.encrypted ? readKey(context) : undefined);
    if (stored !== undefined) {
      const { output: _output, ...summary } = verdict;
      store.recordVerdict(job.requestId, summary);
    }
    return fromJobVerdict(verdict);
  } finally {
    store.close();
  }
}

/** The job a result answers, from the request it embeds and the plan and data in the params. */
function jobFromParams(
  params: VerifyProofParams,
  event: NostrEvent,
  context: SkillContext,
): { job: CustomerJob } | { verdict: VerifyProofResult } {
  if (params.plan === undefined)
    throw new M2mError(
      'JOB_UNKNOWN',
      `result ${event.id} answers a job that is not in ${join(context.dataDir, 'jobs.db')}; pass plan and data (or expectedDataRoot) to verify it, or the --data-dir of the customer who requested it`,
    );
  let request: ReturnType<typeof parseJobResult>['request'];
  try {
    request = parseJobResult(event).request;
  } catch (error) {
    if (!isM2mError(error)) throw error;
    return {
      verdict: {
        valid: false,
        code: 'RESULT_MALFORMED',
        reason: `${error.code}: ${error.message}`,
        source: 'job-result',
        resultId: event.id,
        provider: event.pubkey,
        verifyMs: 0,
      },
    };
  }
  const { planText, planSource } = readPlanArgument(params.plan, context.cwd, 'plan');
  const validated = assertValidPlan(planText, { file: planSource });
  let dataRoot = params.expectedDataRoot;
  let data: unknown;
  if (params.data !== undefined) {
    const normalized = normalizeJobData(
      readDataArgument(params.data, context.cwd),
      validated.plan,
      'data',
    );
    data = normalized;
    const computed = planDataRootPoseidon(validated.plan, normalized);
    if (dataRoot !== undefined && dataRoot !== computed)
      throw new M2mError(
        'SKILL_PARAMS_INVALID',
        `expectedDataRoot ${dataRoot} is not the data root of data (${computed}); give one of them`,
      );
    dataRoot = computed;
  }
  if (dataRoot === undefined)
    throw new M2mError(
      'SKILL_PARAMS_INVALID',
      'verify_proof: to verify a result of a job that is not saved here, give plan and data (or expectedDataRoot)',
    );
  return {
    job: {
      requestId: request.id,
      customer: request.pubkey,
      request: request.event,
      planText,
      data,
      relays: params.relays ?? context.relays,
      providers: request.providers,
      backend: request.backend,
      minProgramVersion: params.minProgramVersion ?? request.minProgramVersion,
      encrypted: request.encrypted,
      planHash: validated.planHash,
      jobRequestHash: validated.plan.jobRequestHash,
      dataRoot,
      createdAt: request.createdAt * 1000,
      publishedAt: undefined,
      verdict: undefined,
    },
  };
}

/** The customer key for a private job's output; absent means verifyJobResult says KEY_REQUIRED. */
function readKey(context: SkillContext): Uint8Array | undefined {
  if (!existsSync(context.keyFile)) return undefined;
  return parseSecretKey(readText(context.keyFile), context.keyFile);
}

function fromJobVerdict(verdict: JobVerdict): VerifyProofResult {
  const metadata: Partial<ProofEnvelope['metadata']> = {};
  if (verdict.provingTimeMs !== undefined) metadata.provingTimeMs = verdict.provingTimeMs;
  if (verdict.cyclesUsed !== undefined) metadata.cyclesUsed = verdict.cyclesUsed;
  return {
    valid: verdict.valid,
    ...(verdict.code === undefined ? {} : { code: verdict.code, reason: verdict.reason }),
    source: 'job-result',
    outputHash: verdict.outputHash,
    programId: verdict.programId,
    proofHash: verdict.proofHash,
    backend: verdict.backend,
    planHash: verdict.planHash,
    dataRoot: verdict.dataRoot,
    metadata,
    verifyMs: verdict.verifyMs,
    requestId: verdict.requestId,
    resultId: verdict.resultId,
    provider: verdict.provider,
    ...(verdict.valid ? { output: verdict.output } : {}),
  };
}

/** The event with this id (kind 6900) the relays hold, or undefined after every EOSE. */
async function fetchEvent(pool: RelayPool, id: string): Promise<NostrEvent | undefined> {
  const [found] = await fetchStoredEvents(
    pool,
    [{ ids: [id], kinds: [KIND_JOB_RESULT] }],
    'pass relays',
  );
  return found;
}

async function readProofBytes(ref: string, cwd: string): Promise<Uint8Array> {
  if (/^https?:\/\//i.test(ref)) {
    let response: Response;
    try {
      response = await fetch(ref, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    } catch (cause) {
      throw new M2mError('PROOF_FETCH_FAILED', `cannot fetch ${ref}: ${(cause as Error).message}`, {
        cause,
      });
    }
    if (!response.ok)
      throw new M2mError('PROOF_FETCH_FAILED', `cannot fetch ${ref}: HTTP ${response.status}`);
    const length = Number(response.headers.get('content-length') ?? 0);
    if (length > MAX_ENVELOPE_BYTES)
      throw new M2mError(
        'PROOF_TOO_LARGE',
        `${ref} is ${length} bytes, more than ${MAX_ENVELOPE_BYTES}`,
      );
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.length > MAX_ENVELOPE_BYTES)
      throw new M2mError(
        'PROOF_TOO_LARGE',
        `${ref} is ${bytes.length} bytes, more than ${MAX_ENVELOPE_BYTES}`,
      );
    return bytes;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(ref) && !ref.startsWith('file://'))
    throw new M2mError(
      'PROOF_REF_UNSUPPORTED',
      `${ref}: only file paths, file:// and http(s) URLs are fetched (Blossom over https works, ipfs:// is not built yet)`,
    );
  const path = ref.startsWith('file://') ? fileURLToPath(ref) : resolve(cwd, ref);
  return readFileBytes(path);
}

async function verifyProofRef(
  params: VerifyProofParams,
  context: SkillContext,
): Promise<VerifyProofResult> {
  const ref = params.proofRef as string;
  const bytes = await readProofBytes(ref, context.cwd);
  const started = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - started) / 1e6;

  // What the caller expects, from the plan (and data, output) and the explicit hashes.
  let planHash = params.expectedPlanHash;
  let jobHash = params.expectedJobHash;
  let dataRoot = params.expectedDataRoot;
  let outputHash = params.expectedOutputHash;
  if (params.plan !== undefined) {
    const { planText, planSource } = readPlanArgument(params.plan, context.cwd, 'plan');
    const validated = assertValidPlan(planText, { file: planSource });
    const agree = (name: string, given: string | undefined, computed: string): string => {
      if (given !== undefined && given !== computed)
        throw new M2mError(
          'SKILL_PARAMS_INVALID',
          `${name} ${given} differs from the one computed from the given plan (${computed}); give one of them`,
        );
      return computed;
    };
    planHash = agree('expectedPlanHash', planHash, validated.planHash);
    jobHash = agree('expectedJobHash', jobHash, validated.plan.jobRequestHash);
    if (params.data !== undefined) {
      const data = normalizeJobData(
        readDataArgument(params.data, context.cwd),
        validated.plan,
        'data',
      );
      dataRoot = agree('expectedDataRoot', dataRoot, planDataRootPoseidon(validated.plan, data));
    }
    if (params.output !== undefined)
      outputHash = agree(
        'expectedOutputHash',
        outputHash,
        planOutputHashPoseidon(
          validated.plan,
          validated.planHash,
          params.output as CanonicalRecord[],
        ),
      );
  }
  const checked = Object.entries({ planHash, jobHash, dataRoot, outputHash })
    .filter(([, v]) => v !== undefined)
    .map(([k]) => k);

  let envelope: ProofEnvelope;
  try {
    envelope = readEnvelope(bytes);
  } catch (error) {
    // A damaged or tampered envelope (bad magic, header, or proof bytes that do not hash to the
    // stated proofHash) is a verdict, not an error.
    if (!isM2mError(error)) throw error;
    return {
      valid: false,
      code: error.code,
      reason: error.message,
      source: 'proof-ref',
      verifyMs: elapsed(),
      checked,
    };
  }
  const registry = new ProgramRegistry();
  try {
    const verifier = new ZKVerifier(
      registry,
      params.minProgramVersion === undefined ? {} : { minProgramVersion: params.minProgramVersion },
    );
    const verdict = await verifier.verify(envelope, {
      kind: 'plan',
      // With only a plan hash expected, the envelope's job hash is checked against the plan the
      // proof carries (which hashes to that plan hash) by the plan verifier.
      jobRequestHash: jobHash ?? envelope.publicInputs.jobRequestHash ?? '',
      ...(planHash === undefined ? {} : { planHash }),
      ...(dataRoot === undefined ? {} : { dataRoot }),
      ...(outputHash === undefined ? {} : { outputHash }),
    });
    return {
      valid: verdict.valid,
      ...(verdict.valid ? {} : { code: verdict.code ?? 'PROOF_INVALID', reason: verdict.reason }),
      source: 'proof-ref',
      outputHash: verdict.outputHash ?? envelope.publicOutputs.outputHash,
      programId: envelope.programId,
      proofHash: envelope.proofHash,
      backend: envelope.backend,
      planHash: envelope.publicInputs.planHash,
      dataRoot: envelope.publicInputs.dataRoot,
      metadata: envelope.metadata,
      verifyMs: elapsed(),
      checked,
    };
  } finally {
    registry.close();
  }
}
