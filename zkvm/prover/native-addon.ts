import { M2mError } from '../errors.js';
import { findReleaseArtifact, releaseArtifactCandidates } from './artifacts.js';

/**
 * In-process verification: the napi addon built from guest/m2m-stark-node (`npm run
 * build:prover`) runs the prover's verify commands inside the node, without starting a process.
 * Requests and responses are the same JSON as the m2m-prover child process (native-process.ts),
 * and failures carry the same codes. The addon refuses to prove: proving stays in the child
 * process, which can be killed at a deadline and held to a memory limit.
 */
interface StarkAddon {
  info(): string;
  complianceVerify(requestJson: string): string;
  complianceBatchVerify(requestJson: string): string;
  /** Any command; everything but the in-process ones fails with UNKNOWN_COMMAND. */
  call(command: string, requestJson: string): string;
  commands(): string[];
}

/** Commands the addon runs; the prove commands are not among them. */
export const IN_PROCESS_COMMANDS = [
  'info',
  'compliance-verify',
  'compliance-batch-verify',
  'plan-hash',
  'plan-verify',
  'hash-felts',
] as const;

const ADDON_NAME =
  process.platform === 'darwin' ? 'libm2m_stark_node.dylib' : 'libm2m_stark_node.so';

export const nativeAddonCandidates = (): string[] =>
  releaseArtifactCandidates(ADDON_NAME, 'M2M_PROVER_ADDON');
export const findNativeAddon = (): string | undefined =>
  findReleaseArtifact(ADDON_NAME, 'M2M_PROVER_ADDON');

let loaded: { addon: StarkAddon; path: string } | undefined;

/**
 * Loads the addon once per process (a failed attempt is retried on the next call, so a build
 * made while the node runs is picked up). Throws PROVER_UNAVAILABLE when it is missing or does
 * not load.
 */
export function loadNativeAddon(): { addon: StarkAddon; path: string } {
  if (loaded !== undefined) return loaded;
  const path = findNativeAddon();
  if (path === undefined) {
    throw new M2mError(
      'PROVER_UNAVAILABLE',
      `the in-process STARK verifier (libm2m_stark_node) is not built; run \`npm run build:prover\` (looked in ${nativeAddonCandidates().join(', ')})`,
    );
  }
  const module = { exports: {} as Partial<StarkAddon> };
  try {
    process.dlopen(module, path);
  } catch (cause) {
    throw new M2mError(
      'PROVER_UNAVAILABLE',
      `cannot load the in-process STARK verifier ${path}: ${(cause as Error).message}`,
      { cause },
    );
  }
  const exports = module.exports;
  for (const name of ['info', 'complianceVerify', 'complianceBatchVerify', 'call'] as const) {
    if (typeof exports[name] !== 'function') {
      throw new M2mError(
        'PROVER_UNAVAILABLE',
        `${path} is not the m2m STARK verifier addon (no ${name}()); rebuild it with \`npm run build:prover\``,
      );
    }
  }
  loaded = { addon: exports as StarkAddon, path };
  return loaded;
}

/** Whether the addon loads, and from where (for `m2m zkvm doctor`). Never throws. */
export function nativeAddonStatus(): { loadable: boolean; path?: string; detail: string } {
  try {
    const { path } = loadNativeAddon();
    const info = verifyInProcess<{ engine: string; engineVersion: string }>('info');
    return {
      loadable: true,
      path,
      detail: `in-process verifier (${info.engine} ${info.engineVersion}) loaded from ${path}`,
    };
  } catch (error) {
    return { loadable: false, detail: (error as Error).message };
  }
}

/** Maps what the addon threw to the prover's typed error (same codes as the child process). */
function toM2mError(command: string, thrown: unknown): M2mError {
  const message = thrown instanceof Error ? thrown.message : String(thrown);
  try {
    const parsed = JSON.parse(message) as { error?: { code?: unknown; message?: unknown } };
    const code = parsed.error?.code;
    if (typeof code === 'string' && code !== '') {
      const text = typeof parsed.error?.message === 'string' ? parsed.error.message : code;
      return new M2mError(code, text, { details: { command, inProcess: true } });
    }
  } catch {
    // Not the addon's wire error: fall through.
  }
  return new M2mError(
    'PROVER_CRASHED',
    `the in-process verifier failed on ${command}: ${message.slice(0, 500)}`,
    { cause: thrown },
  );
}

/**
 * Runs one verify (or info) command in process and returns the parsed response. Typed errors:
 * the prover's own codes (e.g. VERIFICATION_FAILED, PROOF_HASH_MISMATCH), UNKNOWN_COMMAND for
 * prove commands, PROVER_UNAVAILABLE when the addon is missing, PROVER_CRASHED otherwise.
 * Synchronous: a single-event verify takes about a millisecond.
 */
export function verifyInProcess<T>(command: string, request: unknown = {}): T {
  const { addon } = loadNativeAddon();
  let out: string;
  try {
    const json = JSON.stringify(request ?? {});
    switch (command) {
      case 'info':
        out = addon.info();
        break;
      case 'compliance-verify':
        out = addon.complianceVerify(json);
        break;
      case 'compliance-batch-verify':
        out = addon.complianceBatchVerify(json);
        break;
      default:
        // The addon itself refuses anything else (proving included) with UNKNOWN_COMMAND.
        out = addon.call(command, json);
    }
  } catch (thrown) {
    throw toM2mError(command, thrown);
  }
  try {
    return JSON.parse(out) as T;
  } catch (cause) {
    throw new M2mError(
      'PROVER_CRASHED',
      `the in-process verifier answered ${command} with text that is not JSON`,
      { cause },
    );
  }
}
