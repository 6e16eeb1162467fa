import { describe, expect, it } from 'vitest';
import { TigerBeetleLedger } from '../../node/ledger/tigerbeetle-ledger.js';
import { ledgerConformance } from './conformance.js';

/**
 * The same conformance suite against a real TigerBeetle cluster. No TigerBeetle server can be
 * installed from the registries this project reaches, so this is the one suite that runs only when
 * TB_ADDRESS is set (e.g. TB_ADDRESS=3000 with `tigerbeetle start` running); node/ledger/README.md
 * says so. Without it, the suite below checks that the client library and our enums agree.
 */
const address = process.env.TB_ADDRESS;

if (address !== undefined && address !== '')
  ledgerConformance('tigerbeetle', async () => ({
    ledger: await TigerBeetleLedger.connect({
      addresses: [address],
      clusterId: BigInt(process.env.TB_CLUSTER_ID ?? '0'),
    }),
    elapse: (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000 + 1500)),
  }));

describe('tigerbeetle-node and our ledger types agree', () => {
  it('flags and result codes have the same names and numbers', async () => {
    const tb = await import('tigerbeetle-node');
    const ours = await import('../../node/ledger/types.js');
    for (const name of [
      'AccountFlags',
      'TransferFlags',
      'AccountFilterFlags',
      'CreateAccountStatus',
      'CreateTransferStatus',
    ] as const)
      expect({ name, values: { ...ours[name] } }).toEqual({ name, values: { ...tb[name] } });
    expect(ours.AMOUNT_MAX).toBe(tb.amount_max);
  });
});
