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

/** Reads a JSON file; bad JSON is DATA_SYNTAX naming the path. */
export function readJson(path: string): unknown {
  const text = readText(path);
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new M2mError('DATA_SYNTAX', `${path} is not valid JSON: ${(cause as Error).message}`, {
      cause,
    });
  }
}
