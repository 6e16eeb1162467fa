import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canonicalJson, sha256, toDigest } from '../commitment/digest.js';
import { M2mError } from '../errors.js';
import { verifyInProcess } from '../prover/native-addon.js';
import { type Felt, hexToDigest } from './encode.js';

/**
 * Version of the plan compiler (compile.ts); part of the registry program id. Bump it with any
 * change to the code the compiler emits: provers and verifiers must compile plans identically.
 */
export const PLAN_COMPILER_VERSION = '0.2.0';
const RUNTIME_MODULES = ['fixed', 'str', 'data', 'text'] as const;

/** Poseidon2 digest of a felt list (a multiple of 8 long), computed in process by the addon. */
export function hashFelts(felts: readonly Felt[]): Felt[] {
  const { digest } = verifyInProcess<{ digest: string }>('hash-felts', {
    values: felts.map(String),
  });
  return hexToDigest(digest);
}

/** The data-root preimage: each blob's digest in plan order, zero-padded to a multiple of 8. */
export function blobDigests(blobs: readonly Felt[][]): Felt[] {
  const out = blobs.flatMap((blob) => hashFelts(blob));
  while (out.length % 8 !== 0) out.push(0n);
  return out;
}

function runtimeDirectory(): string {
  for (const up of ['../../guest/m2m-plan/asm/', '../../../guest/m2m-plan/asm/']) {
    const dir = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(join(dir, 'fixed.masm'))) return dir;
  }
  throw new M2mError(
    'PROVER_UNAVAILABLE',
    'the plan runtime library (guest/m2m-plan/asm/*.masm) is not in this installation',
  );
}

let programId: string | undefined;

/**
 * Registry id of the plan prover: sha256 over the compiler version and the Miden assembly runtime
 * the compiled programs link (m2m::plan::fixed, str, data, text). Each plan compiles to its own program,
 * so the registry trusts the compiler and runtime; a verifier recompiles the plan and checks the
 * proof against that program's MAST root.
 */
export function planProgramId(): string {
  if (programId !== undefined) return programId;
  const dir = runtimeDirectory();
  const runtime: Record<string, string> = {};
  for (const name of RUNTIME_MODULES)
    runtime[name] = toDigest(sha256(readFileSync(join(dir, `${name}.masm`))));
  programId = toDigest(
    sha256(
      Buffer.from(
        canonicalJson({ compiler: 'm2m-plan-compiler', version: PLAN_COMPILER_VERSION, runtime }),
        'utf8',
      ),
    ),
  );
  return programId;
}
