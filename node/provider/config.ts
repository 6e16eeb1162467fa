import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { M2mError } from '../../zkvm/errors.js';
import { Backend } from '../../zkvm/proof/envelope.js';
import { MAX_INLINE_PROOF_BYTES } from '../dvm/result.js';
import { RelayUrl } from '../dvm/tags.js';
import { readText } from '../files.js';
import { loadOrCreateSecretKey, parseSecretKey } from '../market/keyfile.js';
import type { SettlementConfig } from '../settlement/config.js';
import { resolveSettlementConfig } from '../settlement/config-file.js';
import {
  ProofStorageSection,
  type ProofStoreConfig,
  resolveProofStoreConfig,
} from '../storage/config.js';
import { DEFAULT_ESTIMATE, type EstimateParams } from './estimate.js';

/** Millisats: a whole number (YAML integer or decimal string), read into a bigint. */
const Msats = z
  .union([z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER), z.string().regex(/^\d+$/)])
  .transform((value) => BigInt(value));

const ConfigFile = z
  .object({
    secretKey: z.string().optional(),
    secretKeyFile: z.string().min(1).optional(),
    relays: z.array(RelayUrl).min(1, 'list at least one relay (ws:// or wss:// URL)'),
    backends: z.array(Backend).min(1).default(['miden']),
    price: Msats,
    concurrency: z.number().int().min(1).max(64).default(1),
    dataDir: z.string().min(1).default('m2m-provider'),
    maxProvingTime: z.number().int().positive().default(600),
    maxPlanCycles: z.number().int().positive().default(10_000_000),
    maxRequestAge: z.number().int().positive().default(3600),
    maxMemoryMb: z.number().int().positive().optional(),
    name: z.string().min(1).default('m2m prover'),
    about: z.string().optional(),
    estimate: z
      .object({
        rowsPerCycle: z.number().positive(),
        microsPerRow: z.number().positive(),
        overheadMs: z.number().nonnegative(),
        refine: z.boolean(),
      })
      .partial()
      .strict()
      .default({}),
    /** Where proofs too large to inline go (Blossom, IPFS); absent: every proof inline. */
    proofStorage: ProofStorageSection.optional(),
    /** Payment over ILP through the customers' escrows (node/settlement); absent: unpaid. */
    settlement: z.unknown().optional(),
    /** VES: record job.proved (and settlement facts) in this `m2m sync init` dir's outbox. */
    ves: z
      .object({ syncDir: z.string().min(1) })
      .strict()
      .optional(),
  })
  .strict()
  .refine((c) => !(c.secretKey !== undefined && c.secretKeyFile !== undefined), {
    message: 'give secretKey or secretKeyFile, not both',
    path: ['secretKey'],
  });

export type ProviderConfigFile = z.input<typeof ConfigFile>;

/** A provider's resolved configuration (paths absolute, key loaded). */
export interface ProviderConfig {
  secretKey: Uint8Array;
  /** Where the key came from: the file (and whether it was just created) or the config itself. */
  keySource: { file: string; created: boolean } | { inline: true };
  relays: string[];
  backends: Backend[];
  /** Millisats per job; a lower bid is refused. */
  priceMsats: bigint;
  /** Proofs run at the same time. */
  concurrency: number;
  dataDir: string;
  /** Longest proof this provider runs, in seconds (also caps a request's max-proving-time). */
  maxProvingTimeSec: number;
  /** Largest `limits.maxCycles` a plan may declare. */
  maxPlanCycles: number;
  /** Requests older than this many seconds are ignored. */
  maxRequestAgeSec: number;
  maxMemoryMb?: number | undefined;
  name: string;
  about?: string | undefined;
  estimate: EstimateParams;
  /** Proof upload: the stores, and the size above which a proof goes by `proof-ref`. */
  proofStorage?: (ProofStoreConfig & { inlineMaxBytes: number }) | undefined;
  /** The settlement node's config (provider role), when payments are configured. */
  settlement?: SettlementConfig | undefined;
  /** The VES sync dir whose outbox receives this node's market events. */
  vesSyncDir?: string | undefined;
}

export const CONFIG_HELP = `node.yaml (paths relative to the file):
  secretKeyFile: provider.key   # 64 hex or nsec; created with a new key when missing
                                # (default <dataDir>/provider.key); or secretKey: <64 hex>
  relays: [ws://127.0.0.1:7447]
  backends: [miden]             # see \`m2m zkvm doctor\`
  price: 1000                   # millisats per job
  concurrency: 1                # proofs at once
  dataDir: m2m-provider         # jobs.db
  maxProvingTime: 600           # seconds
  maxPlanCycles: 10000000       # largest limits.maxCycles accepted
  maxRequestAge: 3600           # seconds; older requests are ignored
  proofStorage:                 # optional; without it every proof travels inline
    inlineMaxBytes: 65536       # larger envelopes are uploaded and sent as proof-ref
    blossom:
      embedded: { port: 3000, publicUrl: https://blossom.example.com }  # or false
      servers: [https://other-blossom.example.com]
    ipfs: helia                 # helia (embedded, default) | none | { kubo: http://127.0.0.1:5001 }
    gateways: []                # IPFS gateways written into ipfs: references
    cacheMb: 256
    retentionHours: 168         # gc keeps unpinned proofs this long
  settlement:                   # optional: be paid over ILP (docs/settlement.md)
    ilpAddress: test.m2m.prov
    listen: { port: 7071 }
    peers: { alice: { url: http://127.0.0.1:7070, ilpAddress: test.m2m.alice,
                      token: <we present>, acceptToken: <they present> } }
    ledger: { sqlite: m2m-provider/ledger.db }
    journal: m2m-provider/settlement.db
  ves: { syncDir: sync }        # optional: record job.proved and payments as VES events
                                # (set the dir up with m2m sync init + keys generate)`;

/** Checks a parsed config document and resolves it; `baseDir` anchors relative paths. */
export function resolveProviderConfig(
  value: unknown,
  baseDir: string,
  source = 'provider config',
): ProviderConfig {
  const parsed = ConfigFile.safeParse(value ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new M2mError(
      'CONFIG_INVALID',
      `${source}: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
      { details: { issues: parsed.error.issues } },
    );
  }
  const c = parsed.data;
  const at = (path: string) => (isAbsolute(path) ? path : resolve(baseDir, path));
  const dataDir = at(c.dataDir);
  let secretKey: Uint8Array;
  let keySource: ProviderConfig['keySource'];
  if (c.secretKey !== undefined) {
    secretKey = parseSecretKey(c.secretKey, `${source}: secretKey`);
    keySource = { inline: true };
  } else {
    const file =
      c.secretKeyFile === undefined ? join(dataDir, 'provider.key') : at(c.secretKeyFile);
    const loaded = loadOrCreateSecretKey(file);
    secretKey = loaded.secretKey;
    keySource = { file, created: loaded.created };
  }
  return {
    secretKey,
    keySource,
    relays: [...new Set(c.relays)],
    backends: [...new Set(c.backends)],
    priceMsats: c.price,
    concurrency: c.concurrency,
    dataDir,
    maxProvingTimeSec: c.maxProvingTime,
    maxPlanCycles: c.maxPlanCycles,
    maxRequestAgeSec: c.maxRequestAge,
    maxMemoryMb: c.maxMemoryMb,
    name: c.name,
    about: c.about,
    estimate: { ...DEFAULT_ESTIMATE, ...c.estimate },
    proofStorage:
      c.proofStorage === undefined
        ? undefined
        : {
            ...resolveProofStoreConfig(c.proofStorage, resolve(dataDir, 'proofs'), baseDir),
            inlineMaxBytes: Math.min(
              c.proofStorage.inlineMaxBytes ?? MAX_INLINE_PROOF_BYTES,
              MAX_INLINE_PROOF_BYTES,
            ),
          },
    settlement:
      c.settlement === undefined ? undefined : resolveSettlementConfig(c.settlement, baseDir),
    vesSyncDir: c.ves === undefined ? undefined : at(c.ves.syncDir),
  };
}

/** Reads node.yaml (YAML or JSON) and resolves it. */
export function loadProviderConfig(path: string): ProviderConfig {
  const text = readText(path);
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (cause) {
    throw new M2mError('CONFIG_INVALID', `${path} is not valid YAML: ${(cause as Error).message}`, {
      cause,
    });
  }
  return resolveProviderConfig(value, dirname(resolve(path)), path);
}
