import { type Command, InvalidArgumentError } from 'commander';
import { M2mError } from '../../zkvm/errors.js';
import { openLedger } from '../ledger/open-ledger.js';
import {
  type Account,
  accountFilter,
  type Ledger,
  queryFilter,
  type Transfer,
  TransferFlags,
  U128_MAX,
} from '../ledger/types.js';
import {
  AccountCode,
  type AccountRole,
  accountSpec,
  deposit,
  withdraw,
} from '../settlement/accounts.js';
import { EXIT, printJson } from './io.js';

const DEFAULT_LEDGER = 'm2m-data/ledger.db';

const amountArg = (text: string): bigint => {
  if (!/^\d+$/.test(text))
    throw new InvalidArgumentError('expected a whole number of the smallest unit');
  const n = BigInt(text);
  if (n <= 0n || n > U128_MAX)
    throw new InvalidArgumentError('expected an amount from 1 to 2^128-1');
  return n;
};

const idArg = (text: string): bigint => {
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(text))
    throw new InvalidArgumentError('expected a decimal or 0x-hex id');
  const n = BigInt(text);
  if (n <= 0n || n >= U128_MAX) throw new InvalidArgumentError('expected an id from 1 to 2^128-2');
  return n;
};

const intArg =
  (min: number, max: number) =>
  (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return n;
  };

interface LedgerOptions {
  ledger?: string;
  tigerbeetle?: string;
  clusterId?: string;
  asset: number;
  json?: boolean;
}

function withLedgerOptions(command: Command): Command {
  return command
    .option('--ledger <file>', `SQLite ledger file (default ${DEFAULT_LEDGER})`)
    .option(
      '--tigerbeetle <address>',
      'use a TigerBeetle cluster instead (e.g. 3000 or 127.0.0.1:3000)',
    )
    .option('--cluster-id <n>', 'TigerBeetle cluster id (default 0)')
    .option('--asset <n>', 'ledger number of the asset (default 1)', intArg(1, 0xffff_ffff), 1)
    .option('--json', 'print JSON');
}

async function withLedger<T>(opts: LedgerOptions, run: (ledger: Ledger) => Promise<T>): Promise<T> {
  const ledger = await openLedger(
    opts.tigerbeetle === undefined
      ? { sqlite: opts.ledger ?? DEFAULT_LEDGER }
      : { tigerbeetle: { address: opts.tigerbeetle, clusterId: opts.clusterId ?? '0' } },
  );
  try {
    return await run(ledger);
  } finally {
    await ledger.close();
  }
}

const ROLE_OF_CODE = new Map<number, AccountRole>(
  Object.entries(AccountCode).map(([role, code]) => [code, role as AccountRole]),
);

const accountJson = (a: Account) => ({
  id: `0x${a.id.toString(16)}`,
  role: ROLE_OF_CODE.get(a.code) ?? `code ${a.code}`,
  ledger: a.ledger,
  balance: (a.credits_posted - a.debits_posted).toString(),
  available: (a.credits_posted - a.debits_posted - a.debits_pending).toString(),
  debitsPending: a.debits_pending.toString(),
  debitsPosted: a.debits_posted.toString(),
  creditsPending: a.credits_pending.toString(),
  creditsPosted: a.credits_posted.toString(),
  flags: a.flags,
});

const FLAG_NAMES: [number, string][] = [
  [TransferFlags.pending, 'pending'],
  [TransferFlags.post_pending_transfer, 'post'],
  [TransferFlags.void_pending_transfer, 'void'],
  [TransferFlags.balancing_debit, 'balancing_debit'],
  [TransferFlags.linked, 'linked'],
];

const transferJson = (t: Transfer) => ({
  id: `0x${t.id.toString(16)}`,
  debit: `0x${t.debit_account_id.toString(16)}`,
  credit: `0x${t.credit_account_id.toString(16)}`,
  amount: t.amount.toString(),
  code: t.code,
  flags: FLAG_NAMES.filter(([bit]) => (t.flags & bit) !== 0).map(([, name]) => name),
  pendingId: t.pending_id === 0n ? null : `0x${t.pending_id.toString(16)}`,
  timeout: t.timeout,
  timestamp: t.timestamp.toString(),
});

function table(rows: Record<string, unknown>[], columns: string[]): string {
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  return [line(columns), ...rows.map((r) => line(columns.map((c) => String(r[c]))))].join('\n');
}

interface NamedOptions extends LedgerOptions {
  buyer?: string[];
  provider?: string[];
}

interface MoveCliOptions extends LedgerOptions {
  provider?: string;
  buyer?: string;
  amount: bigint;
  id?: bigint;
}

/** `m2m ledger accounts|balances|transfers|deposit|withdraw` and `m2m stake deposit|withdraw`. */
export function registerLedgerCommands(program: Command, setExit: (code: number) => void): void {
  const ledger = program
    .command('ledger')
    .description('the settlement ledger (SQLite by default, TigerBeetle with --tigerbeetle)');

  withLedgerOptions(
    ledger.command('accounts').description('list every account with its balances'),
  ).action(async (opts: LedgerOptions) => {
    const rows = await withLedger(opts, async (l) =>
      (await l.queryAccounts(queryFilter({ ledger: opts.asset }))).map(accountJson),
    );
    if (opts.json) printJson({ accounts: rows });
    else if (rows.length === 0) process.stdout.write('no accounts\n');
    else
      process.stdout.write(
        `${table(rows, ['id', 'role', 'balance', 'available', 'debitsPending', 'creditsPending'])}\n`,
      );
    setExit(EXIT.ok);
  });

  withLedgerOptions(
    ledger
      .command('balances')
      .description("balances of named buyers' escrows and providers' revenue and stake")
      .option('--buyer <id...>', 'buyer account owners')
      .option('--provider <id...>', 'provider names (revenue and stake)'),
  ).action(async (opts: NamedOptions) => {
    const wanted: [string, AccountRole, string][] = [
      ...(opts.buyer ?? []).map((b): [string, AccountRole, string] => [`buyer:${b}`, 'buyer', b]),
      ...(opts.provider ?? []).flatMap((p): [string, AccountRole, string][] => [
        [`revenue:${p}`, 'revenue', p],
        [`stake:${p}`, 'stake', p],
      ]),
      ['fees', 'fees', 'fees'],
      ['external', 'external', 'world'],
    ];
    const rows = await withLedger(opts, async (l) => {
      const specs = wanted.map(([, role, owner]) => accountSpec(role, owner, opts.asset));
      const found = await l.lookupAccounts(specs.map((s) => s.id));
      return wanted.map(([name], i) => {
        const a = found.find((f) => f.id === specs[i]?.id);
        return {
          name,
          ...(a === undefined
            ? { balance: '0', available: '0', pending: '0', exists: false }
            : {
                balance: (a.credits_posted - a.debits_posted).toString(),
                available: (a.credits_posted - a.debits_posted - a.debits_pending).toString(),
                pending: (a.credits_pending - a.debits_pending).toString(),
                exists: true,
              }),
        };
      });
    });
    if (opts.json) printJson({ balances: rows });
    else process.stdout.write(`${table(rows, ['name', 'balance', 'available', 'pending'])}\n`);
    setExit(EXIT.ok);
  });

  withLedgerOptions(
    ledger
      .command('transfers')
      .description("an account's transfers, newest first")
      .option('--account <id>', 'account id (decimal or 0x-hex)', idArg)
      .option('--buyer <id>', "a buyer's escrow account")
      .option('--provider <id>', "a provider's revenue account")
      .option('--stake <id>', "a provider's stake account")
      .option('--limit <n>', 'at most this many (default 50)', intArg(1, 8189), 50),
  ).action(
    async (
      opts: LedgerOptions & {
        account?: bigint;
        buyer?: string;
        provider?: string;
        stake?: string;
        limit: number;
      },
    ) => {
      const id =
        opts.account ??
        (opts.buyer !== undefined
          ? accountSpec('buyer', opts.buyer, opts.asset).id
          : opts.provider !== undefined
            ? accountSpec('revenue', opts.provider, opts.asset).id
            : opts.stake !== undefined
              ? accountSpec('stake', opts.stake, opts.asset).id
              : undefined);
      if (id === undefined)
        throw new M2mError(
          'ACCOUNT_REQUIRED',
          'name the account: --account, --buyer, --provider or --stake',
        );
      const rows = await withLedger(opts, async (l) =>
        (
          await l.getAccountTransfers(
            accountFilter({ account_id: id, limit: opts.limit, flags: 1 | 2 | 4 }),
          )
        ).map(transferJson),
      );
      if (opts.json) printJson({ account: `0x${id.toString(16)}`, transfers: rows });
      else if (rows.length === 0) process.stdout.write('no transfers\n');
      else
        process.stdout.write(
          `${table(
            rows.map((r) => ({ ...r, flags: r.flags.join(',') || '-' })),
            ['id', 'debit', 'credit', 'amount', 'code', 'flags', 'timestamp'],
          )}\n`,
        );
      setExit(EXIT.ok);
    },
  );

  const moveCommand = (parent: Command, name: 'deposit' | 'withdraw', role: 'buyer' | 'stake') => {
    const cmd = parent
      .command(name)
      .description(
        role === 'stake'
          ? `${name === 'deposit' ? 'add to' : 'take from'} a provider's bond on this (escrow) node's ledger`
          : `${name === 'deposit' ? 'fund' : 'take money out of'} a buyer's escrow account`,
      )
      .requiredOption(
        role === 'stake' ? '--provider <name>' : '--buyer <id>',
        role === 'stake' ? 'the provider (its peer name)' : 'the buyer',
      )
      .requiredOption('--amount <n>', 'amount in the smallest unit', amountArg)
      .option('--id <n>', 'idempotency key: retrying with the same id moves the money once', idArg);
    withLedgerOptions(cmd).action(async (opts: MoveCliOptions) => {
      const owner = (role === 'stake' ? opts.provider : opts.buyer) as string;
      const move = name === 'deposit' ? deposit : withdraw;
      const result = await withLedger(opts, async (l) => {
        const id = await move(l, {
          role,
          owner,
          amount: opts.amount,
          assetLedger: opts.asset,
          ...(opts.id === undefined ? {} : { id: opts.id }),
        });
        const [a] = await l.lookupAccounts([accountSpec(role, owner, opts.asset).id]);
        return {
          transfer: `0x${id.toString(16)}`,
          account: a === undefined ? undefined : accountJson(a),
        };
      });
      if (opts.json)
        printJson({
          ok: true,
          [role === 'stake' ? 'provider' : 'buyer']: owner,
          amount: opts.amount.toString(),
          ...result,
        });
      else
        process.stdout.write(
          `${name === 'deposit' ? 'deposited' : 'withdrew'} ${opts.amount} ${name === 'deposit' ? 'to' : 'from'} ${role}:${owner}; balance ${result.account?.balance ?? '0'} (available ${result.account?.available ?? '0'})\n`,
        );
      setExit(EXIT.ok);
    });
  };
  moveCommand(ledger, 'deposit', 'buyer');
  moveCommand(ledger, 'withdraw', 'buyer');
  const stake = program
    .command('stake')
    .description("a provider's bond, slashed when its proof fails");
  moveCommand(stake, 'deposit', 'stake');
  moveCommand(stake, 'withdraw', 'stake');
}
