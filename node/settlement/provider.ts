import { M2mError } from '../../zkvm/errors.js';
import type { IlpHttpClient, IlpRequestContext } from '../ilp/http.js';
import {
  fulfills,
  IlpErrorCode,
  type Prepare,
  type Reply,
  reject,
  serializeFulfill,
} from '../ilp/packets.js';
import type { SettlementConfig } from './config.js';
import { encodeSubmission, type StepHook, type SubmitResult } from './escrow.js';
import type { SettlementEvents } from './events.js';
import type { Journal, NewEvent, PaymentRecord, PaymentState } from './journal.js';
import type { ProofSubmission } from './proof-check.js';
import { decodeTerms, type PaymentTerms } from './terms.js';

export interface ProviderDeps {
  config: SettlementConfig;
  journal: Journal;
  events: SettlementEvents;
  client(peer: string): IlpHttpClient;
  now?: () => number;
  onStep?: StepHook;
}

export type DeliverResult =
  | { status: 'fulfilled' }
  | { status: 'claimed'; windowEndsAt: number }
  | { status: 'rejected'; code: string; reason: string }
  | { status: 'expired'; reason: string };

/**
 * The provider's side: it accepts PREPAREs (ILP-over-HTTP, async mode) and holds them, submits
 * its proof to the escrow, and sends the FULFILL once the escrow releases the fulfillment. It can
 * never fulfil on its own: the fulfillment is a secret of the escrow until the proof is accepted.
 */
export class ProviderSettlement {
  private readonly now: () => number;

  constructor(private readonly deps: ProviderDeps) {
    this.now = deps.now ?? Date.now;
  }

  get(paymentId: string): PaymentRecord | undefined {
    return this.deps.journal.get('provider', paymentId);
  }

  /** Terms of a held payment (what the job must prove to be paid). */
  termsOf(paymentId: string): PaymentTerms | undefined {
    const r = this.get(paymentId);
    return r === undefined ? undefined : (JSON.parse(r.expect.terms as string) as PaymentTerms);
  }

  private move(
    record: PaymentRecord,
    from: readonly PaymentState[],
    to: PaymentState,
    patch: Parameters<Journal['transition']>[4] = {},
    events: NewEvent[] = [],
  ): PaymentRecord {
    const out = this.deps.journal.transition('provider', record.id, from, to, patch, events);
    for (const e of out.events) this.deps.events.emit(e);
    return out.record;
  }

  /** A PREPARE from an escrow peer: check it, hold it, answer 202 (the reply comes later). */
  async onPrepare(prepare: Prepare, ctx: IlpRequestContext): Promise<Reply | 'accepted'> {
    const me = this.deps.config.ilpAddress;
    if (prepare.destination !== me)
      return reject(IlpErrorCode.unreachable, me, `no route to ${prepare.destination}`);
    if (prepare.expiresAt.getTime() <= this.now())
      return reject(IlpErrorCode.transferTimedOut, me, 'the PREPARE has already expired');
    if (prepare.amount === 0n) return reject(IlpErrorCode.invalidAmount, me, 'amount is zero');
    let terms: PaymentTerms;
    try {
      terms = decodeTerms(prepare.data);
    } catch (error) {
      return reject(IlpErrorCode.badRequest, me, (error as Error).message);
    }
    if (!ctx.async)
      return reject(
        IlpErrorCode.badRequest,
        me,
        'a settlement PREPARE needs Prefer: respond-async (its FULFILL comes after the proof)',
      );
    if (ctx.idempotencyKey !== terms.paymentId)
      return reject(IlpErrorCode.badRequest, me, 'Idempotency-Key must be the payment id');
    const existing = this.get(terms.paymentId);
    if (existing !== undefined)
      return existing.condition.equals(prepare.executionCondition) &&
        existing.amount === prepare.amount
        ? 'accepted'
        : reject(IlpErrorCode.badRequest, me, `payment ${terms.paymentId} exists with other terms`);
    const { events } = this.deps.journal.insert(
      {
        id: terms.paymentId,
        role: 'provider',
        state: 'held',
        mode: terms.mode,
        buyer: terms.escrow,
        counterparty: ctx.peer,
        amount: prepare.amount,
        slashAmount: 0n,
        slashTo: 'buyer',
        condition: prepare.executionCondition,
        fulfillment: null,
        proofDeadline: terms.proofDeadline,
        expiresAt: prepare.expiresAt.getTime(),
        windowEndsAt: null,
        expect: { terms: JSON.stringify(terms) },
        submission: null,
        verdict: null,
        reply: null,
        reason: null,
      },
      [
        {
          type: 'payment.held',
          data: {
            escrow: ctx.peer,
            amount: prepare.amount.toString(),
            expiresAt: prepare.expiresAt.getTime(),
            jobRequestHash: terms.expect.jobRequestHash,
          },
        },
      ],
    );
    for (const e of events) this.deps.events.emit(e);
    return 'accepted';
  }

  private escrowUrl(record: PaymentRecord): { url: string; token: string } {
    const peer = this.deps.config.peers[record.counterparty];
    if (peer === undefined)
      throw new M2mError(
        'PEER_UNKNOWN',
        `no peer "${record.counterparty}" in the settlement config`,
      );
    return { url: peer.url.replace(/\/$/, ''), token: peer.token };
  }

  private async api<T>(
    record: PaymentRecord,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<T> {
    const { url, token } = this.escrowUrl(record);
    let res: Response;
    try {
      res = await fetch(`${url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new M2mError(
        'ESCROW_UNREACHABLE',
        `cannot reach the escrow at ${url}: ${String(error)}`,
      );
    }
    const json = (await res.json().catch(() => ({}))) as T & {
      error?: { code: string; message: string };
    };
    if (!res.ok)
      throw new M2mError(
        json.error?.code ?? 'ESCROW_HTTP_STATUS',
        json.error?.message ?? `the escrow answered ${res.status}`,
        { details: { status: res.status } },
      );
    return json;
  }

  /**
   * Submits the proof for a held payment. Verify mode: the escrow verifies and releases the
   * fulfillment, and this sends the FULFILL at once. Optimistic mode: the payment is claimed and
   * `tick()` collects the fulfillment when the challenge window closes.
   */
  async deliverProof(paymentId: string, submission: ProofSubmission): Promise<DeliverResult> {
    const record = this.get(paymentId);
    if (record === undefined) throw new M2mError('PAYMENT_UNKNOWN', `no held payment ${paymentId}`);
    const envelope = JSON.parse(encodeSubmission(submission).toString('utf8')) as Record<
      string,
      unknown
    >;
    const result = await this.api<SubmitResult>(record, 'POST', '/settlement/v1/proofs', {
      paymentId,
      ...envelope,
    });
    return this.apply(record, result);
  }

  private async apply(
    record: PaymentRecord,
    result: SubmitResult | { status: 'pending' },
  ): Promise<DeliverResult> {
    switch (result.status) {
      case 'released':
        await this.fulfil(record, Buffer.from(result.fulfillment, 'hex'));
        return { status: 'fulfilled' };
      case 'claimed':
        if (record.state === 'held')
          this.move(record, ['held'], 'claimed', { windowEndsAt: result.windowEndsAt });
        return { status: 'claimed', windowEndsAt: result.windowEndsAt };
      case 'rejected':
        if (record.state === 'held' || record.state === 'claimed')
          this.move(
            record,
            [record.state],
            'rejected',
            {
              reply: Buffer.from(result.reject, 'base64'),
              reason: result.reason,
            },
            [{ type: 'payment.rejected', data: { code: result.code, reason: result.reason } }],
          );
        return { status: 'rejected', code: result.code, reason: result.reason };
      case 'expired':
        this.expire(record, result.reason);
        return { status: 'expired', reason: result.reason };
      default:
        return { status: 'claimed', windowEndsAt: record.windowEndsAt ?? 0 };
    }
  }

  private async fulfil(record: PaymentRecord, fulfillment: Buffer): Promise<void> {
    if (!fulfills(fulfillment, record.condition))
      throw new M2mError(
        'ESCROW_BAD_FULFILLMENT',
        `the escrow released a fulfillment that does not match ${record.id}`,
      );
    let current = this.get(record.id) as PaymentRecord;
    if (current.state === 'fulfilled') return;
    if (current.state === 'held' || current.state === 'claimed')
      current = this.move(current, [current.state], 'fulfilling', { fulfillment });
    this.deps.onStep?.('provider:fulfilling', record.id);
    const reply = serializeFulfill({ fulfillment, data: Buffer.alloc(0) });
    await this.deps
      .client(current.counterparty)
      .sendReply({ type: 'fulfill', fulfillment, data: Buffer.alloc(0) }, current.id);
    this.move(current, ['fulfilling'], 'fulfilled', { reply }, [
      { type: 'payment.fulfilled', data: { amount: current.amount.toString() } },
    ]);
  }

  private expire(record: PaymentRecord, reason: string): void {
    const current = this.get(record.id) as PaymentRecord;
    if (current.state === 'held' || current.state === 'claimed' || current.state === 'fulfilling')
      this.move(current, [current.state], 'expired', { reason }, [
        { type: 'payment.expired', data: { reason } },
      ]);
  }

  /** Collects released fulfillments, re-sends unacknowledged FULFILLs, expires old PREPAREs. */
  async tick(): Promise<void> {
    const now = this.now();
    for (const record of this.deps.journal.list('provider', ['held', 'claimed', 'fulfilling'])) {
      try {
        if (record.state === 'fulfilling' && record.fulfillment !== null) {
          if (now > record.expiresAt)
            this.expire(record, 'the PREPARE expired before the FULFILL was accepted');
          else await this.fulfil(record, record.fulfillment);
        } else if (now > record.expiresAt) this.expire(record, 'the PREPARE expired');
        else if (record.state === 'claimed' && now >= (record.windowEndsAt ?? 0)) {
          const status = await this.api<{ result?: SubmitResult }>(
            record,
            'GET',
            `/settlement/v1/payments/${encodeURIComponent(record.id)}`,
          );
          if (status.result !== undefined && status.result.status !== 'claimed')
            await this.apply(record, status.result);
        }
      } catch (error) {
        if (error instanceof M2mError) continue; // the escrow is unreachable or busy: next tick
        throw error;
      }
    }
  }
}
