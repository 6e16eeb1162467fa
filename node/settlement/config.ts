import { z } from 'zod';
import { M2mError } from '../../zkvm/errors.js';
import { LedgerConfig } from '../ledger/open-ledger.js';

const ilpAddress = z
  .string()
  .regex(
    /^(g|private|example|peer|self|test[1-3]?|local)([.][a-zA-Z0-9_~-]+)+$/,
    'an ILP address: scheme then segments, e.g. test.m2m.alice',
  );

export const SettlementMode = z.enum(['verify', 'optimistic']);
export type SettlementMode = z.infer<typeof SettlementMode>;

export const SlashRule = z
  .object({
    /** Share of the payment amount taken from the provider's stake, in basis points. */
    bps: z.number().int().min(0).max(10_000).default(5_000),
    /** Who receives it: the buyer's escrow account or the escrow node's fee account. */
    to: z.enum(['buyer', 'fees']).default('buyer'),
  })
  .strict();
export type SlashRule = z.infer<typeof SlashRule>;

export const PeerConfig = z
  .object({
    /** The peer's base URL (its ILP endpoint is `${url}/ilp`). */
    url: z.string().url(),
    ilpAddress,
    /** The token this node presents to the peer. */
    token: z.string().min(16),
    /** The token the peer presents to this node. */
    acceptToken: z.string().min(16),
  })
  .strict();
export type PeerConfig = z.infer<typeof PeerConfig>;

/** The `settlement:` section of a node's config (the lead merges it into node.yaml). */
export const SettlementConfig = z
  .object({
    ilpAddress,
    listen: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65_535).default(7070),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 7070 }),
    /** Peers by name (a buyer's escrow names its providers, a provider names its escrows). */
    peers: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i), PeerConfig).default({}),
    mode: SettlementMode.default('verify'),
    /** Optimistic mode: how long anyone may challenge a submitted proof. */
    challengeWindowMs: z
      .number()
      .int()
      .min(100)
      .max(7 * 86_400_000)
      .default(60_000),
    /** Time the provider has after the fulfillment is released to send its FULFILL. */
    fulfilMarginMs: z.number().int().min(100).max(3_600_000).default(30_000),
    /**
     * How long past the ILP expiry the ledger keeps the pending transfers before expiring them by
     * itself: the backstop for an escrow that stays down. The escrow resolves them first.
     */
    ledgerGraceSeconds: z
      .number()
      .int()
      .min(1)
      .max(30 * 86_400)
      .default(3_600),
    slash: SlashRule.default({ bps: 5_000, to: 'buyer' }),
    /** TigerBeetle ledger id of the asset (one ledger per asset/currency). */
    assetLedger: z.number().int().min(1).max(0xffff_ffff).default(1),
    ledger: LedgerConfig.default({ sqlite: 'm2m-data/ledger.db' }),
    /** The settlement journal (payments state machine and event stream): a SQLite file. */
    journal: z.string().min(1).default('m2m-data/settlement.db'),
    /**
     * Bearer token of the local owner's API (`/settlement/v1/admin/...`): how the customer's own
     * CLI asks its escrow to pay for a job. Without it that API answers 403.
     */
    adminToken: z.string().min(16).optional(),
    /** How often deadlines, challenge windows and unfinished steps are checked. */
    tickMs: z.number().int().min(10).max(60_000).default(250),
  })
  .strict();
export type SettlementConfig = z.infer<typeof SettlementConfig>;
export type SettlementConfigInput = z.input<typeof SettlementConfig>;

/** Parses a settlement config; the first problem becomes SETTLEMENT_CONFIG_INVALID with its path. */
export function parseSettlementConfig(value: unknown): SettlementConfig {
  const parsed = SettlementConfig.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new M2mError(
      'SETTLEMENT_CONFIG_INVALID',
      `settlement config: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
    );
  }
  return parsed.data;
}
