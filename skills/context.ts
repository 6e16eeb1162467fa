import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { DEFAULT_RELAY } from '../node/market/defaults.js';
import { M2mError } from '../zkvm/errors.js';

/** What every skill runs with: where to talk, who it is, where its jobs are kept. */
export interface SkillContext {
  /** Relays (ws:// or wss://) requests are published to and results fetched from. */
  relays: string[];
  /** The customer's secret key file (64 hex or nsec; created, mode 0600, on first request). */
  keyFile: string;
  /** The customer's job file lives at `<dataDir>/jobs.db` (the same one `m2m job` uses). */
  dataDir: string;
  /** Relative plan, data and proof paths are read from here. */
  cwd: string;
  /** Progress of long work (a request being followed), one line at a time. */
  progress?: ((message: string) => void) | undefined;
}

export interface SkillContextOptions {
  relay?: string[] | undefined;
  key?: string | undefined;
  dataDir?: string | undefined;
  cwd?: string | undefined;
}

const RELAY_URL = /^wss?:\/\/[^\s/]+/;

/**
 * The context from options, then the environment, then the defaults of `m2m job`:
 * relays `--relay` | `$M2M_RELAYS` (comma or space separated) | ws://127.0.0.1:7447;
 * data dir `--data-dir` | `$M2M_HOME` | ~/.m2m; key `--key` | `$M2M_KEY` | <data dir>/customer.key.
 */
export function buildSkillContext(
  options: SkillContextOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): SkillContext {
  const cwd = options.cwd ?? process.cwd();
  const fromEnv = env.M2M_RELAYS?.split(/[\s,]+/).filter((url) => url !== '');
  const relays =
    options.relay !== undefined && options.relay.length > 0
      ? options.relay
      : fromEnv !== undefined && fromEnv.length > 0
        ? fromEnv
        : [DEFAULT_RELAY];
  for (const url of relays)
    if (!RELAY_URL.test(url))
      throw new M2mError(
        'CONFIG_INVALID',
        `"${url}" is not a relay URL; pass --relay ws://host:port or wss://host (or set M2M_RELAYS)`,
      );
  const absolute = (path: string) => (isAbsolute(path) ? path : resolve(cwd, path));
  const dataDir = absolute(options.dataDir ?? env.M2M_HOME ?? join(homedir(), '.m2m'));
  const keyFile = absolute(options.key ?? env.M2M_KEY ?? join(dataDir, 'customer.key'));
  return { relays: [...new Set(relays)], keyFile, dataDir, cwd };
}
