import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningSequencer, startSequencer } from '../../node/sequencer/server.js';
import { SequencerClient } from '../../node/sync/client.js';
import { saveSyncConfig } from '../../node/sync/config.js';
import { Outbox } from '../../node/ves/outbox.js';
import { signKeyRegistration } from '../../node/ves/sign.js';
import type { SequencedEvent } from '../../node/ves/types.js';
import {
  AGENT,
  requireBuiltCli,
  runCli,
  STORE,
  sampleEvent,
  TENANT,
  TEST_SECRET,
  tempDir,
  toHex,
} from '../support/ves.js';

/**
 * Acceptance: a client killed (SIGKILL) mid-push and restarted ends with every event sequenced
 * exactly once, with gap-free sequence numbers. The push runs as the real CLI
 * (`node dist/node/cli/main.js sync push`, needs `npm run build`) against the embedded sequencer.
 */

const API_KEY = 'kill-test-key';
const EVENTS = 3000;
const stream = { tenantId: TENANT, storeId: STORE };
let seq: RunningSequencer;
let work: { dir: string; cleanup: () => void };
let client: SequencerClient;

beforeAll(async () => {
  requireBuiltCli();
  work = tempDir('kill-push');
  seq = await startSequencer({
    host: '127.0.0.1',
    port: 0,
    store: { kind: 'sqlite', path: join(work.dir, 'sequencer.db') },
    apiKeys: [API_KEY],
  });
  client = new SequencerClient({ baseUrl: seq.url, apiKey: API_KEY });
  await client.registerKey(
    signKeyRegistration({ tenantId: TENANT, agentId: AGENT, keyId: 1 }, TEST_SECRET),
  );
});

afterAll(async () => {
  await seq?.close();
  work?.cleanup();
});

function startPush(dir: string, json = false): ChildProcess {
  return spawn(
    process.execPath,
    [
      requireBuiltCli(),
      'sync',
      'push',
      '--dir',
      dir,
      '--batch-size',
      '50',
      '--quiet',
      ...(json ? ['--json'] : []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
}

/** SIGKILLs `child` once the sequencer head reached `atHead`; resolves with how it ended. */
async function killWhenHeadReaches(
  child: ChildProcess,
  atHead: number,
  signal: NodeJS.Signals = 'SIGKILL',
  target = stream,
): Promise<{ signal: string | null; code: number | null; head: number; stdout: string }> {
  let stdout = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  let done = false;
  void exited.then(() => {
    done = true;
  });
  for (;;) {
    if (done) break;
    const head = await client.head(target);
    if (head >= atHead) {
      child.kill(signal);
      break;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const end = await exited;
  return { signal: end.signal, code: end.code, head: await client.head(target), stdout };
}

async function wholeStream(): Promise<SequencedEvent[]> {
  const all: SequencedEvent[] = [];
  for (let from = 1; ; ) {
    const page = await client.listEvents({ ...stream, from, limit: 1000 });
    all.push(...page);
    if (page.length < 1000) return all;
    from = (page.at(-1)?.sequence_number ?? from) + 1;
  }
}

describe('kill -9 mid-push', () => {
  it(`${EVENTS} events, SIGKILLs during push, then a full push: each sequenced exactly once`, async () => {
    const dir = join(work.dir, 'client');
    const config = saveSyncConfig(dir, {
      sequencerUrl: seq.url,
      apiKey: API_KEY,
      tenantId: TENANT,
      storeId: STORE,
      agentId: AGENT,
      keyId: 1,
      agentKeyFile: 'agent.key',
      outbox: 'outbox.db',
      batchSize: 50,
    });
    writeFileSync(config.agentKeyPath, `${toHex(TEST_SECRET)}\n`, { mode: 0o600 });
    const events = Array.from({ length: EVENTS }, (_, i) => sampleEvent(i));
    const outbox = Outbox.open(config.outboxPath);
    expect(outbox.appendMany(events)).toBe(EVENTS);
    outbox.close();

    // Kill at rising heads until at least two kills happened and one landed in the crash window
    // that matters: the sequencer had sequenced a batch whose answer the client never recorded.
    const kills: { signal: string | null; head: number; pushedLocally: number }[] = [];
    const inWindow = () => kills.some((k) => k.head > k.pushedLocally);
    for (const atHead of [600, 1200, 1800, 2400]) {
      const k = await killWhenHeadReaches(startPush(dir), atHead);
      const o = Outbox.open(config.outboxPath);
      kills.push({ signal: k.signal, head: k.head, pushedLocally: o.counts().pushed });
      o.close();
      if (kills.length >= 2 && inWindow()) break;
    }
    expect(inWindow(), JSON.stringify(kills)).toBe(true);
    for (const k of kills) {
      expect(k.signal).toBe('SIGKILL'); // killed, not finished
      expect(k.head).toBeLessThan(EVENTS);
      // Events the sequencer has that the outbox had not marked yet are the in-flight batch.
      expect(k.pushedLocally).toBeLessThanOrEqual(k.head);
    }

    const final = await runCli(['sync', 'push', '--dir', dir, '--json'], {});
    expect(final.code, final.stderr).toBe(0);
    const report = JSON.parse(final.stdout) as {
      ok: boolean;
      rejected: unknown[];
      sequenced: number;
    };
    expect(report.ok).toBe(true);
    expect(report.rejected).toEqual([]);

    // The sequencer: every event exactly once, sequence numbers 1..EVENTS without gaps.
    expect(await client.head(stream)).toBe(EVENTS);
    const remote = await wholeStream();
    expect(remote.map((e) => e.sequence_number)).toEqual(
      Array.from({ length: EVENTS }, (_, i) => i + 1),
    );
    const ids = remote.map((e) => e.event_id.toLowerCase());
    expect(new Set(ids).size).toBe(EVENTS);
    expect(new Set(ids)).toEqual(new Set(events.map((e) => e.event_id.toLowerCase())));

    // The outbox: every event pushed, with the number the sequencer gave it.
    const o = Outbox.open(config.outboxPath);
    try {
      expect(o.counts()).toMatchObject({ pending: 0, pushed: EVENTS, rejected: 0 });
      const bySeq = new Map(remote.map((e) => [e.event_id.toLowerCase(), e.sequence_number]));
      for (const entry of o.entries())
        expect(entry.sequenceNumber).toBe(bySeq.get(entry.eventId.toLowerCase()));
      expect(o.syncState(stream).lastPushedSeq).toBe(EVENTS);
      // Some events were resent after a kill: their attempts count shows it.
      expect(o.entries().some((e) => e.attempts > 1)).toBe(true);
    } finally {
      o.close();
    }
  });

  it('SIGTERM stops after the batch in flight, with every answer recorded', async () => {
    const other = { tenantId: TENANT, storeId: '00000000-0000-0000-0000-0000000000ab' };
    const dir = join(work.dir, 'client-term');
    const config = saveSyncConfig(dir, {
      sequencerUrl: seq.url,
      apiKey: API_KEY,
      tenantId: other.tenantId,
      storeId: other.storeId,
      agentId: AGENT,
      keyId: 1,
      agentKeyFile: 'agent.key',
      outbox: 'outbox.db',
      batchSize: 50,
    });
    writeFileSync(config.agentKeyPath, `${toHex(TEST_SECRET)}\n`, { mode: 0o600 });
    const outbox = Outbox.open(config.outboxPath);
    outbox.appendMany(
      Array.from({ length: 2000 }, (_, i) => sampleEvent(i, { storeId: other.storeId })),
    );
    outbox.close();
    const end = await killWhenHeadReaches(startPush(dir, true), 300, 'SIGTERM', other);
    expect(end.code).toBe(0);
    const report = JSON.parse(end.stdout) as {
      stopped: boolean;
      pending: number;
      sequenced: number;
    };
    expect(report.stopped).toBe(true);
    expect(report.pending).toBeGreaterThan(0);
    const o = Outbox.open(config.outboxPath);
    try {
      // Nothing in flight was lost: the outbox knows every event the sequencer sequenced.
      expect(o.counts().pushed).toBe(end.head);
      expect(o.counts().pushed).toBe(report.sequenced);
      expect(o.syncState(other).lastPushedSeq).toBe(end.head);
    } finally {
      o.close();
    }
  });
});
