import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** `m2m plan prove` and `m2m plan verify` as users run them: the built bin, real proofs. */
const BIN = new URL('../../dist/node/cli/main.js', import.meta.url).pathname;
const m2m = (...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

describe('m2m plan prove | verify (CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'm2m-plan-proof-'));
  const proof = join(dir, 'inventory.m2mproof');
  const plan = 'plans/inventory-reconciliation.yaml';
  const data = 'plans/data/inventory-reconciliation.json';

  it('proves an example plan and prints the statement and figures', () => {
    const r = m2m('plan', 'prove', plan, '--data', data, '--out', proof, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ ok: true, proofFile: proof, securityBits: 96 });
    expect(report.dataRoot).toMatch(/^poseidon2:[0-9a-f]{64}$/);
    expect(report.vmCycles).toBeGreaterThan(0);
  }, 120_000);

  it('verifies it against the plan, the data and the delivered output', () => {
    const out = join(dir, 'run.json');
    expect(m2m('plan', 'run', plan, '--data', data, '--out', out, '--json').code).toBe(0);
    const r = m2m('plan', 'verify', proof, '--plan', plan, '--data', data, '--output', out);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^VALID plan proof \(96-bit\), verified in [\d.]+ ms/);
  });

  it('a damaged proof, another plan or other data is INVALID with exit 1', () => {
    const bytes = readFileSync(proof);
    bytes[bytes.length - 100] = (bytes[bytes.length - 100] as number) ^ 0xff;
    const damaged = join(dir, 'damaged.m2mproof');
    writeFileSync(damaged, bytes);
    // The envelope's proof hash catches a damaged transfer before any STARK work.
    expect(m2m('plan', 'verify', damaged).code).toBe(1);
    const other = m2m('plan', 'verify', proof, '--plan', 'plans/sensor-summary.yaml');
    expect(other.code).toBe(1);
    expect(other.stdout).toMatch(/INVALID plan proof: STATEMENT_MISMATCH/);
    const otherData = join(dir, 'other-data.json');
    const raw = JSON.parse(readFileSync(data, 'utf8'));
    raw.counted[0].qty += 1;
    writeFileSync(otherData, JSON.stringify(raw));
    // Data that is not what the plan commits to is refused before the proof is looked at.
    const r = m2m('plan', 'verify', proof, '--plan', plan, '--data', otherData);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/DATA_COMMITMENT_MISMATCH: step "counted"/);
  });

  it('refuses a plan the backend cannot prove, naming the operation', () => {
    const plan = join(dir, 'json-out.yaml');
    const text = readFileSync('plans/api-catalog.yaml', 'utf8');
    writeFileSync(plan, text.replace('format: csv, field: csv', 'format: json, field: csv'));
    const r = m2m(
      'plan',
      'prove',
      plan,
      '--data',
      'plans/data/api-catalog.json',
      '--out',
      join(dir, 'x'),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /BACKEND_UNSUPPORTED_OPERATION.*step "csv": transform serialize \(format json\)/,
    );
  });
});
