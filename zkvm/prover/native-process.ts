import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { M2mError } from '../errors.js';
import { findReleaseArtifact, releaseArtifactCandidates } from './artifacts.js';

/**
 * The native STARK prover runs as a child process (`m2m-prover`, built from guest/), so a
 * proving job can be killed at its deadline and held to a memory limit without touching the node.
 * Protocol: `m2m-prover COMMAND` reads one JSON request on stdin and writes one JSON response on
 * stdout; on failure it writes {"error": {"code", "message"}} and exits non-zero.
 */
export interface NativeCallOptions {
  /** Path of the m2m-prover binary; see findNativeProver. */
  binary?: string;
  /** Kill the prover after this long (PROVER_TIMEOUT). */
  timeoutMs?: number;
  /** Address-space limit of the prover process (PROVER_MEMORY_LIMIT when exceeded). */
  maxMemoryMb?: number;
}

export interface NativeCallResult<T> {
  response: T;
  wallTimeMs: number;
}

const BINARY_NAME = 'm2m-prover';

export const nativeProverCandidates = (): string[] =>
  releaseArtifactCandidates(BINARY_NAME, 'M2M_PROVER_BIN');
export const findNativeProver = (): string | undefined =>
  findReleaseArtifact(BINARY_NAME, 'M2M_PROVER_BIN');

export function requireNativeProver(binary?: string): string {
  const found = binary ?? findNativeProver();
  if (found === undefined || !existsSync(found)) {
    throw new M2mError(
      'PROVER_UNAVAILABLE',
      `the native STARK prover (m2m-prover) is not built; run \`npm run build:prover\` (looked in ${nativeProverCandidates().join(', ')})`,
    );
  }
  return found;
}

/** Runs one prover command. Typed errors: the prover's own codes, PROVER_TIMEOUT, PROVER_MEMORY_LIMIT, PROVER_CRASHED. */
export function callNativeProver<T>(
  command: string,
  request: unknown,
  options: NativeCallOptions = {},
): Promise<NativeCallResult<T>> {
  const binary = requireNativeProver(options.binary);
  const args = [command];
  if (options.timeoutMs !== undefined)
    args.push('--timeout-ms', String(Math.max(1, Math.ceil(options.timeoutMs))));
  if (options.maxMemoryMb !== undefined)
    args.push('--max-memory-mb', String(Math.max(1, Math.ceil(options.maxMemoryMb))));
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    // The prover enforces --timeout-ms itself; this kill is the backstop if it cannot.
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, options.timeoutMs + 1000);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (cause) => {
      if (timer) clearTimeout(timer);
      reject(
        new M2mError('PROVER_UNAVAILABLE', `cannot start ${binary}: ${cause.message}`, { cause }),
      );
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const wallTimeMs = Number(process.hrtime.bigint() - started) / 1e6;
      const out = Buffer.concat(stdout).toString('utf8').trim();
      const err = Buffer.concat(stderr).toString('utf8').trim();
      let parsed: unknown;
      try {
        parsed = out === '' ? undefined : JSON.parse(out);
      } catch {
        parsed = undefined;
      }
      const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      if (code === 0 && parsed !== undefined && error === undefined) {
        resolve({ response: parsed as T, wallTimeMs });
        return;
      }
      if (timedOut || code === 124 || error?.code === 'TIMEOUT') {
        reject(
          new M2mError(
            'PROVER_TIMEOUT',
            `${command} did not finish within ${options.timeoutMs} ms and was stopped`,
          ),
        );
      } else if (/memory allocation|out of memory|MEMORY/i.test(`${err} ${error?.code ?? ''}`)) {
        reject(
          new M2mError(
            'PROVER_MEMORY_LIMIT',
            `${command} needed more than ${options.maxMemoryMb} MiB and was stopped`,
          ),
        );
      } else if (error?.code !== undefined) {
        reject(new M2mError(error.code, error.message ?? error.code, { details: { command } }));
      } else {
        reject(
          new M2mError(
            'PROVER_CRASHED',
            `${command} exited with ${signal ?? `code ${code}`}: ${err.slice(0, 500) || '(no output)'}`,
          ),
        );
      }
    });
    child.stdin.on('error', () => {
      // The prover may exit before reading everything (e.g. usage error); 'close' reports it.
    });
    child.stdin.end(JSON.stringify(request ?? {}));
  });
}
