import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { AbstractRelay } from 'nostr-tools/abstract-relay';
import { npubEncode } from 'nostr-tools/nip19';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KIND_JOB_REQUEST, type NostrEvent } from '../../node/dvm/event.js';
import { parseJobRequest } from '../../node/dvm/request.js';
import { buildJobResult } from '../../node/dvm/result.js';
import { resolveProviderConfig } from '../../node/provider/config.js';
import { type Provider, startProvider } from '../../node/provider/provider.js';
import type { RelayServer } from '../../node/relay/server.js';
import { assertValidPlan } from '../../zkvm/plan/validate.js';
import { type PlanProof, provePlan } from '../../zkvm/plan-proof/prove.js';
import { createEnvelope, encodeEnvelope, envelopeToJson } from '../../zkvm/proof/envelope.js';
import { findNativeProver } from '../../zkvm/prover/native-process.js';
import { connectClient, startTestRelay } from '../support/relay.js';

/**
 * `m2m mcp` as an agent runtime sees it: the MCP SDK client spawns the built CLI over stdio.
 * Real proofs (sensor-summary, about 5 s), a real embedded relay in this process, and a real
 * provider node for the end-to-end job.
 */
const BIN = new URL('../../dist/node/cli/main.js', import.meta.url).pathname;
const root = new URL('../../', import.meta.url).pathname;
const PLAN = join(root, 'plans/sensor-summary.yaml');
const DATA = join(root, 'plans/data/sensor-summary.json');
const OTHER_PLAN = join(root, 'plans/median-price.yaml');
const data = JSON.parse(readFileSync(DATA, 'utf8')) as Record<string, unknown[]>;

interface ToolResult {
  isError?: boolean;
  content: { type: string; text: string }[];
}

describe('m2m mcp over stdio', () => {
  const dir = mkdtempSync(join(tmpdir(), 'm2m-mcp-'));
  let relay: RelayServer;
  let raw: AbstractRelay;
  let client: Client;
  let proof: PlanProof;
  const proofFile = join(dir, 'sensor.m2mproof');
  const cleanup: (() => unknown)[] = [];

  beforeAll(async () => {
    if (findNativeProver() === undefined)
      throw new Error('m2m-prover is not built: run `npm run build:prover`');
    relay = await startTestRelay();
    cleanup.push(() => relay.close());
    raw = await connectClient(relay.url);
    cleanup.push(() => raw.close());
    proof = await provePlan(assertValidPlan(readFileSync(PLAN, 'utf8')), data);
    writeFileSync(proofFile, encodeEnvelope(proof.envelope));
    client = new Client({ name: 'm2m-test', version: '0.0.0' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [BIN, 'mcp', '--relay', relay.url, '--data-dir', join(dir, 'customer')],
        stderr: 'pipe',
      }),
    );
    cleanup.push(() => client.close());
  }, 120_000);

  afterAll(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
    rmSync(dir, { recursive: true, force: true });
  });

  async function call(name: string, args: Record<string, unknown>, timeout = 60_000) {
    const result = (await client.callTool({ name, arguments: args }, undefined, {
      timeout,
    })) as ToolResult;
    expect(result.content[0]?.type).toBe('text');
    return {
      isError: result.isError === true,
      // biome-ignore lint/suspicious/noExplicitAny: the tool's JSON answer, checked by each test
      body: JSON.parse(result.content[0]?.text ?? '') as any,
    };
  }

  /** The next kind 5900 the relay delivers to a raw nostr-tools subscription. */
  function nextRequest(): Promise<NostrEvent> {
    return new Promise((resolve) => {
      const sub = raw.subscribe(
        [{ kinds: [KIND_JOB_REQUEST], since: Math.floor(Date.now() / 1000) - 5 }],
        {
          onevent: (event) => {
            sub.close();
            resolve(JSON.parse(JSON.stringify(event)) as NostrEvent);
          },
        },
      );
    });
  }

  it('lists both tools with their zod schemas as JSON Schema', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['request_zk_job', 'verify_proof']);
    const [request, verify] = tools;
    const props = request?.inputSchema.properties as Record<string, Record<string, unknown>>;
    expect(props.verificationLevel?.enum).toEqual(['hash', 'zk', 'zk-tls']);
    expect(props.zkvm?.enum).toEqual(['risc-zero', 'sp1', 'miden', 'any']);
    expect(Object.keys(props)).toEqual(
      expect.arrayContaining(['providerPubkey', 'task', 'maxProvingTime', 'payment', 'wait']),
    );
    expect(request?.inputSchema.required).toEqual(['task', 'payment']);
    expect(Object.keys(verify?.inputSchema.properties ?? {})).toEqual(
      expect.arrayContaining(['jobResultEventId', 'proofRef', 'plan', 'data', 'expectedJobHash']),
    );
  });

  describe('verify_proof with a proof envelope file', () => {
    it('a real proof is valid against its plan, data and output', async () => {
      const { isError, body } = await call('verify_proof', {
        proofRef: proofFile,
        plan: PLAN,
        data: DATA,
        output: proof.execution.output,
      });
      expect(isError).toBe(false);
      expect(body).toMatchObject({
        valid: true,
        source: 'proof-ref',
        outputHash: proof.statement.outputHash,
        programId: proof.envelope.programId,
        planHash: proof.statement.planHash,
        dataRoot: proof.statement.dataRoot,
        metadata: { provingTimeMs: proof.envelope.metadata.provingTimeMs },
        checked: ['planHash', 'jobHash', 'dataRoot', 'outputHash'],
      });
      expect(body.verifyMs).toBeGreaterThan(0);
      // A file:// URL and a bare expected job hash work too.
      const byUrl = await call('verify_proof', {
        proofRef: `file://${proofFile}`,
        expectedJobHash: proof.statement.jobRequestHash,
      });
      expect(byUrl.body).toMatchObject({ valid: true, checked: ['jobHash'] });
    });

    it('a damaged envelope is invalid: its proof bytes no longer hash to the stated hash', async () => {
      const bytes = readFileSync(proofFile);
      const at = bytes.length - 10;
      bytes[at] = (bytes[at] as number) ^ 0xff;
      const damaged = join(dir, 'damaged.m2mproof');
      writeFileSync(damaged, bytes);
      const { isError, body } = await call('verify_proof', { proofRef: damaged, plan: PLAN });
      expect(isError).toBe(false);
      expect(body).toMatchObject({ valid: false, code: 'PROOF_HASH_MISMATCH' });
      expect(body.reason).toMatch(/hash/);
    });

    it('a tampered proof with a recomputed hash (JSON envelope) fails the STARK check', async () => {
      const tampered = Uint8Array.from(proof.envelope.proof);
      const at = Math.floor(tampered.length / 2);
      tampered[at] = (tampered[at] as number) ^ 0x01;
      const file = join(dir, 'tampered.json');
      writeFileSync(
        file,
        JSON.stringify(envelopeToJson(createEnvelope({ ...proof.envelope, proof: tampered }))),
      );
      const { body } = await call('verify_proof', { proofRef: file, plan: PLAN, data: DATA });
      expect(body).toMatchObject({ valid: false, code: 'PROOF_INVALID' });
      expect(body.reason).toBeTruthy();
    });

    it('a real proof of another plan is invalid for the expected one', async () => {
      const { body } = await call('verify_proof', { proofRef: proofFile, plan: OTHER_PLAN });
      expect(body.valid).toBe(false);
      expect(['JOB_HASH_MISMATCH', 'STATEMENT_MISMATCH']).toContain(body.code);
    });
  });

  describe('request_zk_job', () => {
    const providerKey = generateSecretKey();
    const providerPubkey = getPublicKey(providerKey);

    it('publishes a kind 5900 with the ZK tags; a raw subscription on the relay receives it', async () => {
      const seen = nextRequest();
      const { isError, body } = await call('request_zk_job', {
        providerPubkey: npubEncode(providerPubkey),
        task: { plan: PLAN, data },
        verificationLevel: 'zk',
        zkvm: 'miden',
        maxProvingTime: 120,
        payment: { bidMsats: '21000' },
      });
      expect(isError).toBe(false);
      const event = await seen;
      expect(event.id).toBe(body.requestId);
      expect(body).toMatchObject({
        planHash: proof.statement.planHash,
        jobRequestHash: proof.statement.jobRequestHash,
        dataRoot: proof.statement.dataRoot,
        providers: [providerPubkey],
        relays: [relay.url],
        acceptedRelays: [relay.url],
      });
      const tag = (name: string) => event.tags.find((t) => t[0] === name);
      expect(tag('verification')).toEqual(['verification', 'zk']);
      expect(tag('zkvm')).toEqual(['zkvm', 'miden']);
      expect(tag('max-proving-time')).toEqual(['max-proving-time', '120']);
      expect(tag('bid')).toEqual(['bid', '21000']);
      expect(tag('p')).toEqual(['p', providerPubkey]);
      const planInput = event.tags.find((t) => t[0] === 'i' && t[4] === 'plan');
      expect(planInput?.[1]).toBe(readFileSync(PLAN, 'utf8'));

      // The test plays the provider: a 6900 with the real proof, then verify_proof by event id
      // checks it against the job the skill saved.
      const request = parseJobRequest(event);
      const output = JSON.stringify(proof.execution.output);
      const result = buildJobResult({ request, envelope: proof.envelope, output }, providerKey);
      await raw.publish(result);
      const verified = await call('verify_proof', { jobResultEventId: result.id });
      expect(verified.isError).toBe(false);
      expect(verified.body).toMatchObject({
        valid: true,
        source: 'job-result',
        requestId: body.requestId,
        resultId: result.id,
        provider: providerPubkey,
        outputHash: proof.statement.outputHash,
        programId: proof.envelope.programId,
        output: proof.execution.output,
      });

      // The same proof with a different delivered output is caught.
      const wrong = proof.execution.output.map((r) => ({ ...r, status: 'forged' }));
      const forged = buildJobResult(
        { request, envelope: proof.envelope, output: JSON.stringify(wrong) },
        providerKey,
      );
      await raw.publish(forged);
      const rejected = await call('verify_proof', { jobResultEventId: forged.id });
      expect(rejected.body).toMatchObject({ valid: false, resultId: forged.id });
      expect(rejected.body.code).toMatch(/MISMATCH|OUTPUT_MALFORMED/);

      // Without the saved job (another data dir's result), plan and data are enough.
      const byParams = await call('verify_proof', {
        jobResultEventId: result.id,
        plan: PLAN,
        data: DATA,
      });
      expect(byParams.body).toMatchObject({ valid: true, requestId: body.requestId });
    });
  });

  describe('bad arguments come back as isError results with a code', () => {
    it.each([
      [
        'a bad enum',
        'request_zk_job',
        { task: { plan: PLAN, data }, payment: { bidMsats: 1 }, zkvm: 'jolt' },
        'SKILL_PARAMS_INVALID',
        /zkvm/,
      ],
      [
        'missing fields',
        'request_zk_job',
        { task: { plan: PLAN } },
        'SKILL_PARAMS_INVALID',
        /task\.data.*payment|payment.*task\.data/,
      ],
      [
        'hash verification',
        'request_zk_job',
        { task: { plan: PLAN, data }, payment: { bidMsats: 1 }, verificationLevel: 'hash' },
        'VERIFICATION_UNSUPPORTED',
        /use "zk"/,
      ],
      [
        'an invalid plan',
        'request_zk_job',
        { task: { plan: '{"version": "1.0"}', data }, payment: { bidMsats: 1 } },
        /^PLAN_/,
        /./,
      ],
      ['neither id nor proof', 'verify_proof', {}, 'SKILL_PARAMS_INVALID', /exactly one/],
      [
        'a result no relay has',
        'verify_proof',
        { jobResultEventId: 'ee'.repeat(32) },
        'RESULT_NOT_FOUND',
        /no job result/,
      ],
      [
        'an unreadable proof file',
        'verify_proof',
        { proofRef: join(dir, 'none.m2mproof'), plan: PLAN },
        'IO_READ_FAILED',
        /none\.m2mproof/,
      ],
      ['an unknown tool', 'sell_compute', {}, 'TOOL_UNKNOWN', /request_zk_job, verify_proof/],
    ] as const)('%s', async (_what, tool, args, code, message) => {
      const { isError, body } = await call(tool, args as Record<string, unknown>);
      expect(isError).toBe(true);
      expect(body.ok).toBe(false);
      expect(body.error.code).toMatch(code);
      expect(body.error.message).toMatch(message);
    });

    it('the server is still serving afterwards', async () => {
      expect((await client.listTools()).tools).toHaveLength(2);
    });
  });

  describe('end to end with a provider node', () => {
    let provider: Provider;

    beforeAll(async () => {
      const config = resolveProviderConfig(
        { relays: [relay.url], price: 1000, dataDir: 'provider', maxProvingTime: 120 },
        dir,
      );
      provider = await startProvider(config, { log: () => {} });
      cleanup.push(() => provider.close());
    }, 60_000);

    it('request_zk_job with wait: the provider proves, the skill verifies: VALID', async () => {
      const { isError, body } = await call(
        'request_zk_job',
        {
          providerPubkey: provider.pubkey,
          task: { plan: PLAN, data: DATA },
          zkvm: 'miden',
          maxProvingTime: 120,
          payment: { bidMsats: 5000 },
          wait: true,
          timeout: 150,
        },
        180_000,
      );
      expect(isError, JSON.stringify(body)).toBe(false);
      expect(body.verdict).toMatchObject({
        valid: true,
        requestId: body.requestId,
        provider: provider.pubkey,
        planHash: proof.statement.planHash,
        dataRoot: proof.statement.dataRoot,
        outputHash: proof.statement.outputHash,
      });
      expect(body.verdict.output).toEqual(proof.execution.output);
    }, 200_000);
  });
});
