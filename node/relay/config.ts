import { z } from 'zod';
import { readText } from '../files.js';
import { RELAY_ERRORS, relayError } from './errors.js';
import { DEFAULT_RELAY_LIMITS, type RelayLimits } from './limits.js';

/** What the NIP-11 document says about the relay's operator. */
export interface RelayInfo {
  name: string;
  description: string;
  /** Operator's public key (64 hex), if any. */
  pubkey?: string;
  /** Operator's contact URI, if any. */
  contact?: string;
}

export interface RelayConfig {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** SQLite file, or ':memory:' for a relay that keeps nothing across restarts. */
  db: string;
  info: RelayInfo;
  limits: RelayLimits;
  /** Worker threads checking signatures; 0 checks them on the event loop; absent: the cores (up to 4). */
  signatureThreads?: number;
}

export const DEFAULT_RELAY_CONFIG: RelayConfig = {
  host: '127.0.0.1',
  port: 7447,
  db: 'm2m-relay.db',
  info: {
    name: 'm2m relay',
    description: 'Embedded Nostr relay of an m2m node (NIP-01, NIP-11) for the compute market',
  },
  limits: DEFAULT_RELAY_LIMITS,
};

const count = z.number().int().positive();
const LimitsFile = z
  .object({
    maxMessageBytes: z.number().int().min(1024),
    maxSubscriptions: count,
    maxFilters: count,
    maxLimit: count,
    defaultLimit: z.number().int().nonnegative(),
    maxSubidLength: count,
    maxEventTags: z.number().int().nonnegative(),
    maxContentLength: z.number().int().nonnegative(),
    maxFilterValues: count,
    eventsPerSecond: z.number().positive(),
    eventBurst: z.number().min(1),
    createdAtUpperLimit: z.number().int().nonnegative(),
    maxBufferedBytes: count,
  })
  .partial()
  .strict();

const ConfigFile = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(0).max(65535),
    db: z.string().min(1),
    info: z
      .object({
        name: z.string(),
        description: z.string(),
        pubkey: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters'),
        contact: z.string(),
      })
      .partial()
      .strict(),
    limits: LimitsFile,
    signatureThreads: z.number().int().min(0).max(64),
  })
  .partial()
  .strict();

export type RelayConfigOverrides = z.infer<typeof ConfigFile>;

/** Defaults, then the config file, then the overrides (command line options), checked. */
export function resolveRelayConfig(
  file: unknown,
  overrides: RelayConfigOverrides = {},
  source = 'relay config',
): RelayConfig {
  const parsed = ConfigFile.safeParse(file ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw relayError(
      RELAY_ERRORS.configInvalid,
      `${source}: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
    );
  }
  const merged: RelayConfig = {
    host: overrides.host ?? parsed.data.host ?? DEFAULT_RELAY_CONFIG.host,
    port: overrides.port ?? parsed.data.port ?? DEFAULT_RELAY_CONFIG.port,
    db: overrides.db ?? parsed.data.db ?? DEFAULT_RELAY_CONFIG.db,
    info: { ...DEFAULT_RELAY_CONFIG.info, ...parsed.data.info, ...overrides.info },
    limits: { ...DEFAULT_RELAY_LIMITS, ...parsed.data.limits, ...overrides.limits },
  };
  const threads = overrides.signatureThreads ?? parsed.data.signatureThreads;
  if (threads !== undefined) merged.signatureThreads = threads;
  if (merged.limits.defaultLimit > merged.limits.maxLimit)
    throw relayError(
      RELAY_ERRORS.configInvalid,
      `${source}: limits.defaultLimit (${merged.limits.defaultLimit}) is above limits.maxLimit (${merged.limits.maxLimit})`,
    );
  return merged;
}

/** Reads a JSON config file (see relay-config/m2m-relay.json) and resolves it. */
export function loadRelayConfig(path: string, overrides: RelayConfigOverrides = {}): RelayConfig {
  const text = readText(path);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw relayError(
      RELAY_ERRORS.configInvalid,
      `${path} is not valid JSON: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  return resolveRelayConfig(value, overrides, path);
}
