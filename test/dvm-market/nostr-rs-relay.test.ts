import {
  NOSTR_RS_RELAY_BIN,
  NOSTR_RS_RELAY_PRESENT,
  startNostrRsRelay,
} from '../support/nostr-rs-relay.js';
import { marketSuite } from './market-suite.js';

/**
 * The same market suite over a real nostr-rs-relay on 127.0.0.1. Without the binary the suite
 * fails (never skips): `npm test` builds it (npm run build:relay).
 */
marketSuite('nostr-rs-relay', async () => {
  if (!NOSTR_RS_RELAY_PRESENT)
    throw new Error(
      `nostr-rs-relay is not installed at ${NOSTR_RS_RELAY_BIN}: run \`npm run build:relay\` (npm test does)`,
    );
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
