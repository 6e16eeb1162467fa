import { startTestRelay } from '../support/relay.js';
import { marketSuite } from './market-suite.js';

/** The market suite over the embedded relay (node/relay) on 127.0.0.1, a free port. */
marketSuite('the embedded relay', async () => {
  const relay = await startTestRelay();
  return { url: relay.url, close: () => relay.close() };
});
