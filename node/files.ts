import { readFileSync } from 'node:fs';
import { M2mError } from '../zkvm/errors.js';

/** Reads a file; a failure is IO_READ_FAILED naming the path and the system error. */
export function readFileBytes(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new M2mError(
      'IO_READ_FAILED',
      `cannot read ${path}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`,
      { cause },
    );
  }
}

export const readText = (path: string): string => readFileBytes(path).toString('utf8');
