import { M2mError, type M2mErrorOptions } from '../../zkvm/errors.js';

/**
 * Stable codes of the relay and the relay pool. Like every M2mError code they are part of the
 * public contract: never rename one, only add. Codes starting with `IO_` exit with 3 in the CLI.
 */
export const RELAY_ERRORS = {
  /** The config file or an option has a wrong shape or value. */
  configInvalid: 'RELAY_CONFIG_INVALID',
  /** The HTTP/websocket listener could not bind (port in use, bad host). */
  listenFailed: 'RELAY_LISTEN_FAILED',
  /** The SQLite database could not be opened or its schema created. */
  dbOpenFailed: 'IO_RELAY_DB_OPEN_FAILED',
  /** A pool was created without relay URLs, or with one that is not ws:// or wss://. */
  poolInvalidUrl: 'POOL_INVALID_URL',
  /** The pool was used after close(). */
  poolClosed: 'POOL_CLOSED',
} as const;

export type RelayErrorCode = (typeof RELAY_ERRORS)[keyof typeof RELAY_ERRORS];

export function relayError(
  code: RelayErrorCode,
  message: string,
  options?: M2mErrorOptions,
): M2mError {
  return new M2mError(code, message, options);
}
