import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** `m2m ledger` and `m2m stake` as users run them: the built bin (npm test builds first). */
const BIN = new URL('../../dist/node/cli/main.js', import.meta.url).pathname;
const m2m = (...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
const json = (out: string) => JSON.parse(out) as Record<string, unknown>;

describe('m2m ledger / m2m stake (CLI)', () => {
  const db = join(mkdtempSync(join(tmpdir(), 'm2m-ledger-cli-')), 'ledger.db');

  it('deposits stake and buyer funds, idempotently by --id', () => {
    const first = m2m(
      'stake',
      'deposit',
      '--provider',
      'prov',
      '--amount',
      '500',
      '--id',
      '77',
      '--ledger',
      db,
      '--json',
    );
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(json(first.stdout)).toMatchObject({
      ok: true,
      provider: 'prov',
      amount: '500',
      account: { role: 'stake', balance: '500' },
    });
    const replay = m2m(
      'stake',
      'deposit',
      '--provider',
      'prov',
      '--amount',
      '500',
      '--id',
      '77',
      '--ledger',
      db,
      '--json',
    );
    expect(json(replay.stdout)).toMatchObject({ account: { balance: '500' } });
    const buyer = m2m('ledger', 'deposit', '--buyer', 'alice', '--amount', '1000', '--ledger', db);
    expect(buyer.code).toBe(0);
    expect(buyer.stdout).toMatch(/deposited 1000 to buyer:alice; balance 1000/);
  });

  it('withdraws within the balance and refuses more, with a code and exit 1', () => {
    const ok = m2m(
      'stake',
      'withdraw',
      '--provider',
      'prov',
      '--amount',
      '200',
      '--ledger',
      db,
      '--json',
    );
    expect(json(ok.stdout)).toMatchObject({ account: { balance: '300' } });
    const over = m2m('stake', 'withdraw', '--provider', 'prov', '--amount', '301', '--ledger', db);
    expect(over.code).toBe(1);
    expect(over.stderr).toMatch(/error BALANCE_INSUFFICIENT: stake:prov does not hold 301/);
  });

  it('lists accounts, named balances and transfers', () => {
    const accounts = json(m2m('ledger', 'accounts', '--ledger', db, '--json').stdout) as {
      accounts: { role: string; balance: string }[];
    };
    expect(accounts.accounts.map((a) => [a.role, a.balance]).sort()).toEqual([
      ['buyer', '1000'],
      ['external', '-1300'],
      ['stake', '300'],
    ]);
    const balances = m2m(
      'ledger',
      'balances',
      '--buyer',
      'alice',
      '--provider',
      'prov',
      '--ledger',
      db,
    );
    expect(balances.code).toBe(0);
    expect(balances.stdout).toMatch(/buyer:alice\s+1000\s+1000\s+0/);
    expect(balances.stdout).toMatch(/stake:prov\s+300\s+300/);
    const transfers = json(
      m2m('ledger', 'transfers', '--stake', 'prov', '--ledger', db, '--json').stdout,
    ) as {
      transfers: { amount: string; code: number }[];
    };
    expect(transfers.transfers.map((t) => [t.amount, t.code])).toEqual([
      ['200', 2],
      ['500', 1],
    ]);
  });

  it('rejects bad amounts as usage errors (exit 2) and a missing account name with a code', () => {
    expect(m2m('stake', 'deposit', '--provider', 'p', '--amount', '-5', '--ledger', db).code).toBe(
      2,
    );
    expect(
      m2m('stake', 'deposit', '--provider', 'p', '--amount', String(1n << 128n), '--ledger', db)
        .code,
    ).toBe(2);
    const r = m2m('ledger', 'transfers', '--ledger', db, '--json');
    expect(r.code).toBe(1);
    expect(json(r.stdout)).toMatchObject({ ok: false, error: { code: 'ACCOUNT_REQUIRED' } });
  });
});
