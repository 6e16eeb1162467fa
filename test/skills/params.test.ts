import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildSkillContext, type SkillContext } from '../../skills/context.js';
import { SKILLS } from '../../skills/index.js';
import { toolOf } from '../../skills/mcp.js';
import { requestZkJob } from '../../skills/request-zk-job.js';
import { parseSkillParams, runSkill } from '../../skills/skill.js';
import { verifyProof } from '../../skills/verify-proof.js';
import { M2mError } from '../../zkvm/errors.js';

/** Skill parameters: zod validation with typed errors, defaults, the JSON Schema agents see. */

const PROVIDER = 'ab'.repeat(32);
const valid = {
  providerPubkey: PROVIDER,
  task: { plan: 'plans/sensor-summary.yaml', data: 'plans/data/sensor-summary.json' },
  payment: { bidMsats: '21000' },
};

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const context = (): SkillContext => {
  const dir = mkdtempSync(join(tmpdir(), 'm2m-skills-'));
  dirs.push(dir);
  // A relay nobody listens on: these tests must fail before any network I/O.
  return buildSkillContext({ relay: ['ws://127.0.0.1:9'], dataDir: dir }, {});
};

/** The SKILL_PARAMS_INVALID error of a bad parameter set, with its issue paths. */
function paramError(skill: typeof requestZkJob | typeof verifyProof, input: unknown) {
  try {
    parseSkillParams(skill as never, input);
  } catch (error) {
    expect(error).toBeInstanceOf(M2mError);
    const e = error as M2mError;
    expect(e.code).toBe('SKILL_PARAMS_INVALID');
    const issues = e.details?.issues as { path: string; message: string }[];
    return { message: e.message, paths: issues.map((i) => i.path) };
  }
  throw new Error('expected SKILL_PARAMS_INVALID');
}

describe('request_zk_job parameters', () => {
  it('applies the defaults: zk, any backend, 300 s, public, no wait', () => {
    const params = parseSkillParams(requestZkJob, valid);
    expect(params).toMatchObject({
      verificationLevel: 'zk',
      zkvm: 'any',
      maxProvingTime: 300,
      private: false,
      wait: false,
      timeout: 600,
    });
  });

  it('accepts every backend of the issue plus miden, and npub or hex providers', () => {
    for (const zkvm of ['risc-zero', 'sp1', 'miden', 'any'])
      expect(parseSkillParams(requestZkJob, { ...valid, zkvm }).zkvm).toBe(zkvm);
    const npub = `npub1${'q'.repeat(58)}`;
    expect(parseSkillParams(requestZkJob, { ...valid, providerPubkey: npub }).providerPubkey).toBe(
      npub,
    );
    expect(parseSkillParams(requestZkJob, { ...valid, payment: { bidMsats: 5 } }).payment).toEqual({
      bidMsats: 5,
    });
  });

  it('names a bad enum value', () => {
    const bad = paramError(requestZkJob, { ...valid, verificationLevel: 'optimistic' });
    expect(bad.paths).toEqual(['verificationLevel']);
    expect(bad.message).toMatch(/verificationLevel: .*"hash"\|"zk"\|"zk-tls"/);
    expect(paramError(requestZkJob, { ...valid, zkvm: 'jolt' }).paths).toEqual(['zkvm']);
  });

  it('names every missing field, nested ones by their path', () => {
    expect(paramError(requestZkJob, {}).paths.sort()).toEqual(['payment', 'task']);
    expect(paramError(requestZkJob, { ...valid, task: {}, payment: {} }).paths.sort()).toEqual([
      'payment.bidMsats',
      'task.data',
      'task.plan',
    ]);
    expect(paramError(requestZkJob, undefined).paths.sort()).toEqual(['payment', 'task']);
  });

  it('refuses bad values and unknown keys', () => {
    expect(paramError(requestZkJob, { ...valid, providerPubkey: 'alice' }).paths).toEqual([
      'providerPubkey',
    ]);
    expect(paramError(requestZkJob, { ...valid, maxProvingTime: 0 }).paths).toEqual([
      'maxProvingTime',
    ]);
    expect(paramError(requestZkJob, { ...valid, maxProvingTime: 1.5 }).paths).toEqual([
      'maxProvingTime',
    ]);
    for (const bidMsats of ['-1', '1.5', '18446744073709551616', -3, ''])
      expect(paramError(requestZkJob, { ...valid, payment: { bidMsats } }).paths).toEqual([
        'payment.bidMsats',
      ]);
    expect(paramError(requestZkJob, { ...valid, relays: ['http://x'] }).paths).toEqual([
      'relays.0',
    ]);
    expect(paramError(requestZkJob, { ...valid, minProgramVersion: 'v1' }).paths).toEqual([
      'minProgramVersion',
    ]);
    const unknown = paramError(requestZkJob, { ...valid, bid: 5 });
    expect(unknown.paths).toEqual(['(root)']);
    expect(unknown.message).toMatch(/bid/);
  });

  it('refuses hash and zk-tls verification with a typed error that says why', async () => {
    await expect(
      runSkill(requestZkJob, { ...valid, verificationLevel: 'hash' }, context()),
    ).rejects.toMatchObject({
      code: 'VERIFICATION_UNSUPPORTED',
      message: expect.stringMatching(/hash.*cannot show.*use "zk"/),
    });
    await expect(
      runSkill(requestZkJob, { ...valid, verificationLevel: 'zk-tls' }, context()),
    ).rejects.toMatchObject({
      code: 'VERIFICATION_UNSUPPORTED',
      message: expect.stringMatching(/TLS-notary/),
    });
  });

  it('validates the plan before publishing anything', async () => {
    const ctx = context();
    await expect(
      runSkill(
        requestZkJob,
        { ...valid, task: { plan: 'version: "1.0"\nid: broken\n', data: {} } },
        ctx,
      ),
    ).rejects.toMatchObject({ code: expect.stringMatching(/^PLAN_/) });
    await expect(
      runSkill(requestZkJob, { ...valid, task: { ...valid.task, plan: 'nope/missing.yaml' } }, ctx),
    ).rejects.toMatchObject({ code: 'IO_READ_FAILED' });
    await expect(
      runSkill(requestZkJob, { ...valid, private: true, providerPubkey: undefined }, ctx),
    ).rejects.toMatchObject({ code: 'JOB_PRIVATE_NEEDS_PROVIDER' });
  });
});

describe('verify_proof parameters', () => {
  const id = 'cd'.repeat(32);

  it('takes exactly one of jobResultEventId and proofRef', () => {
    expect(paramError(verifyProof, {}).message).toMatch(
      /exactly one of jobResultEventId and proofRef/,
    );
    expect(
      paramError(verifyProof, { jobResultEventId: id, proofRef: 'p.m2mproof', plan: 'x.yaml' })
        .message,
    ).toMatch(/exactly one/);
    expect(parseSkillParams(verifyProof, { jobResultEventId: id }).jobResultEventId).toBe(id);
  });

  it('needs an expectation for a proof file, and plan for data', () => {
    expect(paramError(verifyProof, { proofRef: 'p.m2mproof' }).paths).toEqual(['plan']);
    expect(
      parseSkillParams(verifyProof, {
        proofRef: 'p.m2mproof',
        expectedPlanHash: `sha256:${'0'.repeat(64)}`,
      }).proofRef,
    ).toBe('p.m2mproof');
    expect(paramError(verifyProof, { jobResultEventId: id, data: { readings: [] } }).paths).toEqual(
      ['plan'],
    );
  });

  it('refuses malformed ids and hashes', () => {
    expect(paramError(verifyProof, { jobResultEventId: 'xyz' }).paths).toEqual([
      'jobResultEventId',
    ]);
    expect(
      paramError(verifyProof, { proofRef: 'p', expectedPlanHash: 'sha256:abc' }).paths,
    ).toContain('expectedPlanHash');
  });

  it('reports an unreadable proof file as IO_READ_FAILED', async () => {
    await expect(
      runSkill(
        verifyProof,
        { proofRef: 'no/such.m2mproof', expectedJobHash: `sha256:${'0'.repeat(64)}` },
        context(),
      ),
    ).rejects.toMatchObject({ code: 'IO_READ_FAILED' });
  });
});

describe('the JSON Schemas agents see', () => {
  it('lists each skill with its parameters, enums and required fields', () => {
    const [request, verify] = SKILLS.map(toolOf);
    expect(request?.name).toBe('request_zk_job');
    const props = request?.inputSchema.properties as Record<string, Record<string, unknown>>;
    expect(props.verificationLevel?.enum).toEqual(['hash', 'zk', 'zk-tls']);
    expect(props.zkvm?.enum).toEqual(['risc-zero', 'sp1', 'miden', 'any']);
    expect(request?.inputSchema.required).toEqual(['task', 'payment']);
    expect(verify?.name).toBe('verify_proof');
    expect(Object.keys(verify?.inputSchema.properties ?? {})).toEqual(
      expect.arrayContaining(['jobResultEventId', 'proofRef', 'plan', 'expectedPlanHash']),
    );
  });
});

describe('the skill context', () => {
  it('takes options first, then the environment, then the defaults', () => {
    const fromEnv = buildSkillContext(
      { cwd: '/w' },
      { M2M_RELAYS: 'ws://a:1, wss://b', M2M_HOME: 'home', M2M_KEY: '/k/key' },
    );
    expect(fromEnv).toMatchObject({
      relays: ['ws://a:1', 'wss://b'],
      dataDir: '/w/home',
      keyFile: '/k/key',
    });
    const fromOptions = buildSkillContext(
      { relay: ['ws://c:2'], dataDir: '/d', cwd: '/w' },
      { M2M_RELAYS: 'ws://a:1' },
    );
    expect(fromOptions).toMatchObject({
      relays: ['ws://c:2'],
      dataDir: '/d',
      keyFile: '/d/customer.key',
    });
    expect(buildSkillContext({}, {}).relays).toEqual(['ws://127.0.0.1:7447']);
    expect(() => buildSkillContext({ relay: ['localhost:7447'] }, {})).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
  });
});
