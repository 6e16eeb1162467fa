import { type Command, InvalidArgumentError } from 'commander';
import {
  DEFAULT_RELAY_CONFIG,
  loadRelayConfig,
  type RelayConfigOverrides,
  resolveRelayConfig,
} from '../relay/config.js';
import { startRelay } from '../relay/server.js';
import { EXIT, nextSignal, printJson } from './io.js';

const portNumber = (text: string): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('expected a port from 0 to 65535');
  return n;
};

const threadCount = (text: string): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 64)
    throw new InvalidArgumentError('expected a number of threads from 0 to 64');
  return n;
};

interface StartOptions {
  host?: string;
  port?: number;
  db?: string;
  threads?: number;
  config?: string;
  json?: boolean;
}

export function registerRelayCommands(program: Command, setExit: (code: number) => void): void {
  const relay = program.command('relay').description('the embedded Nostr relay');
  relay
    .command('start')
    .description(
      'serve a Nostr relay (NIP-01 over websocket, NIP-11 over HTTP, events in SQLite) until SIGINT or SIGTERM',
    )
    .option('--host <address>', `address to listen on (default ${DEFAULT_RELAY_CONFIG.host})`)
    .option(
      '--port <n>',
      `port; 0 picks a free one (default ${DEFAULT_RELAY_CONFIG.port})`,
      portNumber,
    )
    .option(
      '--db <file>',
      `SQLite file; ":memory:" keeps nothing (default ${DEFAULT_RELAY_CONFIG.db})`,
    )
    .option(
      '--threads <n>',
      'worker threads checking signatures; 0 checks them on the main thread (default: the cores, up to 4)',
      threadCount,
    )
    .option('--config <file>', 'JSON config: host, port, db, info, limits (see relay-config/)')
    .option('--json', 'print the listening and stopped lines as JSON')
    .action(async (opts: StartOptions) => {
      // Options given on the command line win over the config file, which wins over defaults.
      const overrides: RelayConfigOverrides = {
        ...(opts.host === undefined ? {} : { host: opts.host }),
        ...(opts.port === undefined ? {} : { port: opts.port }),
        ...(opts.db === undefined ? {} : { db: opts.db }),
        ...(opts.threads === undefined ? {} : { signatureThreads: opts.threads }),
      };
      const config =
        opts.config === undefined
          ? resolveRelayConfig({}, overrides)
          : loadRelayConfig(opts.config, overrides);
      const server = await startRelay(config, {
        log: (line) => process.stderr.write(`relay: ${line}\n`),
      });
      const { backend, threads } = server.signatureCheck;
      if (opts.json)
        printJson({ url: server.url, db: config.db, signatures: { backend, threads } });
      else
        process.stdout.write(
          `relay listening on ${server.url} (db ${config.db}; signatures checked with ${backend} in ${threads === 0 ? 'the main thread' : `${threads} worker threads`})\n`,
        );
      const signal = await nextSignal();
      const { storedEvents } = server.stats();
      await server.close();
      if (opts.json) printJson({ stopped: signal, storedEvents });
      else process.stdout.write(`relay stopped on ${signal}; ${storedEvents} events stored\n`);
      setExit(EXIT.ok);
    });
}
