import { M2mError } from '../../zkvm/errors.js';
import { KIND_JOB_FEEDBACK, KIND_JOB_RESULT, type NostrEvent } from '../dvm/event.js';
import { type JobFeedback, parseJobFeedback } from '../dvm/feedback.js';
import type { Filter, PoolSubscription, RelayPool } from '../nostr/pool.js';
import type { ProofFetcher } from '../storage/fetch.js';
import type { CustomerJob } from './store.js';
import { type JobVerdict, verifyJobResult } from './verify.js';

/** Feedback and results that point at the job (`#e`). */
export const jobFilter = (requestId: string): Filter => ({
  kinds: [KIND_JOB_FEEDBACK, KIND_JOB_RESULT],
  '#e': [requestId],
});

/**
 * The events matching `filters` that the relays hold now (until every EOSE). `hint` ends the
 * RELAY_UNREACHABLE message when no relay connects (what the caller can pass instead).
 */
export async function fetchStoredEvents(
  pool: RelayPool,
  filters: Filter[],
  hint: string,
): Promise<NostrEvent[]> {
  await pool.connect();
  if (!Object.values(pool.status()).includes('connected'))
    throw new M2mError(
      'RELAY_UNREACHABLE',
      `none of the relays answered (${pool.urls.join(', ')}); check they run, or ${hint}`,
    );
  return new Promise((resolve) => {
    const events: NostrEvent[] = [];
    let sub: PoolSubscription | undefined;
    // With no relay connected the pool sends EOSE at once, inside subscribe().
    let ended = false;
    sub = pool.subscribe(filters, {
      onevent: (event) => events.push(event),
      oneose: () => {
        ended = true;
        sub?.close();
        resolve(events);
      },
    });
    if (ended) sub.close();
  });
}

/** The job's feedback and results the relays hold now (until EOSE). */
export const fetchJobEvents = (pool: RelayPool, requestId: string): Promise<NostrEvent[]> =>
  fetchStoredEvents(pool, [jobFilter(requestId)], 'pass --relay');

/** Feedback that parses, from a provider the request addressed (any provider if none). */
export function readFeedback(job: CustomerJob, event: NostrEvent): JobFeedback | undefined {
  try {
    const feedback = parseJobFeedback(event);
    if (feedback.requestId !== job.requestId) return undefined;
    if (job.providers.length > 0 && !job.providers.includes(feedback.pubkey)) return undefined;
    return feedback;
  } catch {
    return undefined;
  }
}

export type WaitOutcome =
  | { outcome: 'verified'; verdict: JobVerdict }
  | { outcome: 'refused'; feedback: JobFeedback[] };

export interface WaitOptions {
  timeoutMs: number;
  customerSecretKey?: Uint8Array | undefined;
  /** Fetches proofs sent by reference (default: from the servers the reference names). */
  fetchProof?: ProofFetcher | undefined;
  onFeedback?: (feedback: JobFeedback) => void;
  /** A result arrived and was checked (valid or not). */
  onResult?: (verdict: JobVerdict) => void;
  /** An event that is neither valid feedback for this job nor a result. */
  onIgnored?: (event: NostrEvent, why: string) => void;
}

/**
 * Follows a job until it ends: the first valid result wins. A result that fails verification, or
 * an `error` feedback, ends the wait only once every addressed provider has given one; a request
 * addressed to no provider waits for any valid result until the timeout, then reports the last
 * invalid result if there was one. Fails with JOB_TIMEOUT otherwise.
 */
export async function waitForJob(
  pool: RelayPool,
  job: CustomerJob,
  options: WaitOptions,
): Promise<WaitOutcome> {
  await pool.connect();
  return new Promise((resolve, reject) => {
    const failed = new Map<string, JobVerdict | JobFeedback>();
    const errors: JobFeedback[] = [];
    let lastInvalid: JobVerdict | undefined;
    let lastFeedback: JobFeedback | undefined;
    let done = false;
    let checking = Promise.resolve();
    let sub: PoolSubscription | undefined;
    let timer: NodeJS.Timeout | undefined;
    // nostr-tools keeps a subscription's EOSE timer running when it is closed before its EOSE,
    // which holds a CLI process open for that long; so the end waits for the EOSE.
    let eosed = false;
    let afterEose: (() => void) | undefined;
    const finish = (settle: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const end = () => {
        sub?.close();
        settle();
      };
      if (eosed) end();
      else afterEose = end;
    };
    const allAddressedFailed = () =>
      job.providers.length > 0 && job.providers.every((p) => failed.has(p));
    const endIfAllFailed = () => {
      if (!allAddressedFailed()) return;
      if (lastInvalid !== undefined) {
        const verdict = lastInvalid;
        finish(() => resolve({ outcome: 'verified', verdict }));
      } else finish(() => resolve({ outcome: 'refused', feedback: errors }));
    };
    const onResult = async (event: NostrEvent) => {
      const verdict = await verifyJobResult(job, event, options.customerSecretKey, {
        fetchProof: options.fetchProof,
      });
      if (done) return;
      options.onResult?.(verdict);
      if (verdict.valid) {
        finish(() => resolve({ outcome: 'verified', verdict }));
        return;
      }
      lastInvalid = verdict;
      if (verdict.provider !== undefined && job.providers.includes(verdict.provider))
        failed.set(verdict.provider, verdict);
      endIfAllFailed();
    };
    sub = pool.subscribe([jobFilter(job.requestId)], {
      oneose: () => {
        eosed = true;
        afterEose?.();
      },
      onevent: (event) => {
        if (done) return;
        if (event.kind === KIND_JOB_RESULT) {
          if (job.providers.length > 0 && !job.providers.includes(event.pubkey)) {
            options.onIgnored?.(event, 'a result from a provider the request did not address');
            return;
          }
          // One at a time: verification is CPU work, and the order of verdicts stays the order seen.
          checking = checking
            .then(() => onResult(event))
            .catch((error: unknown) => finish(() => reject(error)));
          return;
        }
        const feedback = readFeedback(job, event);
        if (feedback === undefined) {
          options.onIgnored?.(event, 'not valid feedback from an addressed provider');
          return;
        }
        lastFeedback = feedback;
        options.onFeedback?.(feedback);
        if (feedback.status === 'error') {
          errors.push(feedback);
          if (!failed.has(feedback.pubkey)) failed.set(feedback.pubkey, feedback);
          endIfAllFailed();
        }
      },
    });
    timer = setTimeout(() => {
      void checking.then(() =>
        finish(() => {
          if (lastInvalid !== undefined) {
            resolve({ outcome: 'verified', verdict: lastInvalid });
            return;
          }
          reject(
            new M2mError(
              'JOB_TIMEOUT',
              `no verified result for job ${job.requestId} within ${Math.round(options.timeoutMs / 1000)} s${lastFeedback === undefined ? ' and no feedback: is a provider listening on these relays?' : `; last feedback: ${lastFeedback.status}${lastFeedback.info === undefined ? '' : ` (${lastFeedback.info})`}`}`,
              { details: { requestId: job.requestId } },
            ),
          );
        }),
      );
    }, options.timeoutMs);
  });
}
