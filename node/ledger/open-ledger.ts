import { z } from 'zod';
import { SqliteLedger, type SqliteLedgerOptions } from './sqlite-ledger.js';
import { TigerBeetleLedger } from './tigerbeetle-ledger.js';
import type { Ledger } from './types.js';

/** `ledger:` in a node's settlement config: a SQLite file (default) or a TigerBeetle cluster. */
export const LedgerConfig = z.union([
  z.object({ sqlite: z.string().min(1) }).strict(),
  z
    .object({
      tigerbeetle: z
        .object({
          address: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
          clusterId: z
            .union([z.string().regex(/^\d+$/), z.number().int().nonnegative()])
            .default(0),
        })
        .strict(),
    })
    .strict(),
]);
export type LedgerConfig = z.infer<typeof LedgerConfig>;

/** Opens the ledger a config names: TigerBeetle when an address is configured, else SQLite. */
export async function openLedger(
  config: LedgerConfig,
  sqliteOptions: SqliteLedgerOptions = {},
): Promise<Ledger> {
  if ('tigerbeetle' in config) {
    const { address, clusterId } = config.tigerbeetle;
    return TigerBeetleLedger.connect({
      addresses: Array.isArray(address) ? address : [address],
      clusterId: BigInt(clusterId),
    });
  }
  return new SqliteLedger(config.sqlite, sqliteOptions);
}
