import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { M2mError } from '../../zkvm/errors.js';
import { agentPublicKey, generateAgentSecretKey } from '../ves/sign.js';
import { Uuid } from '../ves/types.js';

/**
 * Sync configuration: `<sync dir>/sync.json` (mode 0600, it holds the API key), where the sync dir
 * is `--dir`, else `$M2M_HOME/sync`, else `~/.m2m/sync`. The agent's Ed25519 seed lives in
 * `agent.key` (hex, mode 0600) and the outbox in `outbox.db`, both in the same dir unless the
 * config names other paths. `$M2M_SYNC_API_KEY` overrides the stored API key.
 */

export const SyncConfig = z.object({
  /** Base URL including the API path, e.g. http://localhost:8080/api */
  sequencerUrl: z.string().url(),
  apiKey: z.string().optional(),
  tenantId: Uuid,
  storeId: Uuid,
  agentId: Uuid,
  keyId: z.number().int().min(0).max(0xffff_ffff).default(1),
  /** Relative paths are relative to the sync dir. */
  agentKeyFile: z.string().default('agent.key'),
  outbox: z.string().default('outbox.db'),
  batchSize: z.number().int().min(1).max(1000).default(500),
});
export type SyncConfig = z.infer<typeof SyncConfig>;

export interface ResolvedSyncConfig extends SyncConfig {
  dir: string;
  configPath: string;
  agentKeyPath: string;
  outboxPath: string;
}

export function syncDir(dir?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (dir !== undefined) return resolve(dir);
  return join(resolve(env.M2M_HOME ?? join(homedir(), '.m2m')), 'sync');
}

export const configPathOf = (dir: string): string => join(dir, 'sync.json');

const within = (dir: string, p: string) => (isAbsolute(p) ? p : join(dir, p));

function resolveConfig(
  dir: string,
  config: SyncConfig,
  env: NodeJS.ProcessEnv,
): ResolvedSyncConfig {
  const fromEnv = env.M2M_SYNC_API_KEY;
  const apiKey = fromEnv !== undefined && fromEnv !== '' ? fromEnv : config.apiKey;
  return {
    ...config,
    ...(apiKey === undefined ? {} : { apiKey }),
    dir,
    configPath: configPathOf(dir),
    agentKeyPath: within(dir, config.agentKeyFile),
    outboxPath: within(dir, config.outbox),
  };
}

export function loadSyncConfig(
  dir: string,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedSyncConfig {
  const path = configPathOf(dir);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT')
      throw new M2mError(
        'SYNC_NOT_INITIALIZED',
        `no sync config at ${path}: run m2m sync init first`,
        {
          details: { path },
        },
      );
    throw new M2mError('IO_READ_FAILED', `cannot read ${path}: ${(cause as Error).message}`, {
      cause,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new M2mError('SYNC_CONFIG_INVALID', `${path} is not JSON: ${(cause as Error).message}`, {
      cause,
    });
  }
  const parsed = SyncConfig.safeParse(json);
  if (!parsed.success)
    throw new M2mError(
      'SYNC_CONFIG_INVALID',
      `${path}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  return resolveConfig(dir, parsed.data, env);
}

/** Writes the config atomically (temp file + rename), mode 0600. */
export function saveSyncConfig(
  dir: string,
  config: SyncConfig,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedSyncConfig {
  const parsed = SyncConfig.parse(config);
  const path = configPathOf(dir);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(parsed, null, 2)}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, path);
  } catch (cause) {
    throw new M2mError('IO_WRITE_FAILED', `cannot write ${path}: ${(cause as Error).message}`, {
      cause,
    });
  }
  return resolveConfig(dir, parsed, env);
}

const HEX32 = /^[0-9a-f]{64}$/;

/** Reads the agent's Ed25519 seed (64 hex characters). */
export function loadAgentKey(path: string): Uint8Array {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim().toLowerCase();
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT')
      throw new M2mError(
        'SYNC_NO_AGENT_KEY',
        `no agent key at ${path}: run m2m sync keys generate`,
        {
          details: { path },
        },
      );
    throw new M2mError('IO_READ_FAILED', `cannot read ${path}: ${(cause as Error).message}`, {
      cause,
    });
  }
  if (!HEX32.test(text))
    throw new M2mError('KEY_INVALID', `${path}: expected an Ed25519 seed as 64 hex characters`);
  return new Uint8Array(Buffer.from(text, 'hex'));
}

/**
 * Creates a new agent key file (mode 0600). Refuses to replace an existing key unless `force`:
 * events signed with it would no longer verify against a registered key.
 */
export function createAgentKey(
  path: string,
  force = false,
): { secretKey: Uint8Array; publicKey: Uint8Array } {
  const secretKey = generateAgentSecretKey();
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, `${Buffer.from(secretKey).toString('hex')}\n`, {
      mode: 0o600,
      flag: force ? 'w' : 'wx',
    });
    chmodSync(path, 0o600);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'EEXIST')
      throw new M2mError(
        'SYNC_AGENT_KEY_EXISTS',
        `${path} already holds an agent key; pass --force to replace it (then register the new key under a new --key-id)`,
      );
    throw new M2mError('IO_WRITE_FAILED', `cannot write ${path}: ${(cause as Error).message}`, {
      cause,
    });
  }
  return { secretKey, publicKey: agentPublicKey(secretKey) };
}
