/**
 * VES test support: the vector files (byte-identical copies of ../shared/vectors/ves/ kept in
 * test/vectors/ves/ so a fresh clone has them), signed sample events, temp dirs, and running the
 * built CLI. Test-only: nothing in the project may import this file.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signVesEvent } from '../../node/ves/sign.js';
import type { JsonValue, VesEventEnvelope } from '../../node/ves/types.js';
import { REPO_ROOT } from './arbitraries.js';

export const VECTORS_DIR = join(REPO_ROOT, 'test', 'vectors', 'ves');
export const SHARED_VECTORS_DIR = join(REPO_ROOT, '..', 'shared', 'vectors', 'ves');
export const VECTOR_FILES = [
  'stateset-sequencer-openapi.yaml',
  'ves_chain_1_test_vectors.json',
  'ves_contract_1_test_vectors.json',
  'ves_enc_1_test_vectors.json',
  'ves_multi_1_test_vectors.json',
  'ves_sig_1_test_vectors.json',
  'ves_stark_1_test_vectors.json',
] as const;

export function readVector<T>(file: string): T {
  return JSON.parse(readFileSync(join(VECTORS_DIR, file), 'utf8')) as T;
}

export const hex = (text: string): Uint8Array =>
  new Uint8Array(Buffer.from(text.replace(/^0x/, ''), 'hex'));
export const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** RFC 8032 test 1 key, as in ves_sig_1 (never a production key). */
export const TEST_SECRET = hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
export const TENANT = '00000000-0000-0000-0000-000000000001';
export const STORE = '00000000-0000-0000-0000-000000000002';
export const AGENT = '22222222-2222-2222-2222-222222222222';

export interface SampleOptions {
  secretKey?: Uint8Array;
  tenantId?: string;
  storeId?: string;
  agentId?: string;
  keyId?: number;
  payload?: JsonValue;
  eventId?: string;
}

/** A signed plaintext event with a fresh event id. */
export function sampleEvent(i: number, options: SampleOptions = {}): VesEventEnvelope {
  return signVesEvent(
    {
      event_id: options.eventId ?? randomUUID(),
      tenant_id: options.tenantId ?? TENANT,
      store_id: options.storeId ?? STORE,
      source_agent_id: options.agentId ?? AGENT,
      agent_key_id: options.keyId ?? 1,
      entity_type: 'InventoryItem',
      entity_id: `WIDGET-${i}`,
      event_type: 'Adjusted',
      created_at: new Date(Date.UTC(2025, 0, 1, 0, 0, i % 60)).toISOString(),
      payload_kind: 0,
      payload: options.payload ?? { delta: i, reason: 'test' },
    },
    options.secretKey ?? TEST_SECRET,
  );
}

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `m2m-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const CLI = join(REPO_ROOT, 'dist', 'node', 'cli', 'main.js');

/** Fails loudly when the project was not built (`npm run build`). */
export function requireBuiltCli(): string {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  return CLI;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node dist/node/cli/main.js ...args` with `env` added to the environment. */
export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [requireBuiltCli(), ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
