import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteLedger } from '../../node/ledger/sqlite-ledger.js';
import { ledgerConformance } from './conformance.js';

ledgerConformance('sqlite', async () => {
  let clock = BigInt(Date.now()) * 1_000_000n;
  const ledger = new SqliteLedger(join(mkdtempSync(join(tmpdir(), 'm2m-ledger-')), 'ledger.db'), {
    now: () => clock,
  });
  return {
    ledger,
    elapse: async (seconds) => {
      clock += BigInt(seconds) * 1_000_000_000n;
    },
  };
});
