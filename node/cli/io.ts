import { formatLocation, isM2mError } from '../../zkvm/errors.js';
import type { PlanIssue } from '../../zkvm/plan/issues.js';

/** Exit codes of `m2m`; documented in `m2m --help`. */
export const EXIT = {
  ok: 0,
  /** The input was understood and rejected: invalid plan, data or execution failure. */
  rejected: 1,
  /** Wrong command line. */
  usage: 2,
  /** A file could not be read or written. */
  io: 3,
  /** A bug: an error without a code. Please report it. */
  internal: 70,
} as const;

export const EXIT_CODES_HELP = `
Exit codes:
  0   success
  1   rejected input: invalid plan, data or proof, or a typed execution error (code printed)
  2   usage error (unknown command or option, missing argument)
  3   file could not be read or written
  70  internal error (a bug; please report it with the command line)`;

export { readFileBytes, readJson, readText } from '../files.js';

/** Resolves with the first SIGINT or SIGTERM (a long-running command's graceful stop). */
export const nextSignal = (): Promise<NodeJS.Signals> =>
  new Promise((resolve) => {
    const stop = (received: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(received);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function formatIssue(issue: PlanIssue, severity: 'error' | 'warning' = 'error'): string {
  const where = formatLocation(issue.location);
  return `${where === '' ? '' : `${where}: `}${severity} ${issue.code}: ${issue.message}`;
}

/** Turns any thrown value into an exit code, printing it for people or as JSON. */
export function reportError(error: unknown, json: boolean): number {
  if (isM2mError(error)) {
    if (json) printJson({ ok: false, error: error.toJSON() });
    else {
      const where = formatLocation(error.location);
      process.stderr.write(
        `${where === '' ? '' : `${where}: `}error ${error.code}: ${error.message}\n`,
      );
    }
    return error.code.startsWith('IO_') ? EXIT.io : EXIT.rejected;
  }
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  if (json) printJson({ ok: false, error: { code: 'INTERNAL', message } });
  else process.stderr.write(`internal error (please report): ${message}\n`);
  return EXIT.internal;
}
