/**
 * The embedded VES sequencer: node:http, routes under `/api` (the OpenAPI `servers` base path),
 * `/health`, `/ready` and `/metrics` also at the root. Every failure is an `ApiError` body; a
 * handler error never takes the server down, and nothing is written before a batch validates.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { ed25519 } from '@noble/curves/ed25519.js';
import { z } from 'zod';
import { M2mError } from '../../zkvm/errors.js';
import { verifyKeyRegistration } from '../ves/sign.js';
import { RegisterAgentKeyRequest } from '../ves/types.js';
import {
  commitmentJson,
  createCommitment,
  inclusionProof,
  verifyProofRequest,
} from './commitments.js';
import {
  complianceInputs,
  proofSummaryJson,
  submitComplianceProof,
  verifyStoredProof,
} from './compliance-proofs.js';
import { ed25519NativeSigner } from './ed25519-native.js';
import { ApiFailure, intParam, readJson, sendFailure, sendJson, uuidParam } from './http.js';
import { ingestVesBatch, keyProblem, sequencedEventJson } from './ingest.js';
import { SequencerMetrics } from './metrics.js';
import { PostgresSequencerStore } from './postgres-store.js';
import { SqliteSequencerStore } from './sqlite-store.js';
import type { CommitmentRecord, SequencerStore } from './store.js';
import { startEd25519Pool } from './verify-pool.js';

export const SEQUENCER_VERSION = '0.1.0';

export type StoreConfig =
  | { kind: 'sqlite'; path: string }
  | { kind: 'postgres'; url: string; poolSize?: number };

export interface SequencerOptions {
  host?: string;
  port?: number;
  store: StoreConfig;
  /** Accepted `X-API-Key` values (or `Authorization: Bearer <key>`); empty = no auth. */
  apiKeys?: readonly string[];
  limits?: { maxBatch?: number; maxPayloadBytes?: number };
  /** Worker threads verifying agent signatures; 0 = inline (default: cores, at most 4). */
  verifyThreads?: number;
  /** 32-byte Ed25519 seed signing receipts; a fresh one when absent. */
  sequencerKey?: Uint8Array;
  sequencerId?: string;
  log?: (line: string) => void;
}

export interface RunningSequencer {
  /** Base URL including `/api`, e.g. http://127.0.0.1:8080/api */
  url: string;
  /** Origin without the base path (for /health, /ready, /metrics). */
  origin: string;
  sequencerId: string;
  sequencerPublicKey: Uint8Array;
  store: SequencerStore;
  close(): Promise<void>;
}

export const DEFAULT_LIMITS = { maxBatch: 1000, maxPayloadBytes: 256 * 1024 };

/** Endpoints of the OpenAPI file this sequencer does not serve: answered 501 with an ApiError. */
const NOT_IMPLEMENTED: [string, RegExp][] = [
  ['POST', /^\/v1\/events\/ingest$/],
  ['POST', /^\/v1\/ves\/commitments\/anchor$/],
  ['GET', /^\/v1\/ves\/validity\/[^/]+\/(inputs|proofs)$/],
  ['POST', /^\/v1\/ves\/validity\/[^/]+\/proofs$/],
  ['POST', /^\/v1\/ves\/anchor$/],
  ['GET', /^\/v1\/ves\/anchor\/[^/]+\/verify$/],
  ['GET', /^\/v1\/commitments$/],
  ['POST', /^\/v1\/commitments$/],
  ['GET', /^\/v1\/schemas(\/[^/]+)?$/],
  ['POST', /^\/v1\/schemas(\/validate)?$/],
  ['DELETE', /^\/v1\/schemas\/[^/]+$/],
  ['GET', /^\/v1\/admin\/(overview|tenants|stores|agents)$/],
];

type Handler = (
  req: IncomingMessage,
  url: URL,
  params: string[],
) => Promise<{ status: number; body: unknown }>;

interface Route {
  method: string;
  pattern: RegExp;
  name: string;
  auth: boolean;
  handler: Handler;
}

async function openStore(config: StoreConfig): Promise<SequencerStore> {
  if (config.kind === 'sqlite') return new SqliteSequencerStore(config.path);
  return PostgresSequencerStore.open(config.url, config.poolSize ?? 10);
}

const AgentRegistration = z.object({
  name: z.string().min(1).max(128),
  description: z.string().max(1024).optional(),
  tenantId: z.unknown().optional(),
  admin: z.unknown().optional(),
});

export async function startSequencer(options: SequencerOptions): Promise<RunningSequencer> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  // Room for a full batch, but never more than 32 MiB held in memory per request.
  const maxBody = Math.min(
    limits.maxBatch * (limits.maxPayloadBytes + 4096) + 64 * 1024,
    32 * 1024 * 1024,
  );
  const store = await openStore(options.store);
  const seed = options.sequencerKey ?? ed25519.utils.randomSecretKey();
  const sequencerPublicKey = ed25519.getPublicKey(seed);
  const identity = {
    sequencerId: options.sequencerId ?? randomUUID(),
    sign: ed25519NativeSigner(seed),
  };
  const apiKeys = new Set(options.apiKeys ?? []);
  const metrics = new SequencerMetrics();
  const verifier = startEd25519Pool(
    options.verifyThreads ?? Math.min(4, Math.max(1, availableParallelism())),
    seed,
  );
  const log = options.log ?? (() => {});
  let closing = false;

  const streamOf = (url: URL) => ({
    tenantId: uuidParam(url.searchParams.get('tenant_id'), 'tenant_id'),
    storeId: uuidParam(url.searchParams.get('store_id'), 'store_id'),
  });

  const eventOr404 = async (eventId: string) => {
    const event = await store.eventById(eventId);
    if (event === undefined)
      throw new ApiFailure('EVENT_NOT_FOUND', `no sequenced event ${eventId}`, {
        reason: 'event_not_found',
      });
    return event;
  };

  const routes: Route[] = [];
  const route = (method: string, path: string, name: string, handler: Handler, auth = true) =>
    routes.push({
      method,
      pattern: new RegExp(`^${path.replace(/\{[^}]+\}/g, '([^/]+)')}$`),
      name,
      auth,
      handler,
    });

  route(
    'GET',
    '/health',
    'health',
    async () => ({
      status: 200,
      body: { status: 'healthy', service: 'm2m-sequencer', version: SEQUENCER_VERSION },
    }),
    false,
  );
  route(
    'GET',
    '/ready',
    'ready',
    async () => {
      try {
        await store.ping();
        return { status: 200, body: { status: 'ready', database: 'connected' } };
      } catch {
        return { status: 503, body: { status: 'not_ready', database: 'disconnected' } };
      }
    },
    false,
  );
  route('GET', '/metrics', 'metrics', async () => ({ status: 200, body: metrics.render() }));

  route('POST', '/v1/ves/events/ingest', 'ingest', async (req) => {
    const started = process.hrtime.bigint();
    const body = await readJson(req, maxBody);
    const result = await ingestVesBatch(body, store, limits, identity, metrics, verifier);
    metrics.batchIngested(Number(process.hrtime.bigint() - started) / 1e9);
    return { status: 200, body: result };
  });

  const head = async (url: URL) => {
    const { tenantId, storeId } = streamOf(url);
    return { status: 200, body: { head_sequence: await store.head(tenantId, storeId) } };
  };
  route('GET', '/v1/head', 'head', async (_req, url) => head(url));
  route('GET', '/v1/ves/head', 'head', async (_req, url) => head(url));

  route('GET', '/v1/events', 'events', async (_req, url) => {
    const { tenantId, storeId } = streamOf(url);
    const from = intParam(url.searchParams.get('from'), 'from', 1);
    const limit = Math.min(
      1000,
      Math.max(1, intParam(url.searchParams.get('limit'), 'limit', 100)),
    );
    const events = await store.events(tenantId, storeId, Math.max(from, 1), limit);
    return { status: 200, body: events.map((e) => sequencedEventJson(e, identity)) };
  });
  route('GET', '/v1/ves/events', 'events', async (_req, url) => {
    const { tenantId, storeId } = streamOf(url);
    const from = Math.max(1, intParam(url.searchParams.get('from'), 'from', 1));
    const limit = intParam(url.searchParams.get('limit'), 'limit', 100);
    if (limit === 0)
      throw new ApiFailure('INVALID_FIELD_VALUE', 'limit must be greater than 0', {
        reason: 'invalid_limit',
      });
    const events = await store.events(tenantId, storeId, from, Math.min(limit, 1000));
    const headSequence = await store.head(tenantId, storeId);
    const next = events.length === 0 ? from : (events.at(-1)?.sequenceNumber ?? from) + 1;
    return {
      status: 200,
      body: {
        events: events.map((e) => sequencedEventJson(e, identity)),
        count: events.length,
        next_sequence: next,
        head_sequence: headSequence,
        has_more: next <= headSequence,
      },
    };
  });
  const history: Handler = async (_req, url, [type, id]) => {
    const decode = (text: string | undefined) => {
      try {
        return decodeURIComponent(text ?? '');
      } catch {
        throw new ApiFailure('INVALID_FIELD_VALUE', 'entity path is not valid percent-encoding', {
          reason: 'invalid_entity',
        });
      }
    };
    const entityType = decode(type);
    const entityId = decode(id);
    if (
      entityType.length === 0 ||
      entityType.length > 64 ||
      entityId.length === 0 ||
      entityId.length > 256
    )
      throw new ApiFailure(
        'INVALID_FIELD_VALUE',
        'entity_type must be 1..64 and entity_id 1..256 characters',
        {
          reason: 'invalid_entity',
        },
      );
    const { tenantId, storeId } = streamOf(url);
    const offset = intParam(url.searchParams.get('from'), 'from', 0);
    const requested = intParam(url.searchParams.get('limit'), 'limit', 1000);
    const limit = requested === 0 ? 1000 : Math.min(requested, 1000);
    const page = await store.entityHistory(tenantId, storeId, entityType, entityId, offset, limit);
    return {
      status: 200,
      body: {
        entity_type: entityType,
        entity_id: entityId,
        events: page.events.map((e) => sequencedEventJson(e, identity)),
        count: page.events.length,
        total: page.total,
        current_version: page.total,
        has_more: offset + page.events.length < page.total,
      },
    };
  };
  route('GET', '/v1/ves/entities/{type}/{id}', 'entity_history', history);
  route('GET', '/v1/entities/{type}/{id}', 'entity_history', history);

  // Agent keys: register with proof of possession, list, revoke.
  route('POST', '/v1/agents/keys', 'agent_keys_register', async (req) => {
    const body = await readJson(req, 64 * 1024);
    const parsed = RegisterAgentKeyRequest.safeParse(body);
    if (!parsed.success)
      throw new ApiFailure(
        'INVALID_FIELD_VALUE',
        `invalid key registration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        {
          reason: parsed.error.issues.some((i) => i.message.includes('UUID'))
            ? 'malformed_uuid'
            : 'invalid_key_registration',
        },
      );
    const r = parsed.data;
    if (
      r.validFrom !== undefined &&
      r.validTo !== undefined &&
      Date.parse(r.validFrom) > Date.parse(r.validTo)
    )
      throw new ApiFailure('INVALID_FIELD_VALUE', 'validFrom must not be after validTo', {
        reason: 'invalid_validity_window',
      });
    if (!verifyKeyRegistration(r))
      throw new ApiFailure(
        'SIGNATURE_VERIFICATION_FAILED',
        'proofOfPossession is missing or not made by the key being registered',
        { reason: 'invalid_proof_of_possession' },
        422,
      );
    const publicKey = r.publicKey.replace(/^0x/i, '').toLowerCase();
    const tenantId = r.tenantId.toLowerCase();
    const agentId = r.agentId.toLowerCase();
    const outcome = await store.putAgentKey({
      tenantId,
      agentId,
      keyId: r.keyId,
      publicKey,
      status: 'active',
      validFrom: r.validFrom ?? null,
      validTo: r.validTo ?? null,
      revokedAt: null,
      createdAt: new Date().toISOString(),
    });
    if (outcome === 'exists') {
      const existing = await store.getAgentKey(tenantId, agentId, r.keyId);
      if (existing?.publicKey !== publicKey)
        throw new ApiFailure(
          'ALREADY_EXISTS',
          `key ${r.keyId} of agent ${agentId} is already registered with another public key`,
          { reason: 'key_id_taken' },
        );
    }
    const key = await store.getAgentKey(tenantId, agentId, r.keyId);
    return {
      status: 201,
      body: {
        agent_id: agentId,
        key_id: r.keyId,
        active: key !== undefined && keyProblem(key, Date.now()) === undefined,
      },
    };
  });
  const keyJson = (k: Awaited<ReturnType<SequencerStore['listAgentKeys']>>[number]) => ({
    tenant_id: k.tenantId,
    agent_id: k.agentId,
    key_id: k.keyId,
    public_key: `0x${k.publicKey}`,
    status: k.status,
    valid_from: k.validFrom,
    valid_to: k.validTo,
    revoked_at: k.revokedAt,
    created_at: k.createdAt,
    active: keyProblem(k, Date.now()) === undefined,
  });
  route('GET', '/v1/agents/{agent}/keys', 'agent_keys_list', async (_req, url, [agent]) => {
    const agentId = uuidParam(agent, 'agent_id');
    const tenantId = uuidParam(url.searchParams.get('tenant_id'), 'tenant_id');
    const keys = await store.listAgentKeys(tenantId, agentId);
    return {
      status: 200,
      body: { agent_id: agentId, keys: keys.map(keyJson), count: keys.length },
    };
  });
  route(
    'DELETE',
    '/v1/agents/{agent}/keys/{key}',
    'agent_keys_revoke',
    async (_req, url, [agent, key]) => {
      const agentId = uuidParam(agent, 'agent_id');
      const tenantId = uuidParam(url.searchParams.get('tenant_id'), 'tenant_id');
      const keyId = intParam(key, 'key_id');
      if (!(await store.revokeAgentKey(tenantId, agentId, keyId, new Date().toISOString())))
        throw new ApiFailure('AGENT_KEY_NOT_FOUND', `no key ${keyId} for agent ${agentId}`, {
          reason: 'key_not_found',
        });
      const revoked = await store.getAgentKey(tenantId, agentId, keyId);
      return { status: 200, body: revoked === undefined ? {} : keyJson(revoked) };
    },
  );
  route(
    'POST',
    '/v1/agents/register',
    'agents_register',
    async (req) => {
      const parsed = AgentRegistration.safeParse(await readJson(req, 64 * 1024));
      if (!parsed.success)
        throw new ApiFailure('INVALID_FIELD_VALUE', 'name is required (1..128 chars)', {
          reason: 'invalid_registration',
        });
      if (parsed.data.tenantId !== undefined || parsed.data.admin !== undefined)
        throw new ApiFailure(
          'INVALID_FIELD_VALUE',
          'tenantId and admin are not allowed for self-service registration',
          { reason: 'forbidden_field' },
          403,
        );
      throw new ApiFailure(
        'NOT_IMPLEMENTED',
        'self-service registration is disabled: this sequencer uses API keys given at start (--api-key)',
        { reason: 'registration_disabled' },
      );
    },
    false,
  );

  // Commitments and inclusion proofs.
  route('POST', '/v1/ves/commitments', 'commitments_create', async (req) => {
    const body = (await readJson(req, 64 * 1024)) as Record<string, unknown> | null;
    const tenantId = uuidParam(
      typeof body?.tenant_id === 'string' ? body.tenant_id : undefined,
      'tenant_id',
    );
    const storeId = uuidParam(
      typeof body?.store_id === 'string' ? body.store_id : undefined,
      'store_id',
    );
    const seq = (v: unknown, name: string) => {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
        throw new ApiFailure('INVALID_FIELD_VALUE', `${name} must be a non-negative integer`, {
          reason: 'invalid_range',
          field: name,
        });
      return v;
    };
    const c = await createCommitment(
      store,
      tenantId,
      storeId,
      seq(body?.sequence_start, 'sequence_start'),
      seq(body?.sequence_end, 'sequence_end'),
    );
    return { status: 201, body: commitmentJson(c) };
  });
  route('GET', '/v1/ves/commitments', 'commitments_list', async (_req, url) => {
    const { tenantId, storeId } = streamOf(url);
    return {
      status: 200,
      body: (await store.listCommitments(tenantId, storeId)).map(commitmentJson),
    };
  });
  route('GET', '/v1/ves/commitments/{batch}', 'commitments_get', async (_req, _url, [batch]) => {
    const batchId = uuidParam(batch, 'batch_id');
    const c = await store.getCommitment(batchId);
    if (c === undefined)
      throw new ApiFailure('BATCH_NOT_FOUND', `no commitment ${batchId}`, {
        reason: 'batch_not_found',
      });
    return { status: 200, body: commitmentJson(c) };
  });
  route(
    'POST',
    '/v1/ves/proofs/verify',
    'proofs_verify',
    async (req) => ({
      status: 200,
      body: verifyProofRequest(await readJson(req, 64 * 1024)),
    }),
    false,
  );
  route('GET', '/v1/ves/proofs/{seq}', 'proofs_get', async (_req, url, [seq]) => {
    const sequenceNumber = intParam(seq, 'sequence_number');
    const { tenantId, storeId } = streamOf(url);
    const batchParam = url.searchParams.get('batch_id');
    let commitment: CommitmentRecord | undefined;
    if (batchParam !== null) {
      commitment = await store.getCommitment(uuidParam(batchParam, 'batch_id'));
      if (
        commitment !== undefined &&
        (commitment.tenantId !== tenantId || commitment.storeId !== storeId)
      )
        commitment = undefined;
    } else {
      commitment = (await store.listCommitments(tenantId, storeId)).find(
        (c) => c.sequenceStart <= sequenceNumber && sequenceNumber <= c.sequenceEnd,
      );
    }
    if (commitment === undefined)
      throw new ApiFailure(
        'BATCH_NOT_FOUND',
        'no commitment of this stream covers that batch/sequence',
        { reason: 'batch_not_found' },
      );
    return { status: 200, body: await inclusionProof(store, commitment, sequenceNumber) };
  });

  // Compliance proofs (STARK backend of zkvm/compliance).
  route(
    'POST',
    '/v1/ves/compliance/{event}/inputs',
    'compliance_inputs',
    async (req, _url, [event]) => {
      const stored = await eventOr404(uuidParam(event, 'event_id'));
      return { status: 200, body: complianceInputs(stored, await readJson(req, 64 * 1024)) };
    },
  );
  route(
    'POST',
    '/v1/ves/compliance/{event}/proofs',
    'compliance_submit',
    async (req, _url, [event]) => {
      const stored = await eventOr404(uuidParam(event, 'event_id'));
      const record = await submitComplianceProof(
        store,
        stored,
        await readJson(req, 8 * 1024 * 1024),
      );
      return { status: 200, body: proofSummaryJson(record) };
    },
  );
  route(
    'GET',
    '/v1/ves/compliance/{event}/proofs',
    'compliance_list',
    async (_req, _url, [event]) => {
      const stored = await eventOr404(uuidParam(event, 'event_id'));
      const proofs = await store.listComplianceProofs(stored.eventId);
      return {
        status: 200,
        body: {
          event_id: stored.eventId,
          proofs: proofs.map((p) => proofSummaryJson(p)),
          count: proofs.length,
        },
      };
    },
  );
  const proofOr404 = async (id: string | undefined) => {
    const proofId = uuidParam(id, 'proof_id');
    const proof = await store.getComplianceProof(proofId);
    if (proof === undefined)
      throw new ApiFailure('RESOURCE_NOT_FOUND', `no compliance proof ${proofId}`, {
        reason: 'proof_not_found',
      });
    return proof;
  };
  route(
    'GET',
    '/v1/ves/compliance/proofs/{proof}',
    'compliance_get',
    async (_req, _url, [proof]) => ({
      status: 200,
      body: proofSummaryJson(await proofOr404(proof), true),
    }),
  );
  route(
    'GET',
    '/v1/ves/compliance/proofs/{proof}/verify',
    'compliance_verify',
    async (_req, _url, [proof]) => {
      const record = await proofOr404(proof);
      return {
        status: 200,
        body: await verifyStoredProof(record, await eventOr404(record.eventId)),
      };
    },
  );

  const authorized = (req: IncomingMessage): boolean => {
    if (apiKeys.size === 0) return true;
    const header = req.headers['x-api-key'];
    const key = Array.isArray(header) ? header[0] : header;
    if (key !== undefined && apiKeys.has(key)) return true;
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    return bearer?.[1] !== undefined && apiKeys.has(bearer[1]);
  };

  const dispatch = async (req: IncomingMessage, res: ServerResponse) => {
    const requestId = randomUUID();
    let routeName = 'unknown';
    const reply = (status: number, body: unknown) => {
      metrics.request(routeName, status);
      if (typeof body === 'string') {
        res.writeHead(status, {
          'content-type': 'text/plain; version=0.0.4',
          'content-length': Buffer.byteLength(body),
        });
        res.end(body);
      } else sendJson(res, status, body, { 'x-request-id': requestId });
    };
    try {
      const url = new URL(req.url ?? '/', 'http://sequencer');
      const path = url.pathname.startsWith('/api/') ? url.pathname.slice(4) : url.pathname;
      const atRoot = !url.pathname.startsWith('/api/');
      const method = req.method ?? 'GET';
      let pathMatched = false;
      for (const r of routes) {
        const m = r.pattern.exec(path);
        if (m === null) continue;
        if (atRoot && !['health', 'ready', 'metrics'].includes(r.name)) continue;
        pathMatched = true;
        if (r.method !== method) continue;
        routeName = r.name;
        if (r.auth && !authorized(req)) {
          const missing =
            req.headers['x-api-key'] === undefined && req.headers.authorization === undefined;
          metrics.rejected(missing ? 'auth_required' : 'invalid_api_key');
          throw missing
            ? new ApiFailure('AUTH_REQUIRED', 'send an API key in X-API-Key', {
                reason: 'auth_required',
              })
            : new ApiFailure('INVALID_API_KEY', 'API key not accepted', {
                reason: 'invalid_api_key',
              });
        }
        const { status, body } = await r.handler(req, url, m.slice(1));
        reply(status, body);
        return;
      }
      if (!atRoot && NOT_IMPLEMENTED.some(([m, p]) => m === method && p.test(path))) {
        routeName = 'not_implemented';
        throw new ApiFailure(
          'NOT_IMPLEMENTED',
          `${method} /api${path} is not implemented by the embedded m2m sequencer (see node/sequencer/README.md)`,
          { reason: 'not_implemented' },
        );
      }
      throw new ApiFailure(
        'RESOURCE_NOT_FOUND',
        pathMatched
          ? `${method} is not allowed on ${url.pathname}`
          : `no route ${method} ${url.pathname}`,
        { reason: pathMatched ? 'method_not_allowed' : 'no_route' },
        pathMatched ? 405 : 404,
      );
    } catch (error) {
      let failure: ApiFailure;
      if (error instanceof ApiFailure) failure = error;
      else {
        log(
          `${routeName}: ${error instanceof M2mError ? `${error.code} ${error.message}` : String((error as Error)?.stack ?? error)}`,
        );
        failure = new ApiFailure(
          'INTERNAL_ERROR',
          'internal error; nothing from this request was sequenced',
          { reason: 'internal_error' },
        );
      }
      if (failure.details?.reason !== undefined && !['ingest'].includes(routeName))
        metrics.rejected(String(failure.details.reason));
      else if (routeName === 'ingest' && failure.status !== 422)
        metrics.rejected(String(failure.details?.reason ?? failure.error));
      metrics.request(routeName, failure.status);
      if (!res.headersSent) sendFailure(res, failure, requestId);
      else res.destroy();
    }
  };

  const server = createServer((req, res) => {
    if (closing) {
      res.writeHead(503, { connection: 'close' }).end();
      return;
    }
    void dispatch(req, res);
  });
  server.keepAliveTimeout = 30_000;
  server.on('clientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  }).catch(async (error: unknown) => {
    await verifier.close();
    await store.close();
    throw new M2mError('SEQUENCER_LISTEN_FAILED', `cannot listen: ${(error as Error).message}`, {
      cause: error,
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const origin = `http://${host}:${address.port}`;
  return {
    url: `${origin}/api`,
    origin,
    sequencerId: identity.sequencerId,
    sequencerPublicKey,
    store,
    close: async () => {
      if (closing) return;
      closing = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await verifier.close();
      await store.close();
    },
  };
}
