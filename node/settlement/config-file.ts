import { mkdirSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { M2mError } from '../../zkvm/errors.js';
import { readText } from '../files.js';
import { parseSettlementConfig, type SettlementConfig } from './config.js';

/**
 * A settlement config read from a file, or the `settlement:` section of a node.yaml: relative
 * paths of the SQLite ledger and the journal are relative to that file's folder, and their
 * folders are created.
 */
export function resolveSettlementConfig(value: unknown, baseDir: string): SettlementConfig {
  const config = parseSettlementConfig(value);
  const within = (p: string) => (isAbsolute(p) ? p : join(baseDir, p));
  const journal = within(config.journal);
  const ledger =
    'sqlite' in config.ledger ? { sqlite: within(config.ledger.sqlite) } : config.ledger;
  for (const file of [journal, ...('sqlite' in ledger ? [ledger.sqlite] : [])])
    mkdirSync(dirname(file), { recursive: true });
  return { ...config, journal, ledger };
}

/** Reads a settlement config file (YAML or JSON). */
export function loadSettlementConfigFile(path: string): SettlementConfig {
  let value: unknown;
  try {
    value = parseYaml(readText(path));
  } catch (cause) {
    if (cause instanceof M2mError) throw cause;
    throw new M2mError('SETTLEMENT_CONFIG_INVALID', `${path}: ${(cause as Error).message}`, {
      cause,
    });
  }
  return resolveSettlementConfig(value, dirname(path));
}
