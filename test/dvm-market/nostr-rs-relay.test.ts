import { describe, it } from 'vitest';
import {
  CI,
  NOSTR_RS_RELAY_BIN,
  NOSTR_RS_RELAY_PRESENT,
  startNostrRsRelay,
} from '../support/nostr-rs-relay.js';
import { marketSuite } from './market-suite.js';

/**
 * The same market suite over a real nostr-rs-relay on 127.0.0.1. Without the binary it is
 * skipped, except under CI=true, where starting the relay fails the suite (.ci/run builds it).
 */
if (NOSTR_RS_RELAY_PRESENT || CI) {
  marketSuite('nostr-rs-relay', async () => {
    const relay = await startNostrRsRelay();
    return {
      url: relay.url,
      close: () =>
        new Promise<void>((resolve) => {
          if (relay.child.exitCode !== null) return resolve();
          relay.child.once('exit', () => resolve());
          relay.child.kill('SIGTERM');
        }),
    };
  });
} else {
  describe.skip(`market over nostr-rs-relay (not installed at ${NOSTR_RS_RELAY_BIN})`, () => {
    it('needs `bash scripts/nostr-rs-relay.sh`', () => {});
  });
}
