import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { ed25519 } from '@noble/curves/ed25519.js';
import { type Command, InvalidArgumentError } from 'commander';
import { M2mError } from '../../zkvm/errors.js';
import { DEFAULT_LIMITS, type StoreConfig, startSequencer } from '../sequencer/server.js';
import { EXIT, nextSignal, printJson } from './io.js';

const positive =
  (what: string, max: number) =>
  (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1 || n > max)
      throw new InvalidArgumentError(`expected ${what} from 1 to ${max}`);
    return n;
  };

const portNumber = (text: string): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('expected a port from 0 to 65535');
  return n;
};

const collect = (value: string, previous: string[] = []) => [...previous, value];

interface StartOptions {
  host: string;
  port: number;
  db: string;
  postgres?: string;
  apiKey?: string[];
  maxBatch: number;
  maxPayloadBytes: number;
  keyFile?: string;
  sequencerId?: string;
  json?: boolean;
}

/**
 * The receipt-signing seed: VES_SEQUENCER_SIGNING_KEY (64 hex chars) or a key file, created on
 * first start (mode 0600) so receipts stay verifiable with the same public key after restarts.
 */
function loadSequencerKey(file: string): Uint8Array {
  const fromEnv = process.env.VES_SEQUENCER_SIGNING_KEY;
  const parse = (text: string, where: string) => {
    const hex = text.trim().replace(/^0x/i, '');
    if (!/^[0-9a-fA-F]{64}$/.test(hex))
      throw new M2mError(
        'SEQUENCER_BAD_KEY',
        `${where} must hold a 32-byte Ed25519 seed as 64 hex characters`,
      );
    return new Uint8Array(Buffer.from(hex, 'hex'));
  };
  if (fromEnv !== undefined && fromEnv !== '') return parse(fromEnv, 'VES_SEQUENCER_SIGNING_KEY');
  if (existsSync(file)) return parse(readFileSync(file, 'utf8'), file);
  const seed = ed25519.utils.randomSecretKey();
  writeFileSync(file, `${Buffer.from(seed).toString('hex')}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return seed;
}

export function registerSequencerCommands(program: Command, setExit: (code: number) => void): void {
  const sequencer = program
    .command('sequencer')
    .description('the embedded VES sequencer (stateset-sequencer compatible API)');
  sequencer
    .command('start')
    .description(
      'serve the VES sequencer API under /api (ingest, events, keys, commitments, proofs) until SIGINT or SIGTERM',
    )
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port; 0 picks a free one', portNumber, 8080)
    .option('--db <file>', 'SQLite file (the embedded default store)', 'm2m-sequencer.db')
    .option('--postgres <url>', 'use PostgreSQL at this URL instead of SQLite')
    .option(
      '--api-key <key>',
      'accepted X-API-Key (repeat for several; also M2M_SEQUENCER_API_KEYS=a,b); none = open API',
      collect,
    )
    .option(
      '--max-batch <n>',
      'events per ingest request',
      positive('a batch size', 100_000),
      DEFAULT_LIMITS.maxBatch,
    )
    .option(
      '--max-payload-bytes <n>',
      'bytes per event payload (JSON)',
      positive('a size', 64 * 1024 * 1024),
      DEFAULT_LIMITS.maxPayloadBytes,
    )
    .option(
      '--key-file <file>',
      'receipt signing seed (hex), created when missing; VES_SEQUENCER_SIGNING_KEY wins (default: <db>.key, or sequencer.key with --postgres)',
    )
    .option(
      '--sequencer-id <uuid>',
      'sequencer id written into receipts (default: random per start)',
    )
    .option('--json', 'print the listening and stopped lines as JSON')
    .action(async (opts: StartOptions) => {
      const store: StoreConfig =
        opts.postgres === undefined
          ? { kind: 'sqlite', path: opts.db }
          : { kind: 'postgres', url: opts.postgres };
      const keyFile =
        opts.keyFile ?? (opts.postgres === undefined ? `${opts.db}.key` : 'sequencer.key');
      const apiKeys = [
        ...(opts.apiKey ?? []),
        ...(process.env.M2M_SEQUENCER_API_KEYS ?? '').split(',').filter((k) => k !== ''),
      ];
      const server = await startSequencer({
        host: opts.host,
        port: opts.port,
        store,
        apiKeys,
        limits: { maxBatch: opts.maxBatch, maxPayloadBytes: opts.maxPayloadBytes },
        sequencerKey: loadSequencerKey(keyFile),
        ...(opts.sequencerId === undefined ? {} : { sequencerId: opts.sequencerId }),
        log: (line) => process.stderr.write(`sequencer: ${line}\n`),
      });
      const publicKey = Buffer.from(server.sequencerPublicKey).toString('hex');
      const where = store.kind === 'sqlite' ? `SQLite ${store.path}` : 'PostgreSQL';
      if (apiKeys.length === 0)
        process.stderr.write(
          'sequencer: no --api-key given: the API is open to anyone who can reach it\n',
        );
      if (opts.json)
        printJson({
          url: server.url,
          store: store.kind,
          sequencerId: server.sequencerId,
          publicKey,
        });
      else
        process.stdout.write(
          `sequencer listening on ${server.url} (${where}; receipts signed by ed25519 ${publicKey})\n`,
        );
      const signal = await nextSignal();
      await server.close();
      if (opts.json) printJson({ stopped: signal });
      else process.stdout.write(`sequencer stopped on ${signal}\n`);
      setExit(EXIT.ok);
    });
}
