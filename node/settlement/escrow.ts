import { randomBytes } from 'node:crypto';
import { M2mError } from '../../zkvm/errors.js';
import type { IlpHttpClient } from '../ilp/http.js';
import {
  deserializeReply,
  fulfills,
  IlpErrorCode,
  newFulfillment,
  type Reply,
  reject,
  serializeFulfill,
  serializeReject,
  U64_MAX,
} from '../ilp/packets.js';
import {
  AMOUNT_MAX,
  CreateTransferStatus,
  type Ledger,
  TransferFlags,
  transfer,
} from '../ledger/types.js';
import { accountSpec, applyChain, ensureAccounts, TransferCode, transferId } from './accounts.js';
import type { SettlementConfig, SettlementMode } from './config.js';
import type { SettlementEvents } from './events.js';
import type { Journal, NewEvent, PaymentRecord, PaymentState } from './journal.js';
import type { ProofCheck, ProofExpectation, ProofSubmission, ProofVerdict } from './proof-check.js';
import { encodeTerms, type PaymentTerms } from './terms.js';

export interface PayRequest {
  /** Idempotency key of the payment (e.g. the job request id); random when absent. */
  paymentId?: string;
  /** The provider's peer name in the settlement config. */
  provider: string;
  /** Owner of the buyer escrow account the money comes from. */
  buyer: string;
  amount: bigint;
  /** The proof must be submitted before this (the job deadline). */
  proofDeadline: Date | number;
  expect: ProofExpectation;
  mode?: SettlementMode;
  info?: Record<string, string>;
}

export type SubmitResult =
  | { status: 'released'; fulfillment: string }
  | { status: 'claimed'; windowEndsAt: number }
  | { status: 'rejected'; code: string; reason: string; reject: string }
  | { status: 'expired'; reason: string };

export type ChallengeResult =
  | { status: 'upheld'; code: string; reason: string }
  | { status: 'dismissed' }
  | { status: 'closed'; state: PaymentState };

/** A crash-test hook: called after each durable step; throwing from it simulates a crash. */
export type StepHook = (step: string, paymentId: string) => void;

export interface EscrowDeps {
  config: SettlementConfig;
  ledger: Ledger;
  journal: Journal;
  events: SettlementEvents;
  checkProof: ProofCheck;
  client(peer: string): IlpHttpClient;
  now?: () => number;
  onStep?: StepHook;
}

const SUBMISSION_VERSION = 1;

/** The ILP code of the REJECT that ended a payment (the provider's own, when it rejected). */
function replyCode(record: PaymentRecord, terminal: 'rejected' | 'expired'): string {
  if (terminal === 'expired') return IlpErrorCode.transferTimedOut;
  if (record.verdict === null && record.reply !== null) {
    const reply = deserializeReply(record.reply);
    if (reply.type === 'reject') return reply.code;
  }
  return IlpErrorCode.applicationError;
}

export function encodeSubmission(s: ProofSubmission): Buffer {
  return Buffer.from(
    JSON.stringify({
      v: SUBMISSION_VERSION,
      envelope: Buffer.from(s.envelope).toString('base64'),
      ...(s.output === undefined ? {} : { output: s.output }),
    }),
  );
}

export function decodeSubmission(bytes: Buffer): ProofSubmission {
  const value = JSON.parse(bytes.toString('utf8')) as { envelope: string; output?: unknown };
  return {
    envelope: Buffer.from(value.envelope, 'base64'),
    ...(value.output === undefined ? {} : { output: value.output }),
  };
}

/**
 * The buyer's side of settlement, which also holds the escrow: it creates the secret
 * fulfillment, holds the buyer's funds and the provider's bond as pending transfers, verifies the
 * proof (or runs the challenge window) and only then releases the fulfillment. Every step is
 * journaled first and then applied to the ledger with deterministic transfer ids, so `tick()`
 * after a crash finishes exactly the steps that were under way.
 */
export class EscrowSettlement {
  private readonly now: () => number;
  private readonly delivered = new Set<string>();
  /** Payments whose challenge is being verified: their window may not close meanwhile. */
  private readonly challenging = new Set<string>();

  constructor(private readonly deps: EscrowDeps) {
    this.now = deps.now ?? Date.now;
  }

  private get config(): SettlementConfig {
    return this.deps.config;
  }

  private step(name: string, id: string): void {
    this.deps.onStep?.(name, id);
  }

  private publish(events: ReturnType<Journal['transition']>['events']): void {
    for (const e of events) this.deps.events.emit(e);
  }

  private move(
    record: PaymentRecord,
    from: readonly PaymentState[],
    to: PaymentState,
    patch: Parameters<Journal['transition']>[4] = {},
    events: NewEvent[] = [],
  ): PaymentRecord {
    const out = this.deps.journal.transition('escrow', record.id, from, to, patch, events);
    this.publish(out.events);
    return out.record;
  }

  get(paymentId: string): PaymentRecord | undefined {
    return this.deps.journal.get('escrow', paymentId);
  }

  /** Opens a payment: holds the funds and the bond, then sends the PREPARE (async mode). */
  async pay(request: PayRequest): Promise<PaymentRecord> {
    const peer = this.config.peers[request.provider];
    if (peer === undefined)
      throw new M2mError('PEER_UNKNOWN', `no peer "${request.provider}" in the settlement config`);
    if (request.amount <= 0n || request.amount > U64_MAX)
      throw new M2mError(
        'AMOUNT_INVALID',
        `an ILP payment amount is from 1 to 2^64-1, got ${request.amount}`,
      );
    const paymentId = request.paymentId ?? randomBytes(16).toString('hex');
    const existing = this.get(paymentId);
    if (existing !== undefined) {
      if (
        existing.amount !== request.amount ||
        existing.buyer !== request.buyer ||
        existing.counterparty !== request.provider
      )
        throw new M2mError(
          'PAYMENT_CONFLICT',
          `payment ${paymentId} exists with another amount, buyer or provider; use a new payment id`,
        );
      if (existing.state === 'preparing') return this.finishPrepare(existing);
      return existing;
    }
    const now = this.now();
    const proofDeadline = new Date(request.proofDeadline).getTime();
    if (!(proofDeadline > now))
      throw new M2mError(
        'DEADLINE_PASSED',
        `the proof deadline ${new Date(proofDeadline).toISOString()} has passed`,
      );
    const mode = request.mode ?? this.config.mode;
    const window = mode === 'optimistic' ? this.config.challengeWindowMs : 0;
    const { fulfillment, condition } = newFulfillment();
    const slashAmount = (request.amount * BigInt(this.config.slash.bps)) / 10_000n;
    const terms: PaymentTerms = {
      v: 1,
      paymentId,
      mode,
      proofDeadline,
      challengeWindowMs: window,
      escrow: this.config.ilpAddress,
      expect: request.expect,
      info: request.info ?? {},
    };
    const { record } = this.deps.journal.insert({
      id: paymentId,
      role: 'escrow',
      state: 'preparing',
      mode,
      buyer: request.buyer,
      counterparty: request.provider,
      amount: request.amount,
      slashAmount,
      slashTo: this.config.slash.to,
      condition,
      fulfillment,
      proofDeadline,
      expiresAt: proofDeadline + window + this.config.fulfilMarginMs,
      windowEndsAt: null,
      expect: { ...terms.expect, info: JSON.stringify(terms.info) } as Record<string, string>,
      submission: null,
      verdict: null,
      reply: null,
      reason: null,
    });
    this.step('prepare:journaled', paymentId);
    return this.finishPrepare(record);
  }

  private accounts(record: PaymentRecord) {
    const L = this.config.assetLedger;
    const buyer = accountSpec('buyer', record.buyer, L);
    const revenue = accountSpec('revenue', record.counterparty, L);
    const stake = accountSpec('stake', record.counterparty, L);
    const fees = accountSpec('fees', 'fees', L);
    return { buyer, revenue, stake, fees, slashTo: record.slashTo === 'buyer' ? buyer : fees };
  }

  private async finishPrepare(record: PaymentRecord): Promise<PaymentRecord> {
    const a = this.accounts(record);
    await ensureAccounts(this.deps.ledger, [a.buyer, a.revenue, a.stake, a.fees]);
    // From the journaled creation time, not now: a resumed PREPARE must repeat the same transfers.
    const seconds =
      Math.ceil((record.expiresAt - record.createdAt) / 1000) + this.config.ledgerGraceSeconds;
    const L = this.config.assetLedger;
    const chain = [
      transfer({
        id: transferId(record.id, 'hold'),
        debit_account_id: a.buyer.id,
        credit_account_id: a.revenue.id,
        amount: record.amount,
        ledger: L,
        code: TransferCode.payment,
        flags: TransferFlags.pending,
        timeout: Math.max(seconds, 1),
      }),
      ...(record.slashAmount > 0n
        ? [
            transfer({
              id: transferId(record.id, 'bond'),
              debit_account_id: a.stake.id,
              credit_account_id: a.slashTo.id,
              amount: record.slashAmount,
              ledger: L,
              code: TransferCode.bond,
              flags: TransferFlags.pending,
              timeout: Math.max(seconds, 1),
            }),
          ]
        : []),
    ];
    const outcome = await applyChain(this.deps.ledger, chain);
    if (!outcome.ok) {
      const what =
        outcome.status === CreateTransferStatus.exceeds_credits
          ? outcome.index === 0
            ? ['BUYER_FUNDS_INSUFFICIENT', `buyer ${record.buyer} does not hold ${record.amount}`]
            : [
                'STAKE_INSUFFICIENT',
                `provider ${record.counterparty} has less than ${record.slashAmount} of free stake to bond (m2m stake deposit)`,
              ]
          : [
              'LEDGER_TRANSFER_FAILED',
              `holding the payment failed: ${CreateTransferStatus[outcome.status]}`,
            ];
      this.move(record, ['preparing'], 'failed', { reason: `${what[0]}: ${what[1]}` });
      throw new M2mError(what[0] as string, what[1] as string, {
        details: { paymentId: record.id },
      });
    }
    this.step('prepare:held', record.id);
    const prepared = this.move(record, ['preparing'], 'prepared', {}, [
      {
        type: 'payment.prepared',
        data: {
          buyer: record.buyer,
          provider: record.counterparty,
          amount: record.amount.toString(),
          bond: record.slashAmount.toString(),
          mode: record.mode,
          expiresAt: record.expiresAt,
          jobRequestHash: record.expect.jobRequestHash ?? null,
        },
      },
    ]);
    this.step('prepare:recorded', record.id);
    await this.sendPrepare(prepared);
    return this.get(record.id) as PaymentRecord;
  }

  private termsOf(record: PaymentRecord): PaymentTerms {
    const { info, ...expect } = record.expect;
    return {
      v: 1,
      paymentId: record.id,
      mode: record.mode,
      proofDeadline: record.proofDeadline,
      challengeWindowMs: record.mode === 'optimistic' ? this.config.challengeWindowMs : 0,
      escrow: this.config.ilpAddress,
      expect: expect as unknown as ProofExpectation,
      info: info === undefined ? {} : (JSON.parse(info) as Record<string, string>),
    };
  }

  /** Sends (or re-sends: the provider de-duplicates by Idempotency-Key) the PREPARE. */
  private async sendPrepare(record: PaymentRecord): Promise<void> {
    const peer = this.config.peers[record.counterparty];
    if (peer === undefined) return;
    let reply: Reply | 'accepted';
    try {
      reply = await this.deps.client(record.counterparty).sendPrepare(
        {
          amount: record.amount,
          expiresAt: new Date(record.expiresAt),
          executionCondition: record.condition,
          destination: peer.ilpAddress,
          data: encodeTerms(this.termsOf(record)),
        },
        { idempotencyKey: record.id, async: true },
      );
    } catch {
      // Unreachable for now: tick() sends it again until the proof deadline.
      return;
    }
    this.delivered.add(record.id);
    if (reply !== 'accepted') await this.onReply(reply, record.id, record.counterparty);
  }

  /** The provider's proof for a payment: verify mode decides now, optimistic opens the window. */
  async submitProof(
    paymentId: string,
    submission: ProofSubmission,
    peer: string,
  ): Promise<SubmitResult> {
    let record = this.forPeer(paymentId, peer);
    if (record.state === 'prepared' && this.now() > record.proofDeadline) {
      await this.expire(record, 'the proof came after the deadline');
      record = this.get(paymentId) as PaymentRecord;
    }
    const done = this.resultOf(record);
    if (done !== undefined) return done;
    if (record.state !== 'prepared')
      throw new M2mError('SETTLEMENT_STATE', `payment ${paymentId} is ${record.state}`);
    const bytes = encodeSubmission(submission);
    if (record.mode === 'optimistic') {
      const windowEndsAt = this.now() + this.config.challengeWindowMs;
      this.move(record, ['prepared'], 'claimed', { submission: bytes, windowEndsAt }, [
        { type: 'payment.claimed', data: { windowEndsAt } },
      ]);
      return { status: 'claimed', windowEndsAt };
    }
    const verdict = await this.deps.checkProof(this.termsOf(record).expect, submission);
    record = this.get(paymentId) as PaymentRecord;
    if (record.state !== 'prepared') return this.resultOf(record) ?? this.expiredResult(record);
    if (verdict.valid) {
      this.move(record, ['prepared'], 'released', { submission: bytes, verdict }, [
        { type: 'payment.released', data: { verified: true } },
      ]);
      this.step('release:recorded', paymentId);
      return { status: 'released', fulfillment: (record.fulfillment as Buffer).toString('hex') };
    }
    await this.rejectPayment(record, verdict, bytes);
    return this.resultOf(this.get(paymentId) as PaymentRecord) as SubmitResult;
  }

  /**
   * Anyone may challenge a claimed payment during its window. The escrow re-verifies the proof
   * itself (the verdict is cached, so repeated challenges cost nothing): a failing proof is
   * upheld (payment reversed, provider slashed); a valid one is dismissed and changes nothing.
   */
  async challenge(paymentId: string, challenger: string): Promise<ChallengeResult> {
    let record = this.get(paymentId);
    if (record === undefined) throw new M2mError('PAYMENT_UNKNOWN', `no payment ${paymentId}`);
    if (record.state !== 'claimed' || this.now() >= (record.windowEndsAt ?? 0))
      return { status: 'closed', state: record.state };
    let verdict: ProofVerdict | null = record.verdict;
    if (verdict === null) {
      this.challenging.add(paymentId);
      try {
        verdict = await this.deps.checkProof(
          this.termsOf(record).expect,
          decodeSubmission(record.submission as Buffer),
        );
      } finally {
        this.challenging.delete(paymentId);
      }
      this.deps.journal.setVerdict('escrow', paymentId, verdict);
    }
    record = this.get(paymentId) as PaymentRecord;
    if (verdict.valid) {
      this.publish([
        this.deps.journal.appendEvent(paymentId, {
          type: 'challenge.dismissed',
          data: { challenger },
        }),
      ]);
      return { status: 'dismissed' };
    }
    if (record.state !== 'claimed') return { status: 'closed', state: record.state };
    await this.rejectPayment(record, verdict, record.submission as Buffer, challenger);
    return {
      status: 'upheld',
      code: verdict.code ?? 'PROOF_INVALID',
      reason: verdict.reason ?? 'proof rejected',
    };
  }

  /** An async ILP reply from the provider: a FULFILL settles, a REJECT refunds. */
  async onReply(reply: Reply, paymentId: string | undefined, peer: string): Promise<void> {
    if (paymentId === undefined)
      throw new M2mError('IDEMPOTENCY_KEY_REQUIRED', 'an async reply needs its Idempotency-Key');
    const record = this.forPeer(paymentId, peer);
    if (reply.type === 'reject') {
      if (record.state !== 'prepared') return;
      const bytes = serializeReject(reply);
      this.move(record, ['prepared'], 'rejecting', {
        reply: bytes,
        reason: `the provider rejected: ${reply.code} ${reply.message}`,
      });
      await this.finishRefund(this.get(paymentId) as PaymentRecord);
      return;
    }
    if (!fulfills(reply.fulfillment, record.condition))
      throw new M2mError(
        'ILP_WRONG_CONDITION',
        `${IlpErrorCode.wrongCondition}: the fulfillment does not hash to the condition of ${paymentId}`,
      );
    if (record.state === 'fulfilled') return;
    if (record.state === 'released') {
      if (this.now() > record.expiresAt) {
        await this.expire(record, 'the FULFILL came after the PREPARE expired');
        throw new M2mError(
          'ILP_EXPIRED',
          `${IlpErrorCode.transferTimedOut}: payment ${paymentId} expired`,
        );
      }
      this.move(record, ['released'], 'fulfilling', { reply: serializeFulfill(reply) });
      this.step('fulfil:recorded', paymentId);
    } else if (record.state !== 'fulfilling')
      throw new M2mError(
        'SETTLEMENT_STATE',
        `payment ${paymentId} is ${record.state}; it cannot be fulfilled`,
      );
    await this.finishFulfil(this.get(paymentId) as PaymentRecord);
  }

  /** Deadlines, challenge windows, and steps a crash left under way. Safe to call any time. */
  async tick(): Promise<void> {
    const now = this.now();
    const open = this.deps.journal.list('escrow', [
      'preparing',
      'prepared',
      'claimed',
      'released',
      'fulfilling',
      'rejecting',
      'expiring',
    ]);
    for (const record of open) {
      try {
        switch (record.state) {
          case 'preparing':
            // A resumed PREPARE the ledger refuses (e.g. the buyer withdrew meanwhile) ends
            // `failed` with the reason on the record; the other open payments still get their tick.
            await this.finishPrepare(record).catch((error: unknown) => {
              if (this.get(record.id)?.state !== 'failed') throw error;
            });
            break;
          case 'prepared':
            if (now > record.proofDeadline)
              await this.expire(record, 'no proof before the deadline');
            else if (!this.delivered.has(record.id)) await this.sendPrepare(record);
            break;
          case 'claimed':
            // A proof shown invalid by a timely challenge is never released, even late.
            if (record.verdict?.valid === false)
              await this.rejectPayment(record, record.verdict, record.submission as Buffer);
            else if (now >= (record.windowEndsAt ?? 0) && !this.challenging.has(record.id))
              this.move(record, ['claimed'], 'released', {}, [
                { type: 'payment.released', data: { verified: false, unchallenged: true } },
              ]);
            break;
          case 'released':
            if (now > record.expiresAt)
              await this.expire(record, 'no FULFILL before the PREPARE expired');
            break;
          case 'fulfilling':
            await this.finishFulfil(record);
            break;
          case 'rejecting':
          case 'expiring':
            await this.finishRefund(record);
            break;
        }
      } catch (error) {
        if (error instanceof M2mError && error.code === 'SETTLEMENT_STATE') continue;
        throw error;
      }
    }
  }

  private forPeer(paymentId: string, peer: string): PaymentRecord {
    const record = this.get(paymentId);
    if (record === undefined) throw new M2mError('PAYMENT_UNKNOWN', `no payment ${paymentId}`);
    if (record.counterparty !== peer)
      throw new M2mError('FORBIDDEN', `payment ${paymentId} belongs to another provider`);
    return record;
  }

  /** What a proof submission for this payment would answer now (undefined while prepared). */
  statusOf(paymentId: string): SubmitResult | undefined {
    const record = this.get(paymentId);
    return record === undefined ? undefined : this.resultOf(record);
  }

  private expiredResult(record: PaymentRecord): SubmitResult {
    return { status: 'expired', reason: record.reason ?? `payment is ${record.state}` };
  }

  private resultOf(record: PaymentRecord): SubmitResult | undefined {
    switch (record.state) {
      case 'released':
      case 'fulfilling':
      case 'fulfilled':
        return { status: 'released', fulfillment: (record.fulfillment as Buffer).toString('hex') };
      case 'claimed':
        return { status: 'claimed', windowEndsAt: record.windowEndsAt ?? 0 };
      case 'rejecting':
      case 'rejected':
        return {
          status: 'rejected',
          code: record.verdict?.code ?? 'REJECTED',
          reason: record.reason ?? 'rejected',
          reject: (record.reply ?? Buffer.alloc(0)).toString('base64'),
        };
      case 'expiring':
      case 'expired':
      case 'failed':
        return this.expiredResult(record);
      default:
        return undefined;
    }
  }

  /** Invalid proof: REJECT F99, void the hold, post the bond (the slash). */
  private async rejectPayment(
    record: PaymentRecord,
    verdict: ProofVerdict,
    submission: Buffer,
    challenger?: string,
  ): Promise<void> {
    const message = `proof failed verification: ${verdict.code ?? 'PROOF_INVALID'}: ${verdict.reason ?? ''}`;
    const packet = reject(
      IlpErrorCode.applicationError,
      this.config.ilpAddress,
      message.slice(0, 1000),
    );
    this.move(
      record,
      [record.state],
      'rejecting',
      { submission, verdict, reply: serializeReject(packet), reason: message },
      challenger === undefined
        ? []
        : [{ type: 'challenge.upheld', data: { challenger, code: verdict.code ?? null } }],
    );
    this.step('reject:recorded', record.id);
    await this.finishRefund(this.get(record.id) as PaymentRecord);
  }

  private async expire(record: PaymentRecord, reason: string): Promise<void> {
    const packet = reject(IlpErrorCode.transferTimedOut, this.config.ilpAddress, reason);
    this.move(record, [record.state], 'expiring', { reply: serializeReject(packet), reason });
    this.step('expire:recorded', record.id);
    await this.finishRefund(this.get(record.id) as PaymentRecord);
  }

  private async finishFulfil(record: PaymentRecord): Promise<void> {
    const chain = [
      transfer({
        id: transferId(record.id, 'settle'),
        pending_id: transferId(record.id, 'hold'),
        amount: AMOUNT_MAX,
        flags: TransferFlags.post_pending_transfer,
      }),
      ...(record.slashAmount > 0n
        ? [
            transfer({
              id: transferId(record.id, 'unbond'),
              pending_id: transferId(record.id, 'bond'),
              flags: TransferFlags.void_pending_transfer,
            }),
          ]
        : []),
    ];
    const outcome = await applyChain(this.deps.ledger, chain);
    if (!outcome.ok) {
      if (outcome.status === CreateTransferStatus.pending_transfer_expired) {
        // The ledger's own timeout already returned the money: record that truthfully.
        this.move(record, ['fulfilling'], 'expiring', {
          reason: 'the ledger expired the hold before the FULFILL was applied',
        });
        return this.finishRefund(this.get(record.id) as PaymentRecord);
      }
      throw new M2mError(
        'LEDGER_TRANSFER_FAILED',
        `posting ${record.id} failed: ${CreateTransferStatus[outcome.status]}`,
      );
    }
    this.step('fulfil:posted', record.id);
    this.move(record, ['fulfilling'], 'fulfilled', {}, [
      {
        type: 'payment.fulfilled',
        data: {
          provider: record.counterparty,
          buyer: record.buyer,
          amount: record.amount.toString(),
          mode: record.mode,
        },
      },
    ]);
  }

  /** Voids the hold; in `rejecting` after a failed proof also posts the bond (slash). */
  private async finishRefund(record: PaymentRecord): Promise<void> {
    const slash = record.state === 'rejecting' && record.verdict?.valid === false;
    const chain = [
      transfer({
        id: transferId(record.id, 'refund'),
        pending_id: transferId(record.id, 'hold'),
        flags: TransferFlags.void_pending_transfer,
      }),
      ...(record.slashAmount > 0n
        ? [
            transfer({
              id: transferId(record.id, slash ? 'slash' : 'unbond'),
              pending_id: transferId(record.id, 'bond'),
              ...(slash
                ? { amount: AMOUNT_MAX, flags: TransferFlags.post_pending_transfer }
                : { flags: TransferFlags.void_pending_transfer }),
            }),
          ]
        : []),
    ];
    const outcome = await applyChain(this.deps.ledger, chain);
    let slashed = slash && record.slashAmount > 0n;
    if (!outcome.ok) {
      if (outcome.status !== CreateTransferStatus.pending_transfer_expired)
        throw new M2mError(
          'LEDGER_TRANSFER_FAILED',
          `refunding ${record.id} failed: ${CreateTransferStatus[outcome.status]}`,
        );
      slashed = false;
    }
    this.step('refund:voided', record.id);
    const terminal = record.state === 'rejecting' ? 'rejected' : 'expired';
    const events: NewEvent[] = [
      {
        type: terminal === 'rejected' ? 'payment.rejected' : 'payment.expired',
        data: {
          provider: record.counterparty,
          buyer: record.buyer,
          amount: record.amount.toString(),
          code: replyCode(record, terminal),
          reason: record.reason,
        },
      },
      ...(slashed
        ? [
            {
              type: 'provider.slashed' as const,
              data: {
                provider: record.counterparty,
                amount: record.slashAmount.toString(),
                to: record.slashTo === 'buyer' ? `buyer:${record.buyer}` : 'fees',
              },
            },
          ]
        : []),
    ];
    this.move(record, [record.state], terminal, {}, events);
  }
}
