import { M2mError } from '../../zkvm/errors.js';

/** The code of the M2mError `fn` throws; "no error" or "untyped: ..." otherwise. */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return error instanceof M2mError ? error.code : `untyped: ${String(error)}`;
  }
  return 'no error';
}
