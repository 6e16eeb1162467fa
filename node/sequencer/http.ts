/**
 * HTTP plumbing for the sequencer: the OpenAPI `ApiError` body ({error, code, message, details})
 * with the reference server's stable error names and numeric codes, bounded body reading and
 * query parsing. Handlers throw ApiFailure; the router turns anything else into a 500.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Stable error names with the reference server's numeric codes and HTTP statuses. */
export const API_ERRORS = {
  AUTH_REQUIRED: [1001, 401],
  INVALID_API_KEY: [1002, 401],
  INVALID_REQUEST_BODY: [3001, 400],
  MISSING_REQUIRED_FIELD: [3002, 400],
  INVALID_FIELD_VALUE: [3003, 400],
  PAYLOAD_TOO_LARGE: [3004, 413],
  BATCH_TOO_LARGE: [3005, 413],
  RESOURCE_NOT_FOUND: [4001, 404],
  EVENT_NOT_FOUND: [4002, 404],
  BATCH_NOT_FOUND: [4003, 404],
  AGENT_KEY_NOT_FOUND: [4005, 404],
  ALREADY_EXISTS: [5004, 409],
  SIGNATURE_VERIFICATION_FAILED: [6002, 422],
  INVALID_PUBLIC_KEY: [6003, 400],
  INVARIANT_VIOLATION: [7002, 400],
  SEQUENCE_GAP: [7003, 409],
  DATABASE_ERROR: [8001, 500],
  SERVICE_UNAVAILABLE: [8002, 503],
  INTERNAL_ERROR: [8999, 500],
  NOT_IMPLEMENTED: [8998, 501],
} as const satisfies Record<string, readonly [number, number]>;
export type ApiErrorName = keyof typeof API_ERRORS;

export class ApiFailure extends Error {
  constructor(
    readonly error: ApiErrorName,
    message: string,
    readonly details?: Record<string, unknown>,
    readonly status: number = API_ERRORS[error][1],
  ) {
    super(message);
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendFailure(res: ServerResponse, failure: ApiFailure, requestId: string): void {
  sendJson(
    res,
    failure.status,
    {
      error: failure.error,
      code: API_ERRORS[failure.error][0],
      message: failure.message,
      ...(failure.details === undefined ? {} : { details: failure.details }),
      request_id: requestId,
    },
    { 'x-error-code': failure.error },
  );
}

/** Reads the body up to `maxBytes`; beyond it the request fails with 413 and is drained. */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    throw new ApiFailure(
      'PAYLOAD_TOO_LARGE',
      `request body of ${declared} bytes exceeds the ${maxBytes}-byte limit`,
      { reason: 'body_too_large', limit: maxBytes },
    );
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > maxBytes) {
      req.resume();
      throw new ApiFailure('PAYLOAD_TOO_LARGE', `request body exceeds the ${maxBytes}-byte limit`, {
        reason: 'body_too_large',
        limit: maxBytes,
      });
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

export async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const body = await readBody(req, maxBytes);
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch (error) {
    throw new ApiFailure('INVALID_REQUEST_BODY', `body is not JSON: ${(error as Error).message}`, {
      reason: 'malformed_json',
    });
  }
}

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function isUuid(text: string): boolean {
  return UUID_RE.test(text);
}

/** A UUID from a query/path value, lowercased, or a 400 naming the field. */
export function uuidParam(value: string | null | undefined, name: string): string {
  if (value === null || value === undefined || value === '')
    throw new ApiFailure('MISSING_REQUIRED_FIELD', `${name} is required`, {
      reason: 'missing_field',
      field: name,
    });
  if (!isUuid(value))
    throw new ApiFailure('INVALID_FIELD_VALUE', `${name} must be a UUID`, {
      reason: 'malformed_uuid',
      field: name,
    });
  return value.toLowerCase();
}

/** A non-negative integer from a query/path value, `fallback` when absent. */
export function intParam(
  value: string | null | undefined,
  name: string,
  fallback?: number,
): number {
  if (value === null || value === undefined || value === '') {
    if (fallback !== undefined) return fallback;
    throw new ApiFailure('MISSING_REQUIRED_FIELD', `${name} is required`, {
      reason: 'missing_field',
      field: name,
    });
  }
  if (!/^\d{1,15}$/.test(value))
    throw new ApiFailure('INVALID_FIELD_VALUE', `${name} must be a non-negative integer`, {
      reason: 'invalid_integer',
      field: name,
    });
  return Number(value);
}
