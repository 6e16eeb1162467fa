import { isM2mError } from '../../zkvm/errors.js';
import { encodeEnvelope } from '../../zkvm/proof/envelope.js';
import type { NostrEvent } from '../dvm/event.js';
import { parseJobResult } from '../dvm/result.js';
import type { SettlementConfig } from '../settlement/config.js';
import type { SettlementEvent } from '../settlement/events.js';
import { SettlementNode } from '../settlement/node.js';

/**
 * The provider's side of settlement inside `m2m node start`: a settlement node (ILP-over-HTTP)
 * that receives the customers' escrow PREPAREs, whose payment id is the job request id. Once a
 * job is proved and its PREPARE is held, the proof goes to the escrow, which verifies it and
 * releases the fulfillment; the node then sends the FULFILL and is paid. Whichever comes second
 * (the proof or the PREPARE) triggers the delivery, and a restart delivers what a crash left
 * undelivered, from the stored 6900.
 */
export interface ProviderPaymentsDeps {
  /** The job's signed 6900, once the provider recorded it. */
  resultOf(requestId: string): NostrEvent | undefined;
  /** The envelope bytes behind a `proof-ref` (the provider's own proof store). */
  fetchProof?(uri: string, sha256: string): Promise<Buffer>;
  log(entry: { event: 'payment'; requestId: string; [field: string]: unknown }): void;
}

export class ProviderPayments {
  private readonly inFlight = new Set<string>();

  private constructor(
    readonly node: SettlementNode,
    private readonly deps: ProviderPaymentsDeps,
  ) {}

  static async start(
    config: SettlementConfig,
    deps: ProviderPaymentsDeps,
  ): Promise<ProviderPayments> {
    const node = await SettlementNode.start(config);
    const payments = new ProviderPayments(node, deps);
    node.events.on('event', (e) => payments.onEvent(e));
    for (const record of node.journal.list('provider', ['held']))
      void payments.deliverStored(record.id);
    return payments;
  }

  get url(): string {
    return this.node.url;
  }

  /** Called when a job is proved: delivers the proof if its payment is already held. */
  async proved(
    requestId: string,
    envelope: Buffer,
    output: readonly Record<string, unknown>[],
  ): Promise<void> {
    if (this.node.provider.get(requestId)?.state !== 'held') return;
    await this.deliver(requestId, () => Promise.resolve({ envelope, output }));
  }

  private onEvent(e: SettlementEvent): void {
    if (e.type === 'payment.held') void this.deliverStored(e.paymentId);
    if (
      e.type === 'payment.fulfilled' ||
      e.type === 'payment.rejected' ||
      e.type === 'payment.expired'
    )
      this.deps.log({ event: 'payment', requestId: e.paymentId, outcome: e.type, ...e.data });
  }

  private async deliverStored(requestId: string): Promise<void> {
    const result = this.deps.resultOf(requestId);
    if (result === undefined) return; // not proved yet: `proved` delivers it
    await this.deliver(requestId, async () => {
      const parsed = parseJobResult(result);
      const envelope =
        parsed.proof.type === 'inline'
          ? encodeEnvelope(parsed.proof.envelope)
          : await this.fetch(parsed.proof.uri, parsed.proof.sha256);
      // A private job's output is encrypted to the customer; the escrow then checks the proof
      // alone (plan, data root, job request), and the customer checks the output itself.
      const output = parsed.encrypted ? undefined : (JSON.parse(parsed.output) as unknown);
      return { envelope, ...(Array.isArray(output) ? { output } : {}) };
    });
  }

  private fetch(uri: string, sha256: string): Promise<Buffer> {
    if (this.deps.fetchProof === undefined)
      throw new Error(`the proof is stored at ${uri} and this node has no proof store to read it`);
    return this.deps.fetchProof(uri, sha256);
  }

  private async deliver(
    requestId: string,
    submission: () => Promise<{ envelope: Buffer; output?: unknown }>,
  ): Promise<void> {
    if (this.inFlight.has(requestId)) return;
    this.inFlight.add(requestId);
    try {
      const outcome = await this.node.provider.deliverProof(requestId, await submission());
      this.deps.log({ event: 'payment', requestId, delivered: outcome.status });
    } catch (error) {
      // The escrow is unreachable or could not decide: the PREPARE stays held; a restart or the
      // next PREPARE retry delivers again before the proof deadline.
      this.deps.log({
        event: 'payment',
        requestId,
        deliveryFailed: isM2mError(error) ? `${error.code}: ${error.message}` : String(error),
      });
    } finally {
      this.inFlight.delete(requestId);
    }
  }

  close(): Promise<void> {
    return this.node.close();
  }
}
