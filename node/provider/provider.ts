import { join } from 'node:path';
import { npubEncode } from 'nostr-tools/nip19';
import { getPublicKey } from 'nostr-tools/pure';
import { isM2mError, M2mError } from '../../zkvm/errors.js';
import { PLAN_COMPILER_VERSION, planProgramId } from '../../zkvm/plan-proof/native.js';
import { type PlanProof, provePlan } from '../../zkvm/plan-proof/prove.js';
import { encodeEnvelope } from '../../zkvm/proof/envelope.js';
import { diagnoseBackends } from '../../zkvm/prover/doctor.js';
import { KIND_JOB_REQUEST, type NostrEvent } from '../dvm/event.js';
import { buildJobFeedback, type JobFeedbackInput } from '../dvm/feedback.js';
import { buildHandler } from '../dvm/handler.js';
import { type JobRequest, parseJobRequest } from '../dvm/request.js';
import { buildJobResult } from '../dvm/result.js';
import { type PoolSubscription, RelayPool } from '../nostr/pool.js';
import type { SettlementConfig } from '../settlement/config.js';
import { bridgeSettlementToVes } from '../settlement/ves-bridge.js';
import { ProofStore } from '../storage/proof-store.js';
import { type MarketRecorder, openMarketRecorder } from '../ves/recorder.js';
import type { ProviderConfig } from './config.js';
import { type Decision, decide, loadJob, REFUSAL } from './decide.js';
import { describeEstimate } from './estimate.js';
import { Outbox } from './outbox.js';
import { ProviderPayments } from './payments.js';
import { JobQueue } from './queue.js';
import { type JobRow, type JobState, JobStore } from './store.js';

/** The `d` tag of this provider's handler announcement (one per key; a restart replaces it). */
export const HANDLER_IDENTIFIER = 'm2m-zk-compute';

/** One line of the provider's log; `event` names what happened. */
export interface ProviderLogEntry {
  event:
    | 'key-created'
    | 'started'
    | 'relay'
    | 'received'
    | 'ignored'
    | 'refused'
    | 'accepted'
    | 'proving'
    | 'proved'
    | 'published'
    | 'failed'
    | 'publish-failed'
    | 'proof-uploaded'
    | 'proof-store-fallback'
    | 'payment'
    | 'error'
    | 'stopping'
    | 'stopped';
  requestId?: string;
  [field: string]: unknown;
}

export interface ProviderOptions {
  log?: (entry: ProviderLogEntry) => void;
}

const because = (error: unknown): string =>
  isM2mError(error) ? `${error.code}: ${error.message}` : String(error);

/**
 * Starts a provider: checks its backends, opens the job store, announces itself (kind 31990),
 * resumes unfinished jobs, and serves kind 5900 requests from its relays until `close()`.
 */
export async function startProvider(
  config: ProviderConfig,
  options: ProviderOptions = {},
): Promise<Provider> {
  const statuses = await diagnoseBackends();
  for (const backend of config.backends) {
    const status = statuses.find((s) => s.backend === backend);
    if (status?.usable !== true)
      throw new M2mError(
        'PROVIDER_BACKEND_UNAVAILABLE',
        `backend ${backend} is configured but cannot prove here: ${status?.detail ?? 'unknown backend'}; remove it from backends (see \`m2m zkvm doctor\`)`,
      );
  }
  let proofs: ProofStore | undefined;
  if (config.proofStorage !== undefined) {
    const log = options.log ?? (() => {});
    proofs = await ProofStore.open(config.proofStorage, {
      secretKey: config.secretKey,
      onFallback: (failure) => log({ event: 'proof-store-fallback', ...failure }),
    });
  }
  const provider = new Provider(config, options, proofs);
  try {
    await provider.start();
  } catch (error) {
    await provider.close({ force: true });
    throw error;
  }
  return provider;
}

export class Provider {
  readonly pubkey: string;
  readonly npub: string;
  readonly store: JobStore;
  private readonly pool: RelayPool;
  private readonly outbox: Outbox;
  private readonly queue: JobQueue;
  private readonly log: (entry: ProviderLogEntry) => void;
  private subscription: PoolSubscription | undefined;
  /** ILP payments through the customers' escrows, when `settlement` is configured. */
  payments: ProviderPayments | undefined;
  private recorder: MarketRecorder | undefined;
  private deciding: Promise<void> = Promise.resolve();
  private stopping = false;
  private closed = false;

  constructor(
    private readonly config: ProviderConfig,
    options: ProviderOptions,
    /** The proof stores (and the embedded Blossom server), when `proofStorage` is configured. */
    readonly proofs?: ProofStore | undefined,
  ) {
    this.log = options.log ?? (() => {});
    this.pubkey = getPublicKey(config.secretKey);
    this.npub = npubEncode(this.pubkey);
    this.store = new JobStore(join(config.dataDir, 'jobs.db'));
    this.pool = new RelayPool(config.relays, {
      onStatus: (url, status) => this.log({ event: 'relay', url, status }),
    });
    this.outbox = new Outbox(this.store, this.pool, {
      onConfirmed: (entry, job) => {
        if (job?.state === 'published')
          this.log({ event: 'published', requestId: job.requestId, resultId: entry.eventId });
      },
      onPublishFailed: (entry, why) =>
        this.log({
          event: 'publish-failed',
          requestId: entry.requestId,
          eventId: entry.eventId,
          kind: entry.kind,
          why,
        }),
    });
    this.queue = new JobQueue(
      config.concurrency,
      (id) => this.prove(id),
      (id, error) => this.log({ event: 'error', requestId: id, message: because(error) }),
    );
  }

  /** Internal to startProvider. */
  async start(): Promise<void> {
    if (this.config.vesSyncDir !== undefined) {
      this.recorder = openMarketRecorder(this.config.vesSyncDir);
      if (this.recorder === undefined)
        throw new M2mError(
          'VES_NOT_INITIALIZED',
          `ves.syncDir ${this.config.vesSyncDir} is not set up: run m2m sync init --dir ${this.config.vesSyncDir} and m2m sync keys generate --dir ${this.config.vesSyncDir}`,
        );
    }
    if (this.config.settlement !== undefined)
      this.payments = await this.startPayments(this.config.settlement);
    const undecided = this.store.undecided();
    const unproven = this.store.unproven();
    const unsent = this.store.pendingOutbox().length;
    this.store.enqueue(
      buildHandler(
        {
          identifier: HANDLER_IDENTIFIER,
          metadata: {
            name: this.config.name,
            ...(this.config.about === undefined ? {} : { about: this.config.about }),
          },
          programs: [
            { backend: 'miden', programId: planProgramId(), version: PLAN_COMPILER_VERSION },
          ],
          prices: [{ msats: this.config.priceMsats, unit: 'per-job' }],
        },
        this.config.secretKey,
      ),
    );
    await this.pool.connect();
    for (const id of undecided) this.scheduleDecision(id);
    for (const id of unproven) this.queue.push(id);
    void this.outbox.flush();
    const since = Math.floor(Date.now() / 1000) - this.config.maxRequestAgeSec;
    this.subscription = this.pool.subscribe(
      [
        { kinds: [KIND_JOB_REQUEST], '#p': [this.pubkey], since },
        { kinds: [KIND_JOB_REQUEST], since },
      ],
      {
        onevent: (event) => this.onRequest(event),
        onclosed: (url, reason) =>
          this.log({ event: 'error', message: `relay ${url} closed the subscription: ${reason}` }),
      },
    );
    this.log({
      event: 'started',
      pubkey: this.pubkey,
      npub: this.npub,
      relays: this.config.relays,
      backends: this.config.backends,
      priceMsats: this.config.priceMsats.toString(),
      jobStore: this.store.path,
      ...(this.proofs === undefined
        ? {}
        : {
            proofStorage: {
              stores: this.proofs.storage.name,
              blossomServer: this.proofs.server?.url,
              inlineMaxBytes: this.config.proofStorage?.inlineMaxBytes,
            },
          }),
      resumed: { undecided: undecided.length, unproven: unproven.length, unsent },
    });
  }

  private async startPayments(config: SettlementConfig): Promise<ProviderPayments> {
    const proofs = this.proofs;
    const payments = await ProviderPayments.start(config, {
      resultOf: (id) => this.store.resultEvent(id),
      ...(proofs === undefined
        ? {}
        : { fetchProof: async (uri, sha256) => Buffer.from(await proofs.fetch(uri, sha256)) }),
      log: (entry) => this.log(entry),
    });
    // A settled job's proofs are pinned (GC keeps them); so are a disputed job's.
    payments.node.events.on('payment.fulfilled', (e) => proofs?.markJobSettled(e.paymentId));
    payments.node.events.on('payment.rejected', (e) => proofs?.markJobSettled(e.paymentId));
    if (this.recorder !== undefined) {
      const recorder = this.recorder;
      await bridgeSettlementToVes(payments.node, recorder);
    }
    return payments;
  }

  status(): { pubkey: string; counts: Record<JobState, number>; running: string[] } {
    return { pubkey: this.pubkey, counts: this.store.counts(), running: this.queue.runningIds };
  }

  /**
   * Stops taking requests. Graceful: waits for the running proofs and the pending publications.
   * `force`: closes at once; interrupted jobs stay `accepted`/`proving` and re-run on restart.
   */
  async close(options: { force?: boolean } = {}): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.subscription?.close();
      this.queue.stop();
      this.log({
        event: 'stopping',
        running: this.queue.runningIds,
        force: options.force === true,
      });
    }
    if (options.force !== true) {
      await this.deciding;
      await this.queue.idle();
      await this.outbox.flush();
    }
    if (this.closed) return;
    this.closed = true;
    await this.outbox.close();
    this.pool.close();
    const counts = this.store.counts();
    this.store.close();
    await this.proofs?.close();
    await this.payments?.close();
    this.recorder?.close();
    this.log({ event: 'stopped', counts });
  }

  private onRequest(event: NostrEvent): void {
    if (this.stopping) return;
    const addressed = event.tags.filter((t) => t[0] === 'p').map((t) => t[1]);
    if (addressed.length > 0 && !addressed.includes(this.pubkey)) return;
    if (event.created_at < Math.floor(Date.now() / 1000) - this.config.maxRequestAgeSec) {
      this.log({ event: 'ignored', requestId: event.id, reason: 'older than maxRequestAge' });
      return;
    }
    // A request seen again (another relay, a replay after reconnecting) is already in the store.
    if (!this.store.receive(event)) return;
    this.log({ event: 'received', requestId: event.id, customer: event.pubkey });
    this.scheduleDecision(event.id);
  }

  /** Decisions run one at a time: one may execute the plan in the VM for its estimate. */
  private scheduleDecision(id: string): void {
    this.deciding = this.deciding
      .then(() => this.decideJob(id))
      .catch((error: unknown) =>
        this.log({ event: 'error', requestId: id, message: because(error) }),
      );
  }

  private async decideJob(id: string): Promise<void> {
    const row = this.store.get(id);
    if (row?.state !== 'received') return;
    let request: JobRequest;
    try {
      request = parseJobRequest(row.request);
    } catch (error) {
      if (!isM2mError(error)) throw error;
      this.refuse(row, REFUSAL.badRequest, because(error));
      return;
    }
    let decision: Decision;
    try {
      decision = await decide(request, this.config, this.config.backends);
    } catch (error) {
      this.log({ event: 'error', requestId: id, message: because(error) });
      decision = {
        accept: false,
        code: 'PROVIDER_INTERNAL',
        reason: 'the provider failed while checking this request',
      };
    }
    if (this.closed) return;
    if (!decision.accept) {
      this.refuse(row, decision.code, decision.reason);
      return;
    }
    const feedback = this.feedback(row, {
      status: 'processing',
      info: `accepted: proving on miden, estimated ${describeEstimate(decision.estimate)}`,
    });
    this.store.accept(id, decision.estimate.seconds, decision.timeoutSec, feedback);
    void this.outbox.flush();
    this.log({
      event: 'accepted',
      requestId: id,
      estimateSec: Math.ceil(decision.estimate.seconds),
      estimateBasis: decision.estimate.basis,
      traceRows: decision.estimate.traceRows,
      timeoutSec: decision.timeoutSec,
    });
    this.queue.push(id);
  }

  private async prove(id: string): Promise<void> {
    if (this.closed) return;
    const row = this.store.get(id);
    if (row === undefined || row.resultEventId !== undefined) return;
    if (row.state !== 'accepted' && row.state !== 'proving') return;
    let request: JobRequest;
    try {
      request = parseJobRequest(row.request);
    } catch (error) {
      this.fail(row, REFUSAL.badRequest, because(error));
      return;
    }
    const loaded = loadJob(request, this.config);
    if ('accept' in loaded) {
      this.fail(row, loaded.code, loaded.reason);
      return;
    }
    this.store.startProving(id);
    this.log({ event: 'proving', requestId: id, attempt: row.attempts + 1 });
    let proof: PlanProof;
    try {
      proof = await provePlan(loaded.validated, loaded.data, {
        timeoutMs: (row.timeoutSec ?? this.config.maxProvingTimeSec) * 1000,
        ...(this.config.maxMemoryMb === undefined ? {} : { maxMemoryMb: this.config.maxMemoryMb }),
      });
    } catch (error) {
      if (this.closed) return;
      this.fail(row, 'PROVIDER_PROVING_FAILED', because(error));
      return;
    }
    if (this.closed) return;
    let proofRef: string | undefined;
    const envelopeBytes = encodeEnvelope(proof.envelope);
    const storage = this.config.proofStorage;
    if (
      this.proofs !== undefined &&
      storage !== undefined &&
      envelopeBytes.length > storage.inlineMaxBytes
    ) {
      try {
        const stored = await this.proofs.upload(envelopeBytes, { jobId: id });
        proofRef = stored.uri;
        this.log({
          event: 'proof-uploaded',
          requestId: id,
          store: stored.store,
          ref: stored.uri,
          bytes: stored.size,
        });
      } catch (error) {
        if (this.closed) return;
        this.fail(row, 'PROVIDER_PROOF_STORAGE_FAILED', because(error));
        return;
      }
      if (this.closed) return;
    }
    let result: NostrEvent;
    try {
      result = buildJobResult(
        {
          request,
          envelope: proof.envelope,
          proofRef,
          output: JSON.stringify(proof.execution.output),
          amount: { msats: request.bidMsats },
        },
        this.config.secretKey,
      );
    } catch (error) {
      if (!isM2mError(error)) throw error;
      this.fail(row, 'PROVIDER_RESULT_INVALID', because(error));
      return;
    }
    const { provingTimeMs, cyclesUsed } = proof.envelope.metadata;
    const success = this.feedback(row, {
      status: 'success',
      info: `proved in ${provingTimeMs} ms (${cyclesUsed} VM cycles); result ${result.id}`,
    });
    this.store.recordResult(id, result, success, {
      provingMs: provingTimeMs,
      vmCycles: cyclesUsed,
    });
    this.log({
      event: 'proved',
      requestId: id,
      resultId: result.id,
      provingMs: provingTimeMs,
      vmCycles: cyclesUsed,
      proofBytes: proof.envelope.proof.length,
    });
    await this.recorder?.record('job.proved', {
      jobId: id,
      provider: this.pubkey,
      programId: proof.envelope.programId,
      planHash: proof.statement.planHash,
      outputHash: proof.statement.outputHash,
      ...(proofRef === undefined ? {} : { proofRef }),
      provingTimeMs,
      cyclesUsed,
    });
    void this.payments?.proved(id, envelopeBytes, proof.execution.output);
    await this.outbox.flush();
  }

  private refuse(row: JobRow, code: string, reason: string): void {
    this.store.refuse(
      row.requestId,
      code,
      reason,
      this.feedback(row, { status: 'error', info: `${code}: ${reason}` }),
    );
    void this.outbox.flush();
    this.log({ event: 'refused', requestId: row.requestId, code, reason });
  }

  private fail(row: JobRow, code: string, reason: string): void {
    this.store.fail(
      row.requestId,
      code,
      reason,
      this.feedback(row, { status: 'error', info: `${code}: ${reason}` }),
    );
    void this.outbox.flush();
    this.log({ event: 'failed', requestId: row.requestId, code, reason });
  }

  private feedback(row: JobRow, fields: Pick<JobFeedbackInput, 'status' | 'info'>): NostrEvent {
    return buildJobFeedback(
      { requestId: row.requestId, customer: row.customer, ...fields },
      this.config.secretKey,
    );
  }
}
