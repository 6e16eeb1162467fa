import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { Outbox } from '../../node/ves/outbox.js';
import { STORE, sampleEvent, TENANT, tempDir } from '../support/ves.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});
const dbPath = () => {
  const t = tempDir('outbox');
  cleanups.push(t.cleanup);
  return join(t.dir, 'outbox.db');
};
const stream = { tenantId: TENANT, storeId: STORE };

describe('Outbox', () => {
  it('opens in WAL mode with synchronous FULL', () => {
    const path = dbPath();
    Outbox.open(path).close();
    const db = new Database(path);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    const outbox = Outbox.open(path);
    // synchronous is per connection: read it through the outbox's own connection.
    const inner = (outbox as unknown as { db: Database.Database }).db;
    expect(inner.pragma('synchronous', { simple: true })).toBe(2);
    outbox.close();
  });

  it('append is idempotent by event_id and refuses a different event under the same id', () => {
    const outbox = Outbox.open(dbPath());
    const e = sampleEvent(1);
    expect(outbox.append(e)).toEqual({ localSeq: 1, inserted: true });
    expect(outbox.append(e)).toEqual({ localSeq: 1, inserted: false });
    const other = sampleEvent(2, { eventId: e.event_id });
    expect(() => outbox.append(other)).toThrow(
      expect.objectContaining({ code: 'OUTBOX_EVENT_CONFLICT' }),
    );
    expect(() => outbox.append({ ...e, event_id: 'nope' })).toThrow(
      expect.objectContaining({ code: 'OUTBOX_EVENT_INVALID' }),
    );
    expect(outbox.counts()).toEqual({ pending: 1, pushed: 0, rejected: 0, pulled: 0 });
    outbox.close();
  });

  it('claims in append order per stream, marks pushed with sequence and receipt, tracks state', () => {
    const outbox = Outbox.open(dbPath());
    const otherStore = '00000000-0000-0000-0000-000000000099';
    const events = [0, 1, 2, 3, 4].map((i) => sampleEvent(i));
    outbox.append(events[0] ?? sampleEvent(0));
    outbox.append(sampleEvent(9, { storeId: otherStore }));
    outbox.appendMany(events.slice(1));
    const batch = outbox.claimBatch(3);
    expect(batch.map((b) => b.eventId)).toEqual(events.slice(0, 3).map((e) => e.event_id));
    expect(batch.every((b) => b.attempts === 1 && b.status === 'pending')).toBe(true);
    outbox.markPushed(
      batch.map((b, i) => ({
        eventId: b.eventId,
        sequenceNumber: 10 + i,
        receipt: { eventId: b.eventId, sequenceNumber: 10 + i, receiptHash: 'ab' },
      })),
    );
    expect(outbox.get(batch[1]?.eventId ?? '')).toMatchObject({
      status: 'pushed',
      sequenceNumber: 11,
    });
    expect(outbox.get(batch[1]?.eventId ?? '')?.receipt?.receiptHash).toBe('ab');
    expect(outbox.syncState(stream).lastPushedSeq).toBe(12);
    // Re-marking with the same number is a no-op; a different number is a double sequencing.
    outbox.markPushed([{ eventId: batch[0]?.eventId ?? '', sequenceNumber: 10 }]);
    expect(() =>
      outbox.markPushed([{ eventId: batch[0]?.eventId ?? '', sequenceNumber: 99 }]),
    ).toThrow(expect.objectContaining({ code: 'OUTBOX_SEQUENCE_CONFLICT' }));
    // The oldest pending event is now in the other store's stream.
    expect(outbox.nextPendingStream()).toEqual({ tenantId: TENANT, storeId: otherStore });
    expect(outbox.claimBatch(10).map((b) => b.storeId)).toEqual([otherStore]);
    expect(outbox.claimBatch(10, stream).length).toBe(2);
    expect(outbox.streams().length).toBe(2);
    outbox.markRejected(events[4]?.event_id ?? '', 'invalid_signature');
    expect(outbox.counts()).toMatchObject({ pending: 2, pushed: 3, rejected: 1 });
    expect(outbox.requeueRejected()).toBe(1);
    expect(outbox.counts().pending).toBe(3);
    outbox.close();
  });

  it('two streams cannot both claim one remote sequence number within a stream', () => {
    const outbox = Outbox.open(dbPath());
    const [a, b] = [sampleEvent(1), sampleEvent(2)];
    outbox.appendMany([a, b]);
    outbox.markPushed([{ eventId: a.event_id, sequenceNumber: 1 }]);
    expect(() => outbox.markPushed([{ eventId: b.event_id, sequenceNumber: 1 }])).toThrow();
    // The failed transaction left b pending.
    expect(outbox.get(b.event_id)?.status).toBe('pending');
    outbox.close();
  });

  it('crash between send and mark: reopened outbox still has the events pending, byte-identical', () => {
    const path = dbPath();
    let outbox = Outbox.open(path);
    const events = Array.from({ length: 50 }, (_, i) => sampleEvent(i));
    outbox.appendMany(events);
    const claimed = outbox.claimBatch(20);
    // "Sent", then the process dies before markPushed: simulate by closing without marking.
    outbox.close();
    outbox = Outbox.open(path);
    expect(outbox.counts().pending).toBe(50);
    const again = outbox.claimBatch(20);
    expect(again.map((e) => e.eventId)).toEqual(claimed.map((e) => e.eventId));
    expect(again.map((e) => JSON.stringify(e.envelope))).toEqual(
      claimed.map((e) => JSON.stringify(e.envelope)),
    );
    expect(again[0]?.envelope).toEqual(events[0]);
    expect(again.every((e) => e.attempts === 2)).toBe(true);
    // Marked, then crash: the marks survive.
    outbox.markPushed(again.map((e, i) => ({ eventId: e.eventId, sequenceNumber: i + 1 })));
    outbox.close();
    outbox = Outbox.open(path);
    expect(outbox.counts()).toMatchObject({ pending: 30, pushed: 20 });
    expect(outbox.syncState(stream).lastPushedSeq).toBe(20);
    expect(outbox.claimBatch(100).length).toBe(30);
    outbox.close();
  });

  it('crash mid-transaction: an uncommitted markPushed leaves nothing half-done', () => {
    const path = dbPath();
    const outbox = Outbox.open(path);
    const events = Array.from({ length: 10 }, (_, i) => sampleEvent(i));
    outbox.appendMany(events);
    // A receipt for an unknown event aborts the whole transaction, as a crash would.
    const results = events.map((e, i) => ({ eventId: e.event_id, sequenceNumber: i + 1 }));
    results.splice(5, 0, { eventId: '99999999-9999-9999-9999-999999999999', sequenceNumber: 100 });
    expect(() => outbox.markPushed(results)).toThrow(
      expect.objectContaining({ code: 'OUTBOX_UNKNOWN_EVENT' }),
    );
    outbox.close();
    const reopened = Outbox.open(path);
    expect(reopened.counts()).toMatchObject({ pending: 10, pushed: 0 });
    expect(reopened.syncState(stream).lastPushedSeq).toBe(0);
    reopened.close();
  });

  it('pulled events advance last_pulled_seq only over a contiguous prefix', () => {
    const outbox = Outbox.open(dbPath());
    const ev = (n: number) => ({ event_id: sampleEvent(n).event_id, sequence_number: n });
    outbox.savePulled(stream, [ev(1), ev(2), ev(4)]);
    expect(outbox.syncState(stream).lastPulledSeq).toBe(2);
    outbox.savePulled(stream, [ev(3), ev(2)]);
    expect(outbox.syncState(stream).lastPulledSeq).toBe(4);
    expect(outbox.pulled(stream).map((e) => e.sequence_number)).toEqual([1, 2, 3, 4]);
    expect(outbox.counts().pulled).toBe(4);
    outbox.close();
  });

  it('event and stream ids compare case-insensitively (a sequencer may echo them lowercase)', () => {
    const outbox = Outbox.open(dbPath());
    const upper = sampleEvent(1, { eventId: 'ABCDEF01-2345-6789-ABCD-EF0123456789' });
    expect(outbox.append(upper).inserted).toBe(true);
    expect(outbox.append(upper).inserted).toBe(false);
    expect(outbox.get('abcdef01-2345-6789-abcd-ef0123456789')?.envelope).toEqual(upper);
    outbox.markPushed([{ eventId: 'abcdef01-2345-6789-abcd-ef0123456789', sequenceNumber: 1 }]);
    expect(outbox.get(upper.event_id)?.status).toBe('pushed');
    expect(outbox.syncState({ tenantId: TENANT.toUpperCase(), storeId: STORE }).lastPushedSeq).toBe(
      1,
    );
    outbox.close();
  });

  it('refuses a database written by a newer schema', () => {
    const path = dbPath();
    Outbox.open(path).close();
    const db = new Database(path);
    db.pragma('user_version = 99');
    db.close();
    expect(() => Outbox.open(path)).toThrow(
      expect.objectContaining({ code: 'OUTBOX_SCHEMA_NEWER' }),
    );
  });
});
