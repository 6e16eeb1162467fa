import { M2mError } from '../../zkvm/errors.js';
import {
  ApiError,
  HeadResponse,
  ListEventsResponse,
  RegisterAgentKeyRequest,
  RegisterAgentKeyResponse,
  type SequencedEvent,
  type VesEventEnvelope,
  VesIngestResponse,
} from '../ves/types.js';

/**
 * REST client of a VES sequencer (stateset-sequencer API, `X-API-Key` auth). Network errors, 5xx
 * and 429 are retried with exponential backoff (ingest is safe to retry: the sequencer
 * deduplicates by event_id). Every other failure is an `M2mError` with a `SYNC_*` code and the
 * server's `ApiError` (or text) in `details`.
 */

export interface SequencerClientOptions {
  /** Base URL including the API base path, e.g. `http://localhost:8080/api`. */
  baseUrl: string;
  apiKey?: string | undefined;
  /** Per request (default 30 s). */
  timeoutMs?: number;
  /** Extra attempts after the first for retryable failures (default 5). */
  retries?: number;
  /** First backoff delay; doubles per attempt up to 5 s (default 200 ms). */
  backoffMs?: number;
  /** Called before each retry (progress output). */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
}

export interface StreamQuery {
  tenantId: string;
  storeId: string;
}

const MAX_BACKOFF_MS = 5_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function codeForStatus(status: number): string {
  if (status === 401 || status === 403) return 'SYNC_UNAUTHORIZED';
  if (status === 404) return 'SYNC_NOT_FOUND';
  if (status === 409) return 'SYNC_CONFLICT';
  if (status === 413) return 'SYNC_BATCH_TOO_LARGE';
  if (status === 422) return 'SYNC_REJECTED';
  if (status === 429) return 'SYNC_RATE_LIMITED';
  if (status >= 500) return 'SYNC_SERVER_ERROR';
  return 'SYNC_BAD_REQUEST';
}

const retryable = (status: number) => status === 429 || status >= 500;

export class SequencerClient {
  readonly baseUrl: string;
  private readonly apiKey: string | undefined;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly onRetry: SequencerClientOptions['onRetry'];

  constructor(options: SequencerClientOptions) {
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw new M2mError('SYNC_CONFIG_INVALID', `sequencer URL is not a URL: "${options.baseUrl}"`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new M2mError(
        'SYNC_CONFIG_INVALID',
        `sequencer URL must be http(s), got ${url.protocol}`,
      );
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.apiKey = options.apiKey;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.retries = options.retries ?? 5;
    this.backoffMs = options.backoffMs ?? 200;
    this.onRetry = options.onRetry;
  }

  /** `POST /v1/ves/events/ingest`. All events must share tenant_id and store_id. */
  async ingest(agentId: string, events: readonly VesEventEnvelope[]): Promise<VesIngestResponse> {
    const body = await this.request('POST', '/v1/ves/events/ingest', { agentId, events });
    return this.parse(VesIngestResponse, body, 'ingest');
  }

  /** `POST /v1/agents/keys` (with this project's `proofOfPossession`). */
  async registerKey(request: RegisterAgentKeyRequest): Promise<RegisterAgentKeyResponse> {
    const body = await this.request(
      'POST',
      '/v1/agents/keys',
      RegisterAgentKeyRequest.parse(request),
    );
    return this.parse(RegisterAgentKeyResponse, body, 'agent key registration');
  }

  /** `GET /v1/events?tenant_id&store_id&from&limit` (`from` inclusive, limit 1..1000). */
  async listEvents(
    stream: StreamQuery & { from: number; limit: number },
  ): Promise<SequencedEvent[]> {
    const q = new URLSearchParams({
      tenant_id: stream.tenantId,
      store_id: stream.storeId,
      from: String(stream.from),
      limit: String(stream.limit),
    });
    const body = await this.request('GET', `/v1/events?${q}`);
    const parsed = this.parse(ListEventsResponse, body, 'event list');
    return Array.isArray(parsed) ? parsed : parsed.events;
  }

  /** `GET /v1/head`: the stream's highest sequence number (0 when empty). */
  async head(stream: StreamQuery): Promise<number> {
    const q = new URLSearchParams({ tenant_id: stream.tenantId, store_id: stream.storeId });
    const body = await this.request('GET', `/v1/head?${q}`);
    return this.parse(HeadResponse, body, 'head').head_sequence;
  }

  /** `GET /health` under the base URL. */
  async health(): Promise<unknown> {
    return this.request('GET', '/health', undefined, 0);
  }

  private parse<T>(
    schema: {
      safeParse(v: unknown): { success: true; data: T } | { success: false; error: Error };
    },
    body: unknown,
    what: string,
  ): T {
    const parsed = schema.safeParse(body);
    if (!parsed.success)
      throw new M2mError(
        'SYNC_BAD_RESPONSE',
        `the sequencer's ${what} answer does not match the API: ${parsed.error.message}`,
        { details: { body } },
      );
    return parsed.data;
  }

  private async request(
    method: string,
    path: string,
    json?: unknown,
    retries = this.retries,
  ): Promise<unknown> {
    const url = `${this.baseUrl}${path}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.apiKey !== undefined && this.apiKey !== '') headers['x-api-key'] = this.apiKey;
    if (json !== undefined) headers['content-type'] = 'application/json';
    const payload = json === undefined ? undefined : JSON.stringify(json);
    for (let attempt = 0; ; attempt++) {
      let failure: { reason: string; delayMs?: number; error: M2mError };
      try {
        const res = await fetch(url, {
          method,
          headers,
          ...(payload === undefined ? {} : { body: payload }),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        const text = await res.text();
        if (res.ok) {
          if (text === '') return undefined;
          try {
            return JSON.parse(text) as unknown;
          } catch {
            throw new M2mError('SYNC_BAD_RESPONSE', `${method} ${path}: answer is not JSON`, {
              details: { status: res.status, body: text.slice(0, 500) },
            });
          }
        }
        const error = httpError(method, path, res.status, text);
        if (!retryable(res.status)) throw error;
        const retryAfter = Number(res.headers.get('retry-after'));
        failure = {
          reason: `HTTP ${res.status}`,
          error,
          ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { delayMs: retryAfter * 1000 } : {}),
        };
      } catch (cause) {
        if (cause instanceof M2mError) throw cause;
        const reason = describeNetworkError(cause);
        failure = {
          reason,
          error: new M2mError('SYNC_UNREACHABLE', `${method} ${url}: ${reason}`, {
            cause,
            details: { url },
          }),
        };
      }
      if (attempt >= retries) throw failure.error;
      const delayMs = Math.min(failure.delayMs ?? this.backoffMs * 2 ** attempt, MAX_BACKOFF_MS);
      this.onRetry?.({ attempt: attempt + 1, delayMs, reason: failure.reason });
      await sleep(delayMs);
    }
  }
}

function describeNetworkError(cause: unknown): string {
  if (cause instanceof Error) {
    if (cause.name === 'TimeoutError') return 'timed out';
    const inner = (cause as Error & { cause?: { code?: string; message?: string } }).cause;
    return inner?.code ?? inner?.message ?? cause.message;
  }
  return String(cause);
}

function httpError(method: string, path: string, status: number, text: string): M2mError {
  let apiError: ApiError | undefined;
  try {
    const parsed = ApiError.safeParse(JSON.parse(text));
    if (parsed.success) apiError = parsed.data;
  } catch {
    apiError = undefined;
  }
  const message = apiError?.message ?? (text.trim().slice(0, 500) || `HTTP ${status}`);
  const hint =
    status === 401 || status === 403
      ? ' (check the API key: m2m sync init --api-key)'
      : status === 413
        ? ' (lower --batch-size)'
        : '';
  return new M2mError(codeForStatus(status), `${method} ${path}: ${status} ${message}${hint}`, {
    details: { status, ...(apiError === undefined ? { body: text.slice(0, 500) } : { apiError }) },
  });
}
