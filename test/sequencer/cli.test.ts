import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { VesIngestResponse } from '../../node/ves/types.js';
import { newAgent, SequencerClient, signedEvent } from '../support/sequencer.js';

/** `m2m sequencer start` as users run it: the built bin, real SQLite, real signals. */
const BIN = new URL('../../dist/node/cli/main.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'm2m-seq-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Running {
  child: ChildProcess;
  line: string;
  exit: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function start(args: string[]): Promise<Running> {
  const child = spawn(process.execPath, [BIN, 'sequencer', 'start', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, VES_SEQUENCER_SIGNING_KEY: '' },
  });
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (chunk) => {
      stdout += chunk;
      const nl = stdout.indexOf('\n');
      if (nl >= 0) resolve({ child, line: stdout.slice(0, nl), exit });
    });
    void exit.then((r) => reject(new Error(`sequencer exited ${r.code}: ${r.stderr}`)));
  });
}

describe('m2m sequencer start (CLI)', () => {
  it('prints its URL and key, sequences, stops on SIGTERM, and keeps data and key on restart', async () => {
    const db = join(dir, 'cli.db');
    const args = ['--port', '0', '--db', db, '--api-key', 'k'];
    const first = await start(args);
    const m =
      /^sequencer listening on (http:\/\/127\.0\.0\.1:\d+\/api) \(SQLite .*receipts signed by ed25519 ([0-9a-f]{64})\)$/.exec(
        first.line,
      );
    expect(m, first.line).not.toBeNull();
    expect(statSync(`${db}.key`).mode & 0o777).toBe(0o600);
    const agent = newAgent();
    const api = new SequencerClient(m?.[1] as string, 'k');
    expect((await api.registerKey(agent)).status).toBe(201);
    const ingested = VesIngestResponse.parse(
      (await api.ingest(agent.agentId, [signedEvent(agent)])).body,
    );
    expect(ingested.sequenceStart).toBe(1);
    first.child.kill('SIGTERM');
    const stopped = await first.exit;
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toMatch(/sequencer stopped on SIGTERM\n$/);
    expect(stopped.stderr).toBe('');

    const second = await start(args);
    expect(second.line.endsWith(`${m?.[2]})`)).toBe(true);
    const url = /listening on (\S+)/.exec(second.line)?.[1] as string;
    expect(await new SequencerClient(url, 'k').head(agent)).toBe(1);
    second.child.kill('SIGINT');
    expect((await second.exit).code).toBe(0);
  }, 60_000);
});
