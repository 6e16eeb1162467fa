import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { BIN, m2m, ProviderProcess } from '../dvm-market/processes.js';
import { startTestRelay } from '../support/relay.js';
import {
  ESCROW_ADMIN_TOKEN,
  marketSettlement,
  requireNativeProver,
} from '../support/settlement.js';

/**
 * A paid job as users run it, every role its own process: `m2m settlement start` (the customer's
 * escrow), `m2m ledger deposit` / `m2m stake deposit` on its ledger, `m2m node start` with a
 * `settlement:` section, and `m2m job request --escrow` / `m2m job wait --escrow`.
 */
const dir = mkdtempSync(join(tmpdir(), 'm2m-paid-cli-'));
const ADMIN = ESCROW_ADMIN_TOKEN;
const root = new URL('../../', import.meta.url).pathname;
const cleanup: (() => unknown)[] = [];
let relayUrl: string;
let escrowUrl: string;
let provider: ProviderProcess;
const ledger = join(dir, 'escrow', 'ledger.db');

function startEscrow(config: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [BIN, 'settlement', 'start', '--config', config, '--json'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr?.on('data', (c) => {
      err += c;
    });
    child.stdout?.on('data', (c) => {
      out += c;
      const first = out.split('\n')[0] as string;
      if (out.includes('\n')) {
        const line = JSON.parse(first) as { event: string; url: string };
        resolve({ child, url: line.url });
      }
    });
    child.once('close', (code) => reject(new Error(`m2m settlement start exited ${code}: ${err}`)));
  });
}

beforeAll(async () => {
  requireNativeProver();
  const relay = await startTestRelay();
  cleanup.push(() => relay.close());
  relayUrl = relay.url;
  const settlement = await marketSettlement(dir);
  const escrowConfig = join(dir, 'escrow.yaml');
  writeFileSync(escrowConfig, stringify({ ...settlement.escrow, tickMs: 100 }));
  const escrow = await startEscrow(escrowConfig);
  cleanup.push(() => escrow.child.kill('SIGTERM'));
  escrowUrl = escrow.url;
  const nodeConfig = join(dir, 'node.yaml');
  writeFileSync(
    nodeConfig,
    stringify({
      relays: [relayUrl],
      price: 1000,
      dataDir: 'provider',
      maxProvingTime: 120,
      settlement: { ...settlement.providerSection, tickMs: 100 },
    }),
  );
  provider = await ProviderProcess.start(nodeConfig);
  cleanup.push(() => provider.child.kill('SIGTERM'));
}, 60_000);

afterAll(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
  rmSync(dir, { recursive: true, force: true });
});

describe('m2m job request --escrow (CLI)', () => {
  it('funds, requests, proves, verifies and pays; the ledger shows the provider paid', async () => {
    const fund = await m2m(
      'ledger',
      'deposit',
      '--buyer',
      'alice',
      '--amount',
      '20000',
      '--id',
      '1',
      '--ledger',
      ledger,
      '--json',
    );
    expect(fund.code, fund.stderr).toBe(0);
    const stake = await m2m(
      'stake',
      'deposit',
      '--provider',
      'prov',
      '--amount',
      '20000',
      '--id',
      '2',
      '--ledger',
      ledger,
      '--json',
    );
    expect(stake.code, stake.stderr).toBe(0);
    const home = join(dir, 'customer');
    const escrowArgs = ['--escrow', escrowUrl, '--escrow-token', ADMIN];
    const request = await m2m(
      'job',
      'request',
      '--plan',
      join(root, 'plans/sensor-summary.yaml'),
      '--data',
      join(root, 'plans/data/sensor-summary.json'),
      '--bid',
      '5000',
      '--zkvm',
      'miden',
      '--max-proving-time',
      '120',
      '--provider',
      provider.pubkey,
      '--relay',
      relayUrl,
      '--data-dir',
      home,
      ...escrowArgs,
      '--escrow-peer',
      'prov',
      '--buyer',
      'alice',
      '--json',
    );
    expect(request.code, request.stderr).toBe(0);
    const requested = JSON.parse(request.stdout) as {
      requestId: string;
      payment: { state: string; amount: string };
    };
    expect(requested.payment).toMatchObject({ state: 'prepared', amount: '5000' });
    const wait = await m2m(
      'job',
      'wait',
      requested.requestId,
      '--data-dir',
      home,
      '--timeout',
      '150',
      ...escrowArgs,
      '--json',
    );
    expect(wait.code, wait.stderr).toBe(0);
    expect(JSON.parse(wait.stdout)).toMatchObject({
      ok: true,
      valid: true,
      payment: { state: 'fulfilled', amount: '5000', provider: 'prov' },
    });
    const balances = await m2m(
      'ledger',
      'balances',
      '--buyer',
      'alice',
      '--provider',
      'prov',
      '--ledger',
      ledger,
      '--json',
    );
    expect(balances.code, balances.stderr).toBe(0);
    const byName = Object.fromEntries(
      (
        JSON.parse(balances.stdout) as { balances: { name: string; balance: string }[] }
      ).balances.map((b) => [b.name, b.balance]),
    );
    expect(byName).toMatchObject({
      'buyer:alice': '15000',
      'revenue:prov': '5000',
      'stake:prov': '20000',
    });
    // Without the escrow's token the customer learns nothing and nothing is paid.
    const refused = await m2m(
      'job',
      'wait',
      requested.requestId,
      '--data-dir',
      home,
      '--escrow',
      escrowUrl,
      '--escrow-token',
      'not-the-admin-token-0123',
      '--json',
    );
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('FORBIDDEN');
  }, 240_000);
});
