/**
 * The market end to end over a relay given by URL: a provider node, the customer library and the
 * `m2m job` CLI, real proofs, a real relay. `marketSuite` takes a function that starts the relay,
 * so the same suite runs against the embedded relay and against nostr-rs-relay. Test-only.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { AbstractRelay } from 'nostr-tools/abstract-relay';
import { npubEncode } from 'nostr-tools/nip19';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForJob } from '../../node/customer/follow.js';
import { prepareJob, publishJob } from '../../node/customer/request.js';
import { type CustomerJob, CustomerStore } from '../../node/customer/store.js';
import { verifyJobResult } from '../../node/customer/verify.js';
import { type NostrEvent, signEvent } from '../../node/dvm/event.js';
import { parseJobFeedback } from '../../node/dvm/feedback.js';
import { parseHandler } from '../../node/dvm/handler.js';
import { buildJobRequest, parseJobRequest } from '../../node/dvm/request.js';
import { buildJobResult, parseJobResult } from '../../node/dvm/result.js';
import { dataInput } from '../../node/market/data-input.js';
import { RelayPool } from '../../node/nostr/pool.js';
import { resolveProviderConfig } from '../../node/provider/config.js';
import {
  type Provider,
  type ProviderLogEntry,
  startProvider,
} from '../../node/provider/provider.js';
import { JobStore } from '../../node/provider/store.js';
import { PLAN_COMPILER_VERSION } from '../../zkvm/plan-proof/native.js';
import { createEnvelope, type ProofEnvelope } from '../../zkvm/proof/envelope.js';
import { codeOf } from '../support/errors.js';
import { connectClient, query } from '../support/relay.js';
import { m2m, ProviderProcess } from './processes.js';

export interface MarketRelay {
  url: string;
  close(): Promise<void>;
}

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const example = (name: string) => ({
  planFile: new URL(`plans/${name}.yaml`, root).pathname,
  dataFile: new URL(`plans/data/${name}.json`, root).pathname,
  planText: read(`plans/${name}.yaml`),
  data: JSON.parse(read(`plans/data/${name}.json`)) as Record<string, unknown[]>,
  golden: JSON.parse(read(`plans/golden/${name}.json`)) as { output: unknown[] },
});
const sensor = example('sensor-summary');
const inventory = example('inventory-reconciliation');

const PRICE = 1000;
const LONG = 240_000;

export function marketSuite(name: string, startRelay: () => Promise<MarketRelay>): void {
  describe(`market over ${name}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'm2m-market-'));
    const customerDir = join(dir, 'customer');
    const customerKey = generateSecretKey();
    let relay: MarketRelay;
    let client: AbstractRelay;
    let pool: RelayPool;
    let customers: CustomerStore;
    let provider: Provider;
    let providerKey: Uint8Array;
    const log: ProviderLogEntry[] = [];
    const cleanup: (() => unknown)[] = [];
    /** The job of the happy path, and its result, for the tamper tests. */
    let happy: { job: CustomerJob; result: NostrEvent; envelope: ProofEnvelope } | undefined;

    beforeAll(async () => {
      relay = await startRelay();
      cleanup.push(() => relay.close());
      const config = resolveProviderConfig(
        { relays: [relay.url], price: PRICE, dataDir: 'provider', maxProvingTime: 120 },
        dir,
      );
      providerKey = config.secretKey;
      provider = await startProvider(config, { log: (entry) => log.push(entry) });
      cleanup.push(() => provider.close());
      client = await connectClient(relay.url);
      cleanup.push(() => client.close());
      pool = new RelayPool([relay.url]);
      cleanup.push(() => pool.close());
      customers = new CustomerStore(join(dir, 'library-customer', 'jobs.db'));
      cleanup.push(() => customers.close());
    }, 60_000);

    afterAll(async () => {
      for (const step of cleanup.splice(0).reverse()) await step();
      rmSync(dir, { recursive: true, force: true });
    });

    const eventsFor = (requestId: string, kind: number) =>
      query(client, [{ kinds: [kind], '#e': [requestId] }]);

    /** A job from the customer library, addressed to the in-process provider by default. */
    async function requestJob(
      overrides: Partial<Parameters<typeof prepareJob>[0]> = {},
      plan = sensor,
    ): Promise<CustomerJob> {
      const job = prepareJob(
        {
          planText: plan.planText,
          planSource: plan.planFile,
          data: plan.data,
          backend: 'miden',
          maxProvingTimeSec: 120,
          bidMsats: 5000n,
          providers: [provider.pubkey],
          relays: [relay.url],
          encrypt: false,
          ...overrides,
        },
        customerKey,
      );
      expect((await publishJob(customers, pool, job)).confirmed).toBe(true);
      return job;
    }

    /** The first kind 7000 `error` by `author` for a request. */
    function errorFeedback(requestId: string, author: string): Promise<string> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no error feedback for ${requestId}`)),
          30_000,
        );
        const sub = client.subscribe([{ kinds: [7000], '#e': [requestId], authors: [author] }], {
          onevent: (event) => {
            const feedback = parseJobFeedback(JSON.parse(JSON.stringify(event)));
            if (feedback.status !== 'error') return;
            clearTimeout(timer);
            sub.close();
            resolve(feedback.info as string);
          },
        });
      });
    }

    it('announces itself with a kind 31990 handler: miden plan compiler, price per job', async () => {
      // The outbox sends it right after start; give it a moment.
      let handler: NostrEvent | undefined;
      for (let i = 0; i < 50 && handler === undefined; i++) {
        [handler] = await query(client, [{ kinds: [31990], authors: [provider.pubkey] }]);
        if (handler === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(handler).toBeDefined();
      const parsed = parseHandler(handler);
      expect(parsed.programs).toEqual([
        {
          backend: 'miden',
          programId: expect.stringMatching(/^sha256:/),
          version: PLAN_COMPILER_VERSION,
        },
      ]);
      expect(parsed.prices).toEqual([{ msats: BigInt(PRICE), unit: 'per-job' }]);
    });

    describe('refusals: kind 7000 error with a reason, and the provider goes on', () => {
      const cases: [string, Partial<Parameters<typeof prepareJob>[0]>, RegExp][] = [
        [
          'a backend it lacks (sp1)',
          { backend: 'sp1' },
          /^PROVIDER_BACKEND_UNAVAILABLE: this provider proves plans with miden; the request asks for sp1$/,
        ],
        [
          'a min-program-version above its plan compiler',
          { minProgramVersion: '9.0.0' },
          /^PROVIDER_VERSION_UNAVAILABLE: min-program-version 9\.0\.0 is above this provider's plan compiler 0\.2\.0$/,
        ],
        [
          'a max-proving-time below its estimate',
          { maxProvingTimeSec: 1 },
          /^PROVIDER_TIME_TOO_SHORT: max-proving-time 1 s is below the estimated proving time ~\d+ s \(65536 trace rows, from an unproven VM run\)$/,
        ],
        [
          'a bid below its price',
          { bidMsats: 999n },
          /^PROVIDER_BID_TOO_LOW: bid 999 msats is below this provider's price of 1000 msats per job$/,
        ],
      ];
      for (const [what, overrides, reason] of cases) {
        it(`refuses ${what}`, async () => {
          const job = await requestJob(overrides);
          const outcome = await waitForJob(pool, job, { timeoutMs: 30_000 });
          expect(outcome.outcome).toBe('refused');
          if (outcome.outcome !== 'refused') return;
          expect(outcome.feedback.map((f) => f.info)).toEqual([expect.stringMatching(reason)]);
          expect(provider.store.get(job.requestId)).toMatchObject({ state: 'refused' });
        }, 60_000);
      }

      it('refuses an invalid plan, naming the plan error', async () => {
        const broken = sensor.planText.replace('input: readings', 'input: nowhere');
        const request = buildJobRequest(
          {
            backend: 'miden',
            bidMsats: 5000n,
            relays: [],
            providers: [provider.pubkey],
            body: {
              plan: { type: 'text', text: broken },
              inputs: [dataInput(sensor.data)],
              params: [],
            },
          },
          customerKey,
        );
        await client.publish(request);
        expect(await errorFeedback(request.id, provider.pubkey)).toMatch(
          /^PROVIDER_PLAN_INVALID: PLAN_DANGLING_REFERENCE: step "stats" refers to step "nowhere"/,
        );
      });

      it('refuses data that does not match the plan commitment (the customer library refuses first)', async () => {
        const readings = sensor.data.readings as { celsius: string }[];
        const tampered = {
          readings: [{ ...readings[0], celsius: '99.000' }, ...readings.slice(1)],
        };
        expect(
          codeOf(() =>
            prepareJob(
              {
                planText: sensor.planText,
                planSource: 'x',
                data: tampered,
                backend: 'miden',
                maxProvingTimeSec: 120,
                bidMsats: 5000n,
                providers: [],
                relays: [],
                encrypt: false,
              },
              customerKey,
            ),
          ),
        ).toBe('DATA_COMMITMENT_MISMATCH');
        const request = buildJobRequest(
          {
            backend: 'miden',
            bidMsats: 5000n,
            relays: [],
            providers: [provider.pubkey],
            body: {
              plan: { type: 'text', text: sensor.planText },
              inputs: [dataInput(tampered)],
              params: [],
            },
          },
          customerKey,
        );
        await client.publish(request);
        expect(await errorFeedback(request.id, provider.pubkey)).toMatch(
          /^PROVIDER_DATA_INVALID: the plan does not run on this data: DATA_COMMITMENT_MISMATCH: /,
        );
      });

      it('refuses a malformed request (signed, but no bid) and an unaddressed one it cannot serve', async () => {
        const malformed = signEvent(
          5900,
          [
            ['verification', 'zk'],
            ['zkvm', 'miden'],
            ['p', provider.pubkey],
          ],
          '',
          customerKey,
        );
        await client.publish(malformed);
        expect(await errorFeedback(malformed.id, provider.pubkey)).toMatch(
          /^PROVIDER_BAD_REQUEST: DVM_MISSING_TAG: .*missing tag "bid"/,
        );
        // Unaddressed requests are served too (here: refused for the bid).
        const unaddressed = await requestJob({ providers: [], bidMsats: 1n });
        expect(await errorFeedback(unaddressed.requestId, provider.pubkey)).toMatch(
          /^PROVIDER_BID_TOO_LOW: /,
        );
      });

      it('`m2m job wait` reports a refusal as JOB_REFUSED with the reason, exit 1', async () => {
        const request = await m2m(
          'job',
          'request',
          '--plan',
          sensor.planFile,
          '--data',
          sensor.dataFile,
          '--bid',
          '999',
          '--provider',
          provider.pubkey,
          '--relay',
          relay.url,
          '--data-dir',
          customerDir,
          '--json',
        );
        expect(request.code, request.stderr).toBe(0);
        const { requestId } = JSON.parse(request.stdout) as { requestId: string };
        const wait = await m2m(
          'job',
          'wait',
          requestId,
          '--data-dir',
          customerDir,
          '--timeout',
          '30',
        );
        expect(wait.code).toBe(1);
        expect(wait.stderr).toMatch(
          new RegExp(
            `^error JOB_REFUSED: job ${requestId} was refused or failed: [0-9a-f]{12}: PROVIDER_BID_TOO_LOW: bid 999 msats`,
            'm',
          ),
        );
      }, 60_000);

      it('logged no error and counts every refusal', () => {
        expect(log.filter((e) => e.event === 'error')).toEqual([]);
        expect(provider.status().counts.refused).toBe(9);
      });
    });

    it(
      'a ZK-verified job through the CLI: request, processing, 6900, VALID (exit 0), status',
      async () => {
        const started = Date.now();
        const request = await m2m(
          'job',
          'request',
          '--plan',
          sensor.planFile,
          '--data',
          sensor.dataFile,
          '--zkvm',
          'miden',
          '--max-proving-time',
          '120',
          '--bid',
          '5000',
          '--provider',
          npubEncode(provider.pubkey),
          '--relay',
          relay.url,
          '--data-dir',
          customerDir,
        );
        expect(request.stderr).toMatch(/^job request published to 1\/1 relay\(s\)/);
        expect(request.code).toBe(0);
        const requestId = request.stdout.trim();
        expect(requestId).toMatch(/^[0-9a-f]{64}$/);

        const wait = await m2m(
          'job',
          'wait',
          requestId,
          '--data-dir',
          customerDir,
          '--json',
          '--timeout',
          '120',
        );
        expect(wait.code, wait.stderr).toBe(0);
        expect(wait.stderr).toMatch(/^result [0-9a-f]{12} from [0-9a-f]{12}: valid$/m);
        const verdict = JSON.parse(wait.stdout);
        expect(verdict).toMatchObject({
          ok: true,
          valid: true,
          requestId,
          provider: provider.pubkey,
        });
        expect(verdict.output).toEqual(sensor.golden.output);
        const endToEnd = Date.now() - started;

        const status = await m2m('job', 'status', requestId, '--data-dir', customerDir, '--json');
        expect(status.code).toBe(0);
        const report = JSON.parse(status.stdout);
        expect(report).toMatchObject({
          published: true,
          latest: { status: 'success', provider: provider.pubkey },
          verdict: { valid: true, resultId: verdict.resultId },
        });
        expect(report.feedback.map((f: { status: string }) => f.status)).toEqual([
          'processing',
          'success',
        ]);

        const results = await eventsFor(requestId, 6900);
        expect(results.map((e) => e.id)).toEqual([verdict.resultId]);
        expect(provider.store.get(requestId)).toMatchObject({ state: 'published', attempts: 1 });
        const human = await m2m('job', 'status', requestId, '--data-dir', customerDir);
        expect(human.stdout).toMatch(/success +from [0-9a-f]{12}: proved in \d+ ms/);
        expect(human.stdout).toMatch(/verified: VALID/);

        console.info(
          `[market ${name}] sensor-summary end to end ${endToEnd} ms (request → VALID, CLI); proving ${verdict.provingTimeMs} ms (${verdict.cyclesUsed} VM cycles); verify ${verdict.verifyMs.toFixed(1)} ms`,
        );
        const store = new CustomerStore(join(customerDir, 'jobs.db'));
        const job = store.require(requestId);
        store.close();
        const [result] = results as [NostrEvent];
        const parsed = parseJobResult(result);
        if (parsed.proof.type !== 'inline') throw new Error('expected an inline proof');
        happy = { job, result, envelope: parsed.proof.envelope };
      },
      LONG,
    );

    describe('tampered results are INVALID', () => {
      const rebuild = (envelope: ProofEnvelope, output?: string, key = providerKey) => {
        if (happy === undefined) throw new Error('needs the happy-path job');
        return buildJobResult(
          {
            request: parseJobRequest(happy.job.request),
            envelope,
            output: output ?? JSON.stringify(sensor.golden.output),
          },
          key,
        );
      };
      const reenvelope = (envelope: ProofEnvelope, changes: Partial<ProofEnvelope>) => {
        const { version: _v, proofHash: _h, ...fields } = envelope;
        return createEnvelope({ ...fields, ...changes });
      };
      const verdictOf = async (event: unknown) => {
        if (happy === undefined) throw new Error('needs the happy-path job');
        return verifyJobResult(happy.job, event, undefined);
      };

      it('the untouched result verifies (the baseline the others differ from)', async () => {
        expect(await verdictOf(happy?.result)).toMatchObject({ valid: true });
      });

      it('a different output hash, re-signed by the provider', async () => {
        const envelope = happy?.envelope as ProofEnvelope;
        const forged = rebuild(
          reenvelope(envelope, { publicOutputs: { outputHash: `poseidon2:${'00'.repeat(32)}` } }),
        );
        expect(await verdictOf(forged)).toMatchObject({
          valid: false,
          code: 'STATEMENT_MISMATCH',
          reason: expect.stringMatching(/^proof is for output hash poseidon2:0{64}, expected /),
        });
      });

      it('a flipped proof byte, re-signed by the provider', async () => {
        const envelope = happy?.envelope as ProofEnvelope;
        const proof = new Uint8Array(envelope.proof);
        const at = Math.floor(proof.length / 2);
        proof[at] = (proof[at] as number) ^ 0x01;
        expect(await verdictOf(rebuild(reenvelope(envelope, { proof })))).toMatchObject({
          valid: false,
          code: 'PROOF_INVALID',
        });
      });

      it('a different delivered output under the honest proof', async () => {
        const output = structuredClone(sensor.golden.output) as Record<string, string>[];
        (output[0] as Record<string, string>).mean = '99.999';
        const forged = rebuild(happy?.envelope as ProofEnvelope, JSON.stringify(output));
        expect(await verdictOf(forged)).toMatchObject({ valid: false, code: 'STATEMENT_MISMATCH' });
      });

      it('a tag changed after signing, or a result from a provider the job did not address', async () => {
        const altered = structuredClone(happy?.result) as NostrEvent;
        altered.tags = altered.tags.map((t) => (t[0] === 'cycles-used' ? ['cycles-used', '1'] : t));
        expect(await verdictOf(altered)).toMatchObject({
          valid: false,
          code: 'RESULT_MALFORMED',
          reason: expect.stringMatching(/^DVM_BAD_EVENT: /),
        });
        const stranger = rebuild(happy?.envelope as ProofEnvelope, undefined, generateSecretKey());
        expect(await verdictOf(stranger)).toMatchObject({
          valid: false,
          code: 'PROVIDER_MISMATCH',
        });
      });

      it('`m2m job wait` prints INVALID and exits 1 for a forged result from its provider', async () => {
        const fakeKey = generateSecretKey();
        const fake = getPublicKey(fakeKey);
        const request = await m2m(
          'job',
          'request',
          '--plan',
          sensor.planFile,
          '--data',
          sensor.dataFile,
          '--bid',
          '5000',
          '--provider',
          fake,
          '--relay',
          relay.url,
          '--data-dir',
          customerDir,
        );
        expect(request.code, request.stderr).toBe(0);
        const requestId = request.stdout.trim();
        const store = new CustomerStore(join(customerDir, 'jobs.db'));
        const job = store.require(requestId);
        store.close();
        const envelope = happy?.envelope as ProofEnvelope;
        const proof = new Uint8Array(envelope.proof);
        proof[100] = (proof[100] as number) ^ 0xff;
        const forged = buildJobResult(
          {
            request: parseJobRequest(job.request),
            envelope: reenvelope(envelope, { proof }),
            output: JSON.stringify(sensor.golden.output),
          },
          fakeKey,
        );
        await client.publish(forged);
        const wait = await m2m(
          'job',
          'wait',
          requestId,
          '--data-dir',
          customerDir,
          '--timeout',
          '60',
        );
        expect(wait.code).toBe(1);
        expect(wait.stdout).toMatch(
          new RegExp(
            `^INVALID result ${forged.id.slice(0, 12)} for job ${requestId}: PROOF_INVALID: `,
          ),
        );
        // The real provider was not addressed and left the request alone.
        expect(provider.store.get(requestId)).toBeUndefined();
      }, 60_000);
    });

    it(
      'a private job (NIP-44): plan, data and output never travel in clear, and it verifies',
      async () => {
        const job = await requestJob({ encrypt: true }, inventory);
        const outcome = await waitForJob(pool, job, {
          timeoutMs: 120_000,
          customerSecretKey: customerKey,
        });
        expect(outcome).toMatchObject({ outcome: 'verified', verdict: { valid: true } });
        if (outcome.outcome !== 'verified') return;
        expect(outcome.verdict.output).toEqual(inventory.golden.output);
        const [request] = await query(client, [{ ids: [job.requestId] }]);
        const [result] = await eventsFor(job.requestId, 6900);
        for (const event of [request, result] as NostrEvent[]) {
          expect(event.tags.filter((t) => t[0] === 'i')).toEqual([]);
          expect(event.tags).toContainEqual(['encrypted']);
          expect(JSON.stringify(event)).not.toContain('inventory-reconciliation');
          expect(JSON.stringify(event)).not.toContain('warehouse');
        }
      },
      LONG,
    );

    it('re-sends a result that was built and stored but never confirmed, without proving again', async () => {
      if (happy === undefined) throw new Error('needs the happy-path job');
      const config = resolveProviderConfig(
        { relays: [relay.url], price: PRICE, dataDir: 'provider-unsent' },
        dir,
      );
      const job = await requestJob({ providers: [getPublicKey(config.secretKey)] });
      const request = parseJobRequest(job.request);
      // The state a crash leaves between "6900 built and committed" and "relay said OK".
      const result = buildJobResult(
        { request, envelope: happy.envelope, output: JSON.stringify(sensor.golden.output) },
        config.secretKey,
      );
      const feedback = (status: 'processing' | 'success') =>
        signEvent(
          7000,
          [
            ['status', status],
            ['e', job.requestId],
            ['p', job.customer],
          ],
          '',
          config.secretKey,
        );
      const store = new JobStore(join(config.dataDir, 'jobs.db'));
      store.receive(job.request);
      store.accept(job.requestId, 11, 120, feedback('processing'));
      store.startProving(job.requestId);
      store.recordResult(job.requestId, result, feedback('success'), { provingMs: 1, vmCycles: 1 });
      store.close();
      expect(await eventsFor(job.requestId, 6900)).toEqual([]);

      const entries: ProviderLogEntry[] = [];
      const second = await startProvider(config, { log: (e) => entries.push(e) });
      try {
        const outcome = await waitForJob(pool, job, { timeoutMs: 30_000 });
        expect(outcome).toMatchObject({
          outcome: 'verified',
          verdict: { valid: true, resultId: result.id },
        });
        expect((await eventsFor(job.requestId, 6900)).map((e) => e.id)).toEqual([result.id]);
        expect(entries.filter((e) => e.event === 'proving')).toEqual([]);
        expect(second.store.get(job.requestId)).toMatchObject({ state: 'published', attempts: 1 });
      } finally {
        await second.close();
      }
    }, 60_000);

    it('a proof that runs past its deadline ends `failed`, with PROVER_TIMEOUT in the 7000 error', async () => {
      // An estimate far too optimistic (1 us per trace row) lets a 1 s deadline through.
      const config = resolveProviderConfig(
        {
          relays: [relay.url],
          price: PRICE,
          dataDir: 'provider-optimist',
          estimate: { microsPerRow: 1, overheadMs: 0 },
        },
        dir,
      );
      const entries: ProviderLogEntry[] = [];
      const optimist = await startProvider(config, { log: (e) => entries.push(e) });
      try {
        const job = await requestJob({ providers: [optimist.pubkey], maxProvingTimeSec: 1 });
        const outcome = await waitForJob(pool, job, { timeoutMs: 30_000 });
        expect(outcome.outcome).toBe('refused');
        if (outcome.outcome !== 'refused') return;
        expect(outcome.feedback.map((f) => f.info)).toEqual([
          expect.stringMatching(
            /^PROVIDER_PROVING_FAILED: PROVER_TIMEOUT: plan-prove did not finish within 1000 ms/,
          ),
        ]);
        expect(optimist.store.get(job.requestId)).toMatchObject({
          state: 'failed',
          code: 'PROVIDER_PROVING_FAILED',
          attempts: 1,
        });
        expect(entries.map((e) => e.event)).toEqual(
          expect.arrayContaining(['accepted', 'proving', 'failed']),
        );
      } finally {
        await optimist.close();
      }
    }, 60_000);

    describe('a provider node process (m2m node start)', () => {
      const nodeDir = join(dir, 'node');
      const configFile = join(dir, 'node.yaml');
      let node: ProviderProcess | undefined;

      beforeAll(() => {
        writeFileSync(
          configFile,
          [
            `relays: [${relay.url}]`,
            `price: ${PRICE}`,
            `dataDir: ${nodeDir}`,
            'secretKeyFile: node/provider.key',
            'maxProvingTime: 120',
            '',
          ].join('\n'),
        );
      });
      afterAll(async () => {
        if (node !== undefined && node.child.exitCode === null) await node.crash();
      });

      const jobState = (requestId: string) => {
        const db = new Database(join(nodeDir, 'jobs.db'), { readonly: true });
        try {
          return db
            .prepare('SELECT state, attempts FROM jobs WHERE request_id = ?')
            .get(requestId) as { state: string; attempts: number } | undefined;
        } finally {
          db.close();
        }
      };

      it(
        'killed mid-proof (SIGKILL) and restarted, it completes the job exactly once',
        async () => {
          node = await ProviderProcess.start(configFile);
          const pubkey = node.pubkey;
          const job = await requestJob({ providers: [pubkey] });
          await node.waitFor(
            (e) => e.event === 'proving' && e.requestId === job.requestId,
            'proving',
          );
          expect(jobState(job.requestId)).toEqual({ state: 'proving', attempts: 1 });
          await node.crash();
          expect(await eventsFor(job.requestId, 6900)).toEqual([]);

          node = await ProviderProcess.start(configFile);
          expect(node.pubkey).toBe(pubkey);
          expect(node.entries.find((e) => e.event === 'started')).toMatchObject({
            resumed: { unproven: 1 },
          });
          const outcome = await waitForJob(pool, job, { timeoutMs: 120_000 });
          expect(outcome).toMatchObject({ outcome: 'verified', verdict: { valid: true } });
          await node.waitFor(
            (e) => e.event === 'published' && e.requestId === job.requestId,
            'published',
          );
          // Give a duplicate a chance to show up before counting.
          await new Promise((resolve) => setTimeout(resolve, 1000));
          expect(await eventsFor(job.requestId, 6900)).toHaveLength(1);
          expect(jobState(job.requestId)).toEqual({ state: 'published', attempts: 2 });
          // The relay replayed the request to the restarted node, which knew it: one processing.
          const feedback = (await eventsFor(job.requestId, 7000)).map(
            (e) => parseJobFeedback(e).status,
          );
          expect(feedback.sort()).toEqual(['processing', 'success']);
        },
        LONG,
      );

      it(
        'SIGTERM while proving lets the proof finish and publishes it before exiting 0',
        async () => {
          if (node === undefined) throw new Error('needs the running node');
          const job = await requestJob({ providers: [node.pubkey] });
          await node.waitFor(
            (e) => e.event === 'proving' && e.requestId === job.requestId,
            'proving',
          );
          node.child.kill('SIGTERM');
          expect(await node.exited).toEqual({ code: 0, signal: null });
          const events = node.entries.map((e) => e.event);
          const shutdown = ['stopping', 'proved', 'published', 'stopped'];
          expect(
            events.slice(events.lastIndexOf('proving')).filter((e) => shutdown.includes(e)),
          ).toEqual(shutdown);
          expect(jobState(job.requestId)).toEqual({ state: 'published', attempts: 1 });
          const outcome = await waitForJob(pool, job, { timeoutMs: 10_000 });
          expect(outcome).toMatchObject({ outcome: 'verified', verdict: { valid: true } });
          expect(node.stderr).toBe('');
        },
        LONG,
      );
    });
  });
}
