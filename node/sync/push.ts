import { z } from 'zod';
import { M2mError } from '../../zkvm/errors.js';
import type { Outbox, PushResult, StreamId } from '../ves/outbox.js';
import { RejectionInfo } from '../ves/types.js';
import type { SequencerClient } from './client.js';

/**
 * Push: claim the oldest pending events of one stream, send them, record every receipt, repeat.
 * Receipts for replays (events the sequencer already had) carry the original sequence number,
 * so a batch resent after a crash or a lost answer lands exactly once.
 */

export interface PushProgress {
  batch: number;
  sent: number;
  sequenced: number;
  rejected: number;
  pending: number;
  lastSequence: number | undefined;
}

export interface PushOptions {
  agentId: string;
  /** Events per request (default 500; the embedded sequencer accepts up to 1000). */
  batchSize?: number;
  /** Stop after this many batches (tests); default: until the outbox is drained. */
  maxBatches?: number;
  signal?: AbortSignal;
  onProgress?: (progress: PushProgress) => void;
}

export interface PushReport {
  batches: number;
  /** Events sent (counting resends). */
  sent: number;
  /** Events newly sequenced or confirmed as already sequenced. */
  sequenced: number;
  /** Of those, events the sequencer already had (replays). */
  replayed: number;
  rejected: { eventId: string; reason: string }[];
  /** Per stream, the highest sequence number seen in this push. */
  heads: (StreamId & { head: number })[];
}

export async function pushOutbox(
  outbox: Outbox,
  client: SequencerClient,
  options: PushOptions,
): Promise<PushReport> {
  let batchSize = options.batchSize ?? 500;
  const report: PushReport = {
    batches: 0,
    sent: 0,
    sequenced: 0,
    replayed: 0,
    rejected: [],
    heads: [],
  };
  let lastSequence: number | undefined;
  let isolateLeft = 0;
  while (options.maxBatches === undefined || report.batches < options.maxBatches) {
    if (options.signal?.aborted) break;
    const batch = outbox.claimBatch(isolateLeft > 0 ? 1 : batchSize);
    if (isolateLeft > 0) isolateLeft--;
    if (batch.length === 0) break;
    const first = batch[0];
    if (first === undefined) break;
    const stream = { tenantId: first.tenantId, storeId: first.storeId };
    let answer: Awaited<ReturnType<SequencerClient['ingest']>>;
    try {
      answer = await client.ingest(
        options.agentId,
        batch.map((e) => e.envelope),
      );
    } catch (error) {
      if (error instanceof M2mError && error.code === 'SYNC_BATCH_TOO_LARGE' && batchSize > 1) {
        batchSize = Math.max(1, Math.floor(batchSize / 2));
        continue;
      }
      // A sequencer that refuses a whole batch for some bad events (422, nothing sequenced):
      // park the events it names and send the rest again; without names, isolate one by one.
      if (error instanceof M2mError && error.code === 'SYNC_REJECTED') {
        const named = rejectionsOf(error).filter((r) =>
          batch.some((e) => e.eventId === r.event_id),
        );
        if (named.length > 0) {
          for (const r of named) {
            const reason = r.message === undefined ? r.reason : `${r.reason}: ${r.message}`;
            outbox.markRejected(r.event_id, reason);
            report.rejected.push({ eventId: r.event_id.toLowerCase(), reason });
          }
          continue;
        }
        if (batch.length === 1) {
          outbox.markRejected(first.eventId, error.message);
          report.rejected.push({ eventId: first.eventId, reason: error.message });
          continue;
        }
        isolateLeft = batch.length;
        continue;
      }
      if (error instanceof M2mError)
        outbox.noteError(
          batch.map((e) => e.eventId),
          `${error.code}: ${error.message}`,
        );
      throw error;
    }
    report.batches++;
    report.sent += batch.length;
    // Outbox ids are lowercase; a sequencer may echo them in another case.
    const inBatch = new Set(batch.map((e) => e.eventId));
    const results: PushResult[] = [];
    for (const r of answer.receipts ?? []) {
      const eventId = r.eventId.toLowerCase();
      if (!inBatch.has(eventId)) continue;
      results.push({ eventId, sequenceNumber: r.sequenceNumber, receipt: r });
    }
    outbox.markPushed(results);
    const answered = new Set(results.map((r) => r.eventId));
    for (const rej of answer.rejections ?? []) {
      const eventId = rej.event_id.toLowerCase();
      if (!inBatch.has(eventId) || answered.has(eventId)) continue;
      const reason = rej.message === undefined ? rej.reason : `${rej.reason}: ${rej.message}`;
      outbox.markRejected(eventId, reason);
      report.rejected.push({ eventId, reason });
      answered.add(eventId);
    }
    const missing = batch.filter((e) => !answered.has(e.eventId));
    if (missing.length > 0) {
      outbox.noteError(
        missing.map((e) => e.eventId),
        'the sequencer answered without a receipt or rejection for this event',
      );
      throw new M2mError(
        'SYNC_INCOMPLETE_ANSWER',
        `the sequencer answered ${batch.length - missing.length} of ${batch.length} events; the rest stay pending`,
        { details: { missing: missing.slice(0, 10).map((e) => e.eventId) } },
      );
    }
    report.sequenced += results.length;
    report.replayed += Math.max(0, results.length - answer.eventsAccepted);
    for (const r of results) {
      lastSequence = Math.max(lastSequence ?? 0, r.sequenceNumber);
      const h = report.heads.find(
        (x) => x.tenantId === stream.tenantId && x.storeId === stream.storeId,
      );
      if (h === undefined) report.heads.push({ ...stream, head: r.sequenceNumber });
      else h.head = Math.max(h.head, r.sequenceNumber);
    }
    options.onProgress?.({
      batch: report.batches,
      sent: report.sent,
      sequenced: report.sequenced,
      rejected: report.rejected.length,
      pending: outbox.counts().pending,
      lastSequence,
    });
  }
  return report;
}

function rejectionsOf(error: M2mError): { event_id: string; reason: string; message?: string }[] {
  const apiError = error.details?.apiError as { details?: { rejections?: unknown } } | undefined;
  const parsed = z.array(RejectionInfo).safeParse(apiError?.details?.rejections);
  return parsed.success ? parsed.data : [];
}

export interface PullOptions {
  /** Events per request, 1..1000 (default 500). */
  limit?: number;
  maxPages?: number;
  onProgress?: (progress: { pulled: number; lastPulledSeq: number }) => void;
}

/**
 * Pull: read the stream from `last_pulled_seq + 1` in pages into `pulled_events` until the
 * sequencer has no more. Stops rather than loops if the sequencer leaves a gap.
 */
export async function pullStream(
  outbox: Outbox,
  client: SequencerClient,
  stream: StreamId,
  options: PullOptions = {},
): Promise<{ pulled: number; lastPulledSeq: number; pages: number }> {
  const limit = options.limit ?? 500;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw new M2mError('SYNC_INVALID_LIMIT', `pull limit must be 1..1000, got ${limit}`);
  let pulled = 0;
  let pages = 0;
  for (;;) {
    if (options.maxPages !== undefined && pages >= options.maxPages) break;
    const before = outbox.syncState(stream).lastPulledSeq;
    const events = await client.listEvents({ ...stream, from: before + 1, limit });
    pages++;
    const relevant = events.filter((e) => e.sequence_number > before);
    if (relevant.length === 0) break;
    pulled += outbox.savePulled(stream, relevant);
    const after = outbox.syncState(stream).lastPulledSeq;
    options.onProgress?.({ pulled, lastPulledSeq: after });
    if (after === before) break;
    if (events.length < limit) break;
  }
  return { pulled, lastPulledSeq: outbox.syncState(stream).lastPulledSeq, pages };
}
