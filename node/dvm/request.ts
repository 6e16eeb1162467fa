import type { z } from 'zod';
import { DVM_ERRORS, dvmError } from './errors.js';
import {
  baseOf,
  checkSignedEvent,
  KIND_JOB_REQUEST,
  type NostrEvent,
  type ParsedEventBase,
  signEvent,
  type Tag,
} from './event.js';
import {
  decryptJobInputs,
  encryptJobInputs,
  inputTags,
  type JobInput,
  type JobInputs,
  type JobParam,
  readInputs,
} from './inputs.js';
import { Hex64, Mime, Msats, oneOf, RelayUrl, Seconds, SemVer, Sha256, TagReader } from './tags.js';

/** Backends a customer may ask for; `any` leaves the choice to the provider. */
export const ZkvmChoice = oneOf(['miden', 'risc-zero', 'sp1', 'any']);
export type ZkvmChoice = z.infer<typeof ZkvmChoice>;

/** The `i` marker of the execution plan input. */
export const PLAN_MARKER = 'plan';
/** The `param` that pins the hash of a plan sent by reference. */
export const PLAN_HASH_PARAM = 'plan-hash';
/** The seed design's default when a request has no `max-proving-time` tag. */
export const DEFAULT_MAX_PROVING_TIME_SEC = 300;

/**
 * The execution plan (YAML or JSON text, see zkvm/plan): inline as an `i` of type text, or by
 * reference as an `i` of type url plus `["param", "plan-hash", "sha256:…"]` so the provider can
 * check what it fetched. Both carry the marker `plan`.
 */
export type PlanInput =
  | { type: 'text'; text: string; planHash?: string | undefined }
  | { type: 'url'; url: string; planHash: string };

/** What may be private: the plan, the other inputs (data) and the params. */
export interface JobBody {
  plan: PlanInput;
  /** Inputs other than the plan, in tag order. */
  inputs: JobInput[];
  /** Params other than `plan-hash`, in tag order. */
  params: JobParam[];
}

/** The clear part of a request, what a provider reads before deciding. */
export interface JobRequestFields {
  backend: ZkvmChoice;
  minProgramVersion?: string | undefined;
  maxProvingTimeSec?: number | undefined;
  bidMsats: bigint;
  /** Expected output MIME type. */
  output?: string | undefined;
  /** Relays where the provider should publish its feedback and result. */
  relays: string[];
  /** Providers the customer addresses (`p` tags); exactly one when encrypted. */
  providers: string[];
}

export type JobRequest = ParsedEventBase &
  JobRequestFields &
  ({ encrypted: false; body: JobBody } | { encrypted: true; body: undefined; ciphertext: string });

export interface JobRequestInput extends JobRequestFields {
  body: JobBody;
  /** Move the `i` and `param` tags into NIP-44 content for the single provider. */
  encrypt?: boolean | undefined;
  createdAt?: number | undefined;
}

/** The ZK requirements a provider checks before accepting (defaults applied). */
export interface ZkRequirements {
  verification: 'zk';
  backend: ZkvmChoice;
  /** Lowest acceptable program version; undefined accepts any. */
  minProgramVersion: string | undefined;
  maxProvingTimeSec: number;
  bidMsats: bigint;
}

const EX = {
  verification: '["verification", "zk"]',
  zkvm: '["zkvm", "miden|risc-zero|sp1|any"]',
  minVersion: '["min-program-version", "1.0.0"]',
  maxTime: '["max-proving-time", "<seconds>"]',
  bid: '["bid", "<millisats>"]',
  output: '["output", "application/json"]',
  relays: '["relays", "wss://…"]',
  plan: '["i", "<plan YAML/JSON>", "text", "", "plan"]',
  planHash: '["param", "plan-hash", "sha256:<64 hex>"]',
  p: '["p", "<provider pubkey>"]',
};

/** The body as NIP-90 tags: the plan input first, then the data inputs and params. */
export function bodyInputs(body: JobBody): JobInputs {
  const { plan } = body;
  const planInput: JobInput =
    plan.type === 'text'
      ? { data: plan.text, type: 'text', marker: PLAN_MARKER }
      : { data: plan.url, type: 'url', marker: PLAN_MARKER };
  const planHash =
    plan.planHash === undefined ? [] : [{ name: PLAN_HASH_PARAM, value: plan.planHash }];
  return { inputs: [planInput, ...body.inputs], params: [...planHash, ...body.params] };
}

function bodyOf(reader: TagReader, all: JobInputs): JobBody {
  const plans = all.inputs.filter((input) => input.marker === PLAN_MARKER);
  const hashes = all.params.filter((param) => param.name === PLAN_HASH_PARAM);
  if (plans.length === 0) throw reader.missing('i', EX.plan, ' with marker "plan"');
  if (plans.length > 1)
    throw reader.bad('i', `with marker "plan" appears ${plans.length} times; send one plan`);
  if (hashes.length > 1)
    throw reader.bad('param', `"plan-hash" appears ${hashes.length} times; keep one`);
  const [plan] = plans as [JobInput];
  const hashParam = hashes[0];
  const planHash = hashParam?.value;
  if (planHash !== undefined && !Sha256.safeParse(planHash).success) {
    throw reader.bad(
      'param',
      `"plan-hash" must be "sha256:" and 64 lowercase hex, got "${planHash}"`,
    );
  }
  const inputs = all.inputs.filter((input) => input !== plan);
  const params = all.params.filter((param) => param !== hashParam);
  if (plan.type === 'text')
    return { plan: { type: 'text', text: plan.data, planHash }, inputs, params };
  if (plan.type === 'url') {
    if (planHash === undefined)
      throw reader.missing('param', EX.planHash, ' "plan-hash" (the plan is sent by url)');
    return { plan: { type: 'url', url: plan.data, planHash }, inputs, params };
  }
  throw reader.bad(
    'i',
    `with marker "plan" must have type text (inline) or url (reference), got "${plan.type}"`,
  );
}

function publicTags(fields: JobRequestFields): Tag[] {
  const tags: Tag[] = [
    ['verification', 'zk'],
    ['zkvm', fields.backend],
  ];
  if (fields.minProgramVersion !== undefined)
    tags.push(['min-program-version', fields.minProgramVersion]);
  if (fields.maxProvingTimeSec !== undefined)
    tags.push(['max-proving-time', String(fields.maxProvingTimeSec)]);
  tags.push(['bid', fields.bidMsats.toString()]);
  if (fields.output !== undefined) tags.push(['output', fields.output]);
  if (fields.relays.length > 0) tags.push(['relays', ...fields.relays]);
  for (const provider of fields.providers) tags.push(['p', provider]);
  return tags;
}

/** Builds and signs a kind 5900 request; the result always passes parseJobRequest. */
export function buildJobRequest(input: JobRequestInput, customerSecretKey: Uint8Array): NostrEvent {
  const tags = publicTags(input);
  const bodyTags = inputTags(bodyInputs(input.body));
  let content = '';
  if (input.encrypt === true) {
    const [provider] = input.providers;
    if (input.providers.length !== 1 || provider === undefined) {
      throw dvmError(
        DVM_ERRORS.badTag,
        `an encrypted job request names exactly one provider (its p tag), got ${input.providers.length}; pass one providers entry`,
        { tag: 'p' },
      );
    }
    content = encryptJobInputs(bodyInputs(input.body), customerSecretKey, provider);
    tags.push(['encrypted']);
  } else {
    tags.push(...bodyTags);
  }
  const event = signEvent(KIND_JOB_REQUEST, tags, content, customerSecretKey, input.createdAt);
  parseJobRequest(event);
  // The sealed body is checked here too, so the provider never receives one it must refuse.
  if (input.encrypt === true)
    bodyOf(new TagReader(event, bodyTags), readInputs(new TagReader(event, bodyTags)));
  return event;
}

/** Verifies and reads a kind 5900 request. Encrypted inputs stay sealed (see jobBodyOf). */
export function parseJobRequest(value: unknown): JobRequest {
  const event = checkSignedEvent(value, KIND_JOB_REQUEST);
  const r = new TagReader(event);
  const verification = r.required('verification', EX.verification);
  if (verification[1] !== 'zk') {
    throw r.bad(
      'verification',
      `must be "zk" (this market pays only on a verified proof), got "${verification[1] ?? ''}"`,
    );
  }
  const relaysTag = r.optional('relays', EX.relays);
  if (relaysTag !== undefined && relaysTag.length < 2)
    throw r.bad('relays', 'lists no relay; add at least one wss:// URL or drop the tag');
  const minVersion = r.optional('min-program-version', EX.minVersion);
  const maxTime = r.optional('max-proving-time', EX.maxTime);
  const output = r.optional('output', EX.output);
  const fields: JobRequestFields = {
    backend: r.field(r.required('zkvm', EX.zkvm), 1, ZkvmChoice),
    minProgramVersion: minVersion && r.field(minVersion, 1, SemVer),
    maxProvingTimeSec: maxTime && r.field(maxTime, 1, Seconds),
    bidMsats: r.field(r.required('bid', EX.bid), 1, Msats),
    output: output && r.field(output, 1, Mime),
    relays:
      relaysTag === undefined
        ? []
        : relaysTag.slice(1).map((_, i) => r.field(relaysTag, i + 1, RelayUrl)),
    providers: r.all('p').map((tag) => r.field(tag, 1, Hex64)),
  };
  const base = { ...baseOf(event), ...fields };
  if (r.all('encrypted').length === 0) {
    return { ...base, encrypted: false, body: bodyOf(r, readInputs(r)) };
  }
  for (const name of ['i', 'param']) {
    if (r.all(name).length > 0) {
      throw r.bad(
        name,
        'is in clear on an encrypted request; put every i and param tag in the encrypted content',
      );
    }
  }
  if (fields.providers.length === 0)
    throw r.missing('p', EX.p, ' (an encrypted request names its provider)');
  if (fields.providers.length > 1) {
    throw r.bad(
      'p',
      `appears ${fields.providers.length} times on an encrypted request; the inputs are encrypted for one provider only`,
    );
  }
  if (event.content === '') {
    throw dvmError(
      DVM_ERRORS.badContent,
      `${r.what}: has ["encrypted"] but empty content; put the NIP-44 encrypted i/param tags in content`,
      { eventId: event.id },
    );
  }
  return { ...base, encrypted: true, body: undefined, ciphertext: event.content };
}

/** The plan, inputs and params: read from the tags, or decrypted with the provider's key. */
export function jobBodyOf(request: JobRequest, providerSecretKey?: Uint8Array): JobBody {
  if (!request.encrypted) return request.body;
  if (providerSecretKey === undefined) {
    throw dvmError(
      DVM_ERRORS.decryptFailed,
      `job request ${request.id}: its inputs are encrypted; pass the secret key of provider ${request.providers[0]}`,
      { eventId: request.id },
    );
  }
  const event = request.event;
  return bodyOf(new TagReader(event, []), decryptJobInputs(event, providerSecretKey));
}

/** The ZK requirements of a request, for the provider's accept/refuse decision. */
export function requirementsOf(request: JobRequest | NostrEvent): ZkRequirements {
  const parsed = 'bidMsats' in request ? request : parseJobRequest(request);
  return {
    verification: 'zk',
    backend: parsed.backend,
    minProgramVersion: parsed.minProgramVersion,
    maxProvingTimeSec: parsed.maxProvingTimeSec ?? DEFAULT_MAX_PROVING_TIME_SEC,
    bidMsats: parsed.bidMsats,
  };
}
