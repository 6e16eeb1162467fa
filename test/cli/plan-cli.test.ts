import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listExamplePlans } from '../../node/cli/demo-command.js';

/** The CLI as users run it: the built bin (npm test builds first). */
const BIN = new URL('../../dist/node/cli/main.js', import.meta.url).pathname;
const m2m = (...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
const examples = listExamplePlans();

describe('m2m plan (CLI)', () => {
  it('validates every example plan', () => {
    const r = m2m('plan', 'validate', ...examples.map((e) => e.planFile));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.match(/: valid,/g)?.length).toBe(examples.length);
  });

  it('a broken copy prints file:line:col and a code, and exits 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'm2m-cli-'));
    const source = readFileSync(examples[0]?.planFile as string, 'utf8').split('\n');
    const line = source.findIndex((l) => l.includes('input:')) + 1;
    source[line - 1] = (source[line - 1] as string).replace(/input: .*/, 'input: nowhere');
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, source.join('\n'));
    const r = m2m('plan', 'validate', broken);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `^${broken.replaceAll('/', '\\/')}:${line}:\\d+: error PLAN_DANGLING_REFERENCE: `,
        'm',
      ),
    );
  });

  it('reports malformed YAML with its location', () => {
    const dir = mkdtempSync(join(tmpdir(), 'm2m-cli-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'version: "1.0"\nsteps: [\n  - {\n');
    const r = m2m('plan', 'validate', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.yaml:\d+:\d+: error PLAN_SYNTAX: /);
  });

  for (const example of examples) {
    it(`run ${example.name} --json prints the golden output and hash`, () => {
      const r = m2m('plan', 'run', example.planFile, '--data', example.dataFile, '--json');
      expect(r.code).toBe(0);
      const golden = JSON.parse(readFileSync(example.goldenFile, 'utf8'));
      const out = JSON.parse(r.stdout);
      expect(out.outputHash).toBe(golden.outputHash);
      expect(out.output).toEqual(golden.output);
    });
  }

  it('run with data that breaks the commitment exits 1 with DATA_COMMITMENT_MISMATCH as JSON', () => {
    const example = examples.find((e) => e.name === 'orders-over-threshold');
    const dir = mkdtempSync(join(tmpdir(), 'm2m-cli-'));
    const data = JSON.parse(readFileSync(example?.dataFile as string, 'utf8'));
    data.orders[0].amount = '1.00';
    writeFileSync(join(dir, 'd.json'), JSON.stringify(data));
    const r = m2m(
      'plan',
      'run',
      example?.planFile as string,
      '--data',
      join(dir, 'd.json'),
      '--json',
    );
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.code).toBe('DATA_COMMITMENT_MISMATCH');
  });

  it('hash --data reports matching commitments', () => {
    const example = examples[0];
    const r = m2m(
      'plan',
      'hash',
      example?.planFile as string,
      '--data',
      example?.dataFile as string,
      '--json',
    );
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.planHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(out.inputs.every((i: { matches: boolean }) => i.matches)).toBe(true);
  });

  it('schema prints the committed JSON Schema', () => {
    const r = m2m('plan', 'schema');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      readFileSync(
        new URL('../../plans/schema/execution-plan.schema.json', import.meta.url),
        'utf8',
      ),
    );
  });

  it('usage errors exit 2, unreadable files exit 3, help lists the exit codes', () => {
    expect(m2m('plan', 'frobnicate').code).toBe(2);
    expect(m2m('plan', 'run', examples[0]?.planFile as string).code).toBe(2);
    const missing = m2m('plan', 'validate', '/nonexistent/plan.yaml');
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('IO_READ_FAILED');
    const help = m2m('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Exit codes:');
  });

  it('demo checks every example plan, then runs one paid, proven and verified market job', () => {
    const r = m2m('demo');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${examples.length} passed, 0 failed`);
    expect(r.stdout).toContain('market job: sensor-summary, proved on the miden backend');
    expect(r.stdout).toMatch(/escrow holds 5000 msats \(prepared\)/);
    expect(r.stdout).toMatch(/proof uploaded \(\d+ bytes\) -> blossom:[0-9a-f]{64}/);
    expect(r.stdout).toMatch(/customer: VALID proof/);
    expect(r.stdout).toMatch(/escrow: payment fulfilled; provider revenue 5000 msats/);
    expect(r.stdout).toMatch(
      /VES: 4 market events sequenced 1\.\.4, committed to 0x[0-9a-f]+…; inclusion proof of event 1 verifies/,
    );
    expect(r.stdout).toMatch(/^VALID: job [0-9a-f]{64} verified VALID, payment fulfilled/m);
    expect(m2m('demo', '--no-prove').stdout).not.toContain('market job');
  }, 120_000);
});

describe('m2m plan bounds', () => {
  it('--bound-cycles refuses a plan whose maxCycles is above it', () => {
    const plan = examples[0]?.planFile as string;
    const r = m2m('plan', 'validate', plan, '--bound-cycles', '1000');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/:\d+:\d+: error PLAN_LIMIT_OUT_OF_BOUNDS: limits\.maxCycles/);
    expect(m2m('plan', 'validate', plan, '--bound-cycles', 'lots').code).toBe(2);
  });
});
