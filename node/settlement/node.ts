import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { isM2mError, M2mError } from '../../zkvm/errors.js';
import { bearerPeer, IlpHttpClient, ilpEndpoint, readBody } from '../ilp/http.js';
import { type RunningHttpServer, startHttpServer } from '../ilp/server.js';
import { openLedger } from '../ledger/open-ledger.js';
import { SqliteLedger, type SqliteLedgerOptions } from '../ledger/sqlite-ledger.js';
import type { Ledger } from '../ledger/types.js';
import { deposit, type MoveOptions, withdraw } from './accounts.js';
import {
  parseSettlementConfig,
  type SettlementConfig,
  type SettlementConfigInput,
  SettlementMode,
} from './config.js';
import { EscrowSettlement, type PayRequest, type StepHook } from './escrow.js';
import { SettlementEvents } from './events.js';
import { Journal, type PaymentRecord } from './journal.js';
import { type ProofCheck, zkProofCheck } from './proof-check.js';
import { ProviderSettlement } from './provider.js';

export interface SettlementNodeOptions {
  /** Decides proofs (default: `zkProofCheck()`, the ZKVerifier). */
  checkProof?: ProofCheck;
  /** Clock in ms (tests); the ledger uses the same clock. */
  now?: () => number;
  /** Crash-test hook, see `StepHook`. */
  onStep?: StepHook;
  /** Do not start the periodic tick (tests drive `tick()` themselves). */
  manualTick?: boolean;
  /** Start no HTTP server (CLI commands that only read the ledger). */
  noServer?: boolean;
}

const MAX_PROOF_BODY = 32 * 1024 * 1024;

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

const STATUS_OF: Record<string, number> = {
  PAYMENT_UNKNOWN: 404,
  FORBIDDEN: 403,
  SETTLEMENT_STATE: 409,
  SETTLEMENT_TRANSITION: 409,
  BAD_REQUEST: 400,
  ILP_WRONG_CONDITION: 400,
};

function sendError(res: ServerResponse, error: unknown): void {
  if (isM2mError(error)) {
    const status =
      STATUS_OF[error.code] ??
      (error.code.startsWith('PROVER_') || error.code.startsWith('LEDGER_') ? 503 : 400);
    sendJson(res, status, { error: { code: error.code, message: error.message } });
    return;
  }
  sendJson(res, 503, {
    error: { code: 'UNAVAILABLE', message: (error as Error).message ?? String(error) },
  });
}

async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const bytes = await readBody(req, MAX_PROOF_BODY);
  try {
    const value = JSON.parse(bytes.toString('utf8')) as unknown;
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch {
    throw new M2mError('BAD_REQUEST', 'the body must be a JSON object');
  }
}

const AdminPayment = z
  .object({
    paymentId: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/),
    provider: z.string().min(1),
    buyer: z.string().min(1),
    amount: z.string().regex(/^[1-9]\d{0,39}$/, 'a positive integer in the smallest unit'),
    /** ms since the epoch. */
    proofDeadline: z.number().int().positive(),
    expect: z
      .object({
        jobRequestHash: z.string().min(1),
        planHash: z.string().optional(),
        dataRoot: z.string().optional(),
        outputHash: z.string().optional(),
        minProgramVersion: z.string().optional(),
      })
      .strict(),
    mode: SettlementMode.optional(),
    info: z.record(z.string(), z.string()).optional(),
  })
  .strict();
export type AdminPayment = z.input<typeof AdminPayment>;

function parseAdminPayment(body: unknown): PayRequest {
  const parsed = AdminPayment.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new M2mError(
      'BAD_REQUEST',
      `payment request: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
    );
  }
  const { amount, expect, mode, info, ...rest } = parsed.data;
  return {
    ...rest,
    amount: BigInt(amount),
    expect: Object.fromEntries(
      Object.entries(expect).filter(([, v]) => v !== undefined),
    ) as unknown as PayRequest['expect'],
    ...(mode === undefined ? {} : { mode }),
    ...(info === undefined ? {} : { info }),
  };
}

/** What the admin API says of a payment (amounts as decimal strings). */
export interface PaymentView {
  paymentId: string;
  state: string;
  provider: string;
  buyer: string;
  amount: string;
  slashAmount: string;
  verdict: { valid: boolean; code?: string; reason?: string } | null;
  reason: string | null;
}

function paymentView(record: PaymentRecord): PaymentView {
  return {
    paymentId: record.id,
    state: record.state,
    provider: record.counterparty,
    buyer: record.buyer,
    amount: record.amount.toString(),
    slashAmount: record.slashAmount.toString(),
    verdict: record.verdict,
    reason: record.reason ?? null,
  };
}

/**
 * One node's settlement: ledger, journal, event stream, the escrow and provider roles, and the
 * HTTP endpoint that carries ILP-over-HTTP (`POST /ilp`) and the settlement API
 * (`/settlement/v1/...`). See node/settlement/README.md for the API a node integrates.
 */
export class SettlementNode {
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private constructor(
    private readonly clients: Map<string, IlpHttpClient>,
    readonly config: SettlementConfig,
    readonly ledger: Ledger,
    readonly journal: Journal,
    readonly events: SettlementEvents,
    readonly escrow: EscrowSettlement,
    readonly provider: ProviderSettlement,
    private server: RunningHttpServer | undefined,
  ) {}

  /** The base URL peers use (http://host:port), once listening. */
  get url(): string {
    if (this.server === undefined)
      throw new M2mError('NOT_LISTENING', 'this settlement node has no HTTP server');
    return this.server.url;
  }

  static async start(
    input: SettlementConfigInput,
    options: SettlementNodeOptions = {},
  ): Promise<SettlementNode> {
    const config = parseSettlementConfig(input);
    const now = options.now ?? Date.now;
    const sqliteOptions: SqliteLedgerOptions =
      options.now === undefined ? {} : { now: () => BigInt(now()) * 1_000_000n };
    const ledger = await openLedger(config.ledger, sqliteOptions);
    const journal = new Journal(config.journal, now);
    const events = new SettlementEvents();
    const clients = new Map<string, IlpHttpClient>();
    const client = (peer: string): IlpHttpClient => {
      let c = clients.get(peer);
      if (c === undefined) {
        const p = config.peers[peer];
        if (p === undefined)
          throw new M2mError('PEER_UNKNOWN', `no peer "${peer}" in the settlement config`);
        c = new IlpHttpClient({ url: `${p.url.replace(/\/$/, '')}/ilp`, token: p.token });
        clients.set(peer, c);
      }
      return c;
    };
    const common = {
      config,
      journal,
      events,
      client,
      now,
      ...(options.onStep === undefined ? {} : { onStep: options.onStep }),
    };
    const escrow = new EscrowSettlement({
      ...common,
      ledger,
      checkProof: options.checkProof ?? zkProofCheck(),
    });
    const provider = new ProviderSettlement(common);
    const node = new SettlementNode(
      clients,
      config,
      ledger,
      journal,
      events,
      escrow,
      provider,
      undefined,
    );
    if (options.noServer !== true) node.server = await node.listen();
    if (options.manualTick !== true)
      node.timer = setInterval(() => {
        void node.tick().catch(() => undefined);
      }, config.tickMs);
    return node;
  }

  private async listen(): Promise<RunningHttpServer> {
    const tokens = new Map(
      Object.entries(this.config.peers).map(([name, p]) => [p.acceptToken, name]),
    );
    const admin = (req: IncomingMessage): void => {
      const token = this.config.adminToken;
      if (token === undefined || req.headers.authorization !== `Bearer ${token}`)
        throw new M2mError(
          'FORBIDDEN',
          token === undefined
            ? 'this node has no adminToken in its settlement config, so its admin API is closed'
            : 'missing or wrong admin bearer token',
        );
    };
    const authed = (req: IncomingMessage): string => {
      const peer = bearerPeer(req, tokens);
      if (peer === undefined) throw new M2mError('FORBIDDEN', 'missing or unknown bearer token');
      return peer;
    };
    const ilp = ilpEndpoint({
      ilpAddress: this.config.ilpAddress,
      tokens,
      onPrepare: (prepare, ctx) => this.provider.onPrepare(prepare, ctx),
      onReply: (reply, ctx) => this.escrow.onReply(reply, ctx.idempotencyKey, ctx.peer),
    });
    const route =
      (
        handler: (req: IncomingMessage, path: string, params: URLSearchParams) => Promise<unknown>,
      ) =>
      async (req: IncomingMessage, res: ServerResponse, params: URLSearchParams, path: string) => {
        try {
          sendJson(res, 200, await handler(req, path, params));
        } catch (error) {
          sendError(res, error);
        }
      };
    return startHttpServer(
      {
        'POST /ilp': ilp,
        'POST /settlement/v1/proofs': route(async (req) => {
          const peer = authed(req);
          const body = await jsonBody(req);
          if (typeof body.paymentId !== 'string' || typeof body.envelope !== 'string')
            throw new M2mError(
              'BAD_REQUEST',
              'a proof submission is {paymentId, envelope (base64), output?}',
            );
          return this.escrow.submitProof(
            body.paymentId,
            {
              envelope: Buffer.from(body.envelope, 'base64'),
              ...(body.output === undefined ? {} : { output: body.output }),
            },
            peer,
          );
        }),
        'POST /settlement/v1/challenges': route(async (req) => {
          const body = await jsonBody(req);
          if (typeof body.paymentId !== 'string')
            throw new M2mError('BAD_REQUEST', 'a challenge is {paymentId, challenger?}');
          const challenger =
            typeof body.challenger === 'string' ? body.challenger.slice(0, 200) : 'anonymous';
          return this.escrow.challenge(body.paymentId, challenger);
        }),
        'GET /settlement/v1/payments/*': route(async (req, path) => {
          const peer = authed(req);
          const id = decodeURIComponent(path.slice('/settlement/v1/payments/'.length));
          const record = this.escrow.get(id);
          if (record === undefined || record.counterparty !== peer)
            throw new M2mError('PAYMENT_UNKNOWN', `no payment ${id}`);
          const result = record.state === 'prepared' ? undefined : this.escrow.statusOf(id);
          return {
            paymentId: id,
            state: record.state,
            ...(result === undefined ? {} : { result }),
          };
        }),
        'POST /settlement/v1/admin/payments': route(async (req) => {
          admin(req);
          const record = await this.escrow.pay(parseAdminPayment(await jsonBody(req)));
          return paymentView(record);
        }),
        'GET /settlement/v1/admin/payments/*': route(async (req, path) => {
          admin(req);
          const id = decodeURIComponent(path.slice('/settlement/v1/admin/payments/'.length));
          const record = this.escrow.get(id);
          if (record === undefined) throw new M2mError('PAYMENT_UNKNOWN', `no payment ${id}`);
          return paymentView(record);
        }),
        'GET /settlement/v1/events': route(async (req, _path, params) => {
          authed(req);
          return { events: this.journal.eventsSince(Number(params.get('since') ?? 0), 1000) };
        }),
      },
      this.config.listen,
    );
  }

  /** Runs one pass of both roles' deadlines and unfinished steps. */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      if (this.ledger instanceof SqliteLedger) this.ledger.expirePending();
      await this.escrow.tick();
      await this.provider.tick();
    } finally {
      this.ticking = false;
    }
  }

  deposit(o: Omit<MoveOptions, 'assetLedger'>): Promise<bigint> {
    return deposit(this.ledger, { ...o, assetLedger: this.config.assetLedger });
  }

  withdraw(o: Omit<MoveOptions, 'assetLedger'>): Promise<bigint> {
    return withdraw(this.ledger, { ...o, assetLedger: this.config.assetLedger });
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.server?.close();
    for (const c of this.clients.values()) c.close();
    this.journal.close();
    await this.ledger.close();
  }
}
