/**
 * 8 writers push 5,000 signed events to one stream at once: the sequence numbers must be exactly
 * 1..5000, each event once. SQLite: 8 concurrent HTTP clients of one server. PostgreSQL: two
 * server processes' worth of instances on one database, 4 writers each, so batches from
 * different pools really race for the per-stream counter row (SELECT ... FOR UPDATE).
 * Every writer also replays one of its own batches mid-run: replays must get the original
 * numbers back, never new ones.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type RunningSequencer,
  type StoreConfig,
  startSequencer,
} from '../../node/sequencer/server.js';
import { VesIngestResponse } from '../../node/ves/types.js';
import { freshDatabase, type PrivatePostgres, startTestPostgres } from '../support/postgres.js';
import { newAgent, SequencerClient, signedEvent } from '../support/sequencer.js';

const WRITERS = 8;
const TOTAL = 5000;
const BATCH = 25;

async function race(servers: RunningSequencer[]): Promise<void> {
  const agent = newAgent();
  const clients = servers.map((s) => new SequencerClient(s.url, 'k'));
  expect((await (clients[0] as SequencerClient).registerKey(agent)).status).toBe(201);
  const perWriter = TOTAL / WRITERS;
  const batches = Array.from({ length: WRITERS }, () =>
    Array.from({ length: perWriter / BATCH }, () =>
      Array.from({ length: BATCH }, (_, i) => signedEvent(agent, { entityId: `e-${i % 7}` })),
    ),
  );
  const assigned = new Map<string, number>();
  await Promise.all(
    batches.map(async (mine, w) => {
      const client = clients[w % clients.length] as SequencerClient;
      for (let b = 0; b < mine.length; b++) {
        const reply = await client.ingest(agent.agentId, mine[b] as unknown[]);
        expect(reply.status, JSON.stringify(reply.body)).toBe(200);
        const body = VesIngestResponse.parse(reply.body);
        expect(body.eventsAccepted).toBe(BATCH);
        // Numbers within one batch are consecutive: the batch is one transaction.
        expect((body.sequenceEnd ?? 0) - (body.sequenceStart ?? 0)).toBe(BATCH - 1);
        for (const r of body.receipts ?? []) assigned.set(r.eventId, r.sequenceNumber);
        if (b === 2) {
          const replay = VesIngestResponse.parse(
            (await client.ingest(agent.agentId, mine[0] as unknown[])).body,
          );
          expect(replay.eventsAccepted).toBe(0);
          for (const r of replay.receipts ?? [])
            expect(assigned.get(r.eventId)).toBe(r.sequenceNumber);
        }
      }
    }),
  );
  const events = await (clients[0] as SequencerClient).allEvents(agent);
  expect(events.map((e) => e.sequence_number)).toEqual(
    Array.from({ length: TOTAL }, (_, i) => i + 1),
  );
  expect(new Set(events.map((e) => e.event_id)).size).toBe(TOTAL);
  for (const e of events) expect(assigned.get(String(e.event_id))).toBe(e.sequence_number);
  for (const c of clients) expect(await c.head(agent)).toBe(TOTAL);
}

const start = (store: StoreConfig) =>
  startSequencer({ store, apiKeys: ['k'], limits: { maxBatch: 100, maxPayloadBytes: 4096 } });

describe('concurrent writers get gap-free, duplicate-free sequence numbers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'm2m-seq-race-'));
  let cluster: PrivatePostgres | undefined;
  const servers: RunningSequencer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.close();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it(`SQLite: ${WRITERS} writers x ${TOTAL} events, one server`, async () => {
    const server = await start({ kind: 'sqlite', path: join(dir, 'race.db') });
    servers.push(server);
    await race([server]);
  }, 120_000);

  it(`PostgreSQL: ${WRITERS} writers x ${TOTAL} events, two sequencer instances on one database`, async () => {
    cluster = await startTestPostgres();
    const url = await freshDatabase(cluster, 'race');
    const a = await start({ kind: 'postgres', url, poolSize: 4 });
    const b = await start({ kind: 'postgres', url, poolSize: 4 });
    servers.push(a, b);
    await race([a, b]);
  }, 120_000);
});
