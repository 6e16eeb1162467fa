import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { npubEncode, nsecEncode } from 'nostr-tools/nip19';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { afterAll, describe, expect, it } from 'vitest';
import { type NostrEvent, signEvent } from '../../node/dvm/event.js';
import type { JobBody } from '../../node/dvm/request.js';
import { DATA_MARKER, dataInput, jobDataOf, planTextOf } from '../../node/market/data-input.js';
import { loadOrCreateSecretKey, parsePubkey, parseSecretKey } from '../../node/market/keyfile.js';
import { loadProviderConfig, resolveProviderConfig } from '../../node/provider/config.js';
import {
  boundFromReference,
  DEFAULT_ESTIMATE,
  fromTraceLength,
  nextPowerOfTwo,
} from '../../node/provider/estimate.js';
import { JobQueue } from '../../node/provider/queue.js';
import { JobStore } from '../../node/provider/store.js';
import { assertValidPlan } from '../../zkvm/plan/validate.js';
import { codeOf } from '../support/errors.js';

const made: string[] = [];
const tmp = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), `m2m-${prefix}-`));
  made.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});
const root = new URL('../../', import.meta.url);
const sensorPlan = assertValidPlan(
  readFileSync(new URL('plans/sensor-summary.yaml', root), 'utf8'),
).plan;
const medianPlan = assertValidPlan(
  readFileSync(new URL('plans/median-price.yaml', root), 'utf8'),
).plan;

describe('proving-time estimate', () => {
  it('bounds from reference cycles with the worst measured ratio, refines from the trace', () => {
    expect(nextPowerOfTwo(65_536)).toBe(65_536);
    expect(nextPowerOfTwo(65_537)).toBe(131_072);
    // sensor-summary: 27,509 reference cycles x 40 = 1.1 M, padded to 2^21 rows.
    const bound = boundFromReference(27_509, DEFAULT_ESTIMATE);
    expect(bound).toMatchObject({ traceRows: 2 ** 21, basis: 'bound' });
    expect(bound.seconds).toBeCloseTo(1 + (2 ** 21 * 150) / 1e6, 6);
    // Its VM run: 64,996 cycles in a 65,536-row trace, ~11 s at 150 us per row.
    const exact = fromTraceLength(65_536, 27_509, DEFAULT_ESTIMATE);
    expect(exact).toMatchObject({ traceRows: 65_536, basis: 'vm-run' });
    expect(exact.seconds).toBeCloseTo(1 + (65_536 * 150) / 1e6, 6);
    expect(exact.seconds).toBeLessThan(bound.seconds);
  });
});

describe('provider config', () => {
  it('applies defaults, resolves paths against the file, creates the key once (mode 0600)', () => {
    const dir = tmp('config');
    const file = join(dir, 'node.yaml');
    writeFileSync(file, 'relays: [ws://127.0.0.1:7447]\nprice: "21000"\ndataDir: data\n');
    const first = loadProviderConfig(file);
    expect(first).toMatchObject({
      relays: ['ws://127.0.0.1:7447'],
      backends: ['miden'],
      priceMsats: 21_000n,
      concurrency: 1,
      dataDir: join(dir, 'data'),
      maxProvingTimeSec: 600,
      keySource: { file: join(dir, 'data', 'provider.key'), created: true },
    });
    expect(statSync(join(dir, 'data', 'provider.key')).mode & 0o777).toBe(0o600);
    const second = loadProviderConfig(file);
    expect(second.keySource).toEqual({ file: join(dir, 'data', 'provider.key'), created: false });
    expect(getPublicKey(second.secretKey)).toBe(getPublicKey(first.secretKey));
  });

  it('refuses bad documents with CONFIG_INVALID naming the field', () => {
    const dir = tmp('config-bad');
    const bad = (doc: unknown) => {
      try {
        resolveProviderConfig(doc, dir);
      } catch (error) {
        return `${(error as { code: string }).code} ${(error as Error).message}`;
      }
      return 'no error';
    };
    expect(bad({ price: 1 })).toMatch(/^CONFIG_INVALID provider config: relays: /);
    expect(bad({ relays: ['http://x'], price: 1 })).toMatch(/relays\.0: must be a ws:\/\//);
    expect(bad({ relays: ['ws://x'], price: -1 })).toMatch(/^CONFIG_INVALID .*price/);
    expect(bad({ relays: ['ws://x'], price: 1, backends: ['cairo'] })).toMatch(/backends\.0/);
    expect(bad({ relays: ['ws://x'], price: 1, colour: 'red' })).toMatch(/Unrecognized key/);
    expect(
      bad({ relays: ['ws://x'], price: 1, secretKey: 'ab'.repeat(32), secretKeyFile: 'k' }),
    ).toMatch(/secretKey: give secretKey or secretKeyFile, not both/);
    expect(bad({ relays: ['ws://x'], price: 1, secretKey: 'nope' })).toMatch(/^KEY_INVALID/);
    expect(codeOf(() => loadProviderConfig(join(dir, 'missing.yaml')))).toBe('IO_READ_FAILED');
  });
});

describe('key files', () => {
  it('reads hex and nsec secret keys, hex and npub public keys', () => {
    const secret = generateSecretKey();
    const hex = Buffer.from(secret).toString('hex');
    expect(parseSecretKey(`${hex}\n`, 'k')).toEqual(secret);
    expect(parseSecretKey(nsecEncode(secret), 'k')).toEqual(secret);
    const pubkey = getPublicKey(secret);
    expect(parsePubkey(npubEncode(pubkey), 'p')).toBe(pubkey);
    expect(parsePubkey(pubkey, 'p')).toBe(pubkey);
    expect(codeOf(() => parseSecretKey('f'.repeat(64), 'k'))).toBe('KEY_INVALID');
    expect(codeOf(() => parseSecretKey(npubEncode(pubkey), 'k'))).toBe('KEY_INVALID');
    expect(codeOf(() => parsePubkey('npub1qqqq', 'p'))).toBe('KEY_INVALID');
  });

  it('never overwrites an existing key file', () => {
    const path = join(tmp('key'), 'nested', 'customer.key');
    const created = loadOrCreateSecretKey(path);
    expect(created.created).toBe(true);
    expect(loadOrCreateSecretKey(path)).toEqual({ secretKey: created.secretKey, created: false });
    writeFileSync(path, 'garbage');
    expect(codeOf(() => loadOrCreateSecretKey(path))).toBe('KEY_INVALID');
  });
});

describe('input data convention (i tag with marker "data")', () => {
  const body = (inputs: JobBody['inputs']): JobBody => ({
    plan: { type: 'text', text: 'plan' },
    inputs,
    params: [],
  });
  const records = [{ sensor: 's1', celsius: '20.5' }];

  it('reads {"<step id>": [records]}, or a bare array for a single data input', () => {
    expect(dataInput({ readings: records })).toEqual({
      data: JSON.stringify({ readings: records }),
      type: 'text',
      marker: DATA_MARKER,
    });
    expect(jobDataOf(body([dataInput({ readings: records })]), sensorPlan)).toEqual({
      readings: records,
    });
    const bare = { data: JSON.stringify(records), type: 'text' as const, marker: 'data' };
    expect(jobDataOf(body([bare]), sensorPlan)).toEqual({ readings: records });
    expect(planTextOf(body([]))).toBe('plan');
  });

  it('refuses missing, repeated, referenced and malformed data with a code', () => {
    const data = dataInput({ readings: records });
    expect(codeOf(() => jobDataOf(body([]), sensorPlan))).toBe('JOB_DATA_MISSING');
    expect(codeOf(() => jobDataOf(body([data, data]), sensorPlan))).toBe('JOB_DATA_INVALID');
    const url = { data: 'https://example.com/d.json', type: 'url' as const, marker: 'data' };
    expect(codeOf(() => jobDataOf(body([url]), sensorPlan))).toBe('JOB_INPUT_UNSUPPORTED');
    const text = (t: string) => ({ data: t, type: 'text' as const, marker: 'data' });
    expect(codeOf(() => jobDataOf(body([text('{')]), sensorPlan))).toBe('JOB_DATA_INVALID');
    expect(codeOf(() => jobDataOf(body([text('7')]), sensorPlan))).toBe('JOB_DATA_INVALID');
    // median-price has two data inputs: a bare array is ambiguous.
    expect(codeOf(() => jobDataOf(body([text('[]')]), medianPlan))).toBe('JOB_DATA_INVALID');
    const byUrl: JobBody = {
      plan: {
        type: 'url',
        url: 'https://example.com/p.yaml',
        planHash: `sha256:${'0'.repeat(64)}`,
      },
      inputs: [],
      params: [],
    };
    expect(codeOf(() => planTextOf(byUrl))).toBe('JOB_INPUT_UNSUPPORTED');
  });
});

describe('JobStore', () => {
  const provider = generateSecretKey();
  const customer = generateSecretKey();
  const event = (kind: number, content = ''): NostrEvent =>
    signEvent(kind, [], content, kind === 5900 ? customer : provider);

  it('walks received → accepted → proving → published and keeps it across a reopen', () => {
    const path = join(tmp('store'), 'jobs.db');
    const store = new JobStore(path);
    const request = event(5900, 'a');
    expect(store.receive(request)).toBe(true);
    expect(store.receive(request)).toBe(false);
    expect(store.undecided()).toEqual([request.id]);
    const processing = event(7000, 'processing');
    store.accept(request.id, 11, 120, processing);
    expect(store.unproven()).toEqual([request.id]);
    expect(store.pendingOutbox().map((e) => e.eventId)).toEqual([processing.id]);
    store.startProving(request.id);
    store.startProving(request.id); // a restart mid-proof: proving again counts the attempt
    expect(store.get(request.id)).toMatchObject({ state: 'proving', attempts: 2 });
    const result = event(6900, 'result');
    const success = event(7000, 'success');
    store.recordResult(request.id, result, success, { provingMs: 5000, vmCycles: 64_996 });
    // Built but not confirmed: not proven again, sent again.
    expect(store.unproven()).toEqual([]);
    store.close();

    const reopened = new JobStore(path);
    expect(reopened.get(request.id)).toMatchObject({
      state: 'proving',
      resultEventId: result.id,
      customer: getPublicKey(customer),
    });
    expect(reopened.pendingOutbox().map((e) => e.event)).toEqual([processing, result, success]);
    expect(reopened.confirm(processing.id)).toBeUndefined();
    expect(reopened.confirm(result.id)).toMatchObject({ state: 'published' });
    expect(reopened.confirm(result.id)).toBeUndefined();
    expect(reopened.pendingOutbox().map((e) => e.eventId)).toEqual([success.id]);
    expect(reopened.counts()).toMatchObject({ published: 1, proving: 0 });
    reopened.close();
  });

  it('refuses transitions out of order with PROVIDER_STATE_CONFLICT and writes nothing', () => {
    const store = new JobStore(':memory:');
    const request = event(5900, 'b');
    store.receive(request);
    store.refuse(request.id, 'PROVIDER_BID_TOO_LOW', 'too low', event(7000, 'error'));
    const pending = store.pendingOutbox().length;
    expect(codeOf(() => store.accept(request.id, 1, 1, event(7000, 'late')))).toBe(
      'PROVIDER_STATE_CONFLICT',
    );
    expect(codeOf(() => store.startProving(request.id))).toBe('PROVIDER_STATE_CONFLICT');
    expect(codeOf(() => store.startProving('f'.repeat(64)))).toBe('PROVIDER_STATE_CONFLICT');
    expect(store.pendingOutbox().length).toBe(pending);
    expect(store.get(request.id)).toMatchObject({
      state: 'refused',
      code: 'PROVIDER_BID_TOO_LOW',
      reason: 'too low',
    });

    const other = event(5900, 'c');
    store.receive(other);
    store.accept(other.id, 1, 1, event(7000, 'p'));
    store.startProving(other.id);
    store.recordResult(other.id, event(6900, 'r'), event(7000, 's'), { provingMs: 1, vmCycles: 1 });
    // Once a result is built the job can neither fail nor be proven again.
    expect(codeOf(() => store.fail(other.id, 'X', 'y', event(7000, 'f')))).toBe(
      'PROVIDER_STATE_CONFLICT',
    );
    expect(codeOf(() => store.startProving(other.id))).toBe('PROVIDER_STATE_CONFLICT');
    store.close();
  });
});

describe('JobQueue', () => {
  it('runs at most `concurrency` jobs, in order, each id once', async () => {
    let active = 0;
    let peak = 0;
    const ran: string[] = [];
    const release: (() => void)[] = [];
    const queue = new JobQueue(2, async (id) => {
      active++;
      peak = Math.max(peak, active);
      ran.push(id);
      await new Promise<void>((resolve) => release.push(resolve));
      active--;
    });
    for (const id of ['a', 'b', 'c', 'a', 'd']) queue.push(id);
    expect(queue.runningIds).toEqual(['a', 'b']);
    expect(queue.waitingIds).toEqual(['c', 'd']);
    while (ran.length < 4 || active > 0) {
      release.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await queue.idle();
    expect(ran).toEqual(['a', 'b', 'c', 'd']);
    expect(peak).toBe(2);
  });

  it('reports a failing job and goes on; stop() starts nothing new', async () => {
    const errors: string[] = [];
    const ran: string[] = [];
    const queue = new JobQueue(
      1,
      async (id) => {
        ran.push(id);
        if (id === 'bad') throw new Error('boom');
      },
      (id, error) => errors.push(`${id}: ${(error as Error).message}`),
    );
    queue.push('bad');
    queue.push('good');
    await new Promise((resolve) => setTimeout(resolve, 10));
    await queue.idle();
    expect(ran).toEqual(['bad', 'good']);
    expect(errors).toEqual(['bad: boom']);
    queue.stop();
    queue.push('later');
    await queue.idle();
    expect(ran).toEqual(['bad', 'good']);
  });
});
