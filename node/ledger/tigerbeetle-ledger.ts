import { M2mError } from '../../zkvm/errors.js';
import type {
  Account,
  AccountFilter,
  CreateAccountResult,
  CreateTransferResult,
  Ledger,
  QueryFilter,
  Transfer,
} from './types.js';
import { assertAccountFields, assertBatchSize, assertTransferFields } from './validate.js';

export interface TigerBeetleOptions {
  /** Replica addresses: "3000", "127.0.0.1:3000", or several for a cluster. */
  addresses: string[];
  clusterId?: bigint;
}

type TbModule = typeof import('tigerbeetle-node');
type TbClient = ReturnType<TbModule['createClient']>;

/**
 * The ledger on a TigerBeetle cluster through the official `tigerbeetle-node` client. Types and
 * result codes are the same as the SQLite ledger's, so callers cannot tell them apart. The client
 * module is loaded only when this ledger is opened (it carries a native library).
 */
export class TigerBeetleLedger implements Ledger {
  readonly kind = 'tigerbeetle' as const;

  private constructor(
    private readonly client: TbClient,
    readonly addresses: string[],
  ) {}

  static async connect(options: TigerBeetleOptions): Promise<TigerBeetleLedger> {
    if (options.addresses.length === 0)
      throw new M2mError('LEDGER_CONFIG', 'tigerbeetle: give at least one replica address');
    let tb: TbModule;
    try {
      tb = await import('tigerbeetle-node');
    } catch (error) {
      throw new M2mError(
        'LEDGER_CLIENT_UNAVAILABLE',
        `the tigerbeetle-node client cannot be loaded on this platform: ${String(error)}`,
        { cause: error },
      );
    }
    const client = tb.createClient({
      cluster_id: options.clusterId ?? 0n,
      replica_addresses: options.addresses,
    });
    return new TigerBeetleLedger(client, options.addresses);
  }

  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw new M2mError(
        'LEDGER_UNAVAILABLE',
        `tigerbeetle ${what} failed (${this.addresses.join(', ')}): ${String(error)}`,
        { cause: error },
      );
    }
  }

  createAccounts(batch: readonly Account[]): Promise<CreateAccountResult[]> {
    assertBatchSize(batch.length);
    assertAccountFields(batch);
    return this.call('create_accounts', () => this.client.createAccounts([...batch]));
  }

  createTransfers(batch: readonly Transfer[]): Promise<CreateTransferResult[]> {
    assertBatchSize(batch.length);
    assertTransferFields(batch);
    return this.call('create_transfers', () => this.client.createTransfers([...batch]));
  }

  lookupAccounts(ids: readonly bigint[]): Promise<Account[]> {
    return this.call('lookup_accounts', () => this.client.lookupAccounts([...ids]));
  }

  lookupTransfers(ids: readonly bigint[]): Promise<Transfer[]> {
    return this.call('lookup_transfers', () => this.client.lookupTransfers([...ids]));
  }

  getAccountTransfers(filter: AccountFilter): Promise<Transfer[]> {
    return this.call('get_account_transfers', () => this.client.getAccountTransfers(filter));
  }

  queryAccounts(filter: QueryFilter): Promise<Account[]> {
    return this.call('query_accounts', () => this.client.queryAccounts(filter));
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
