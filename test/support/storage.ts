/**
 * Helpers for the proof storage tests: temp dirs, a Blossom server on 127.0.0.1 with a random
 * port, raw HTTP requests with or without a signed kind 24242 authorization, and one real proof
 * envelope (sensor-summary, proven once per test file). Test-only.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { type BlossomVerb, blossomAuthHeader } from '../../node/blossom/auth.js';
import {
  type BlossomServer,
  type BlossomServerConfig,
  startBlossomServer,
} from '../../node/blossom/server.js';
import { assertValidPlan } from '../../zkvm/plan/validate.js';
import { provePlan } from '../../zkvm/plan-proof/prove.js';
import { encodeEnvelope, type ProofEnvelope } from '../../zkvm/proof/envelope.js';
import { findNativeProver } from '../../zkvm/prover/native-process.js';

export const tempDir = (prefix: string): string => mkdtempSync(join(tmpdir(), `m2m-${prefix}-`));

export const blob = (size: number): Buffer => randomBytes(size);

export async function startTestBlossom(
  overrides: Partial<BlossomServerConfig> = {},
): Promise<BlossomServer> {
  return startBlossomServer({ dir: tempDir('blossom'), host: '127.0.0.1', port: 0, ...overrides });
}

export interface Uploader {
  secretKey: Uint8Array;
  pubkey: string;
  auth(verb: BlossomVerb, sha256?: string, expiresInSec?: number): string;
}

export function uploader(): Uploader {
  const secretKey = generateSecretKey();
  return {
    secretKey,
    pubkey: getPublicKey(secretKey),
    auth: (verb, sha256, expiresInSec) =>
      blossomAuthHeader(secretKey, verb, { sha256, expiresInSec }),
  };
}

export interface ProvenSensor {
  envelope: ProofEnvelope;
  bytes: Buffer;
  validated: ReturnType<typeof assertValidPlan>;
  jobRequestHash: string;
}

let proven: Promise<ProvenSensor> | undefined;

/** sensor-summary proven once (about 5 s) with the native Miden prover. */
export function proveSensorSummary(): Promise<ProvenSensor> {
  if (findNativeProver() === undefined)
    throw new Error('m2m-prover is not built: run `npm run build:prover`');
  proven ??= (async () => {
    const root = new URL('../../', import.meta.url);
    const validated = assertValidPlan(
      readFileSync(new URL('plans/sensor-summary.yaml', root), 'utf8'),
      { file: 'sensor-summary' },
    );
    const data = JSON.parse(
      readFileSync(new URL('plans/data/sensor-summary.json', root), 'utf8'),
    ) as Record<string, unknown[]>;
    const proof = await provePlan(validated, data);
    return {
      envelope: proof.envelope,
      bytes: encodeEnvelope(proof.envelope),
      validated,
      jobRequestHash: validated.plan.jobRequestHash,
    };
  })();
  return proven;
}
