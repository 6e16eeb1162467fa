import type { Command } from 'commander';
import { CONFIG_HELP, loadProviderConfig } from '../provider/config.js';
import { type ProviderLogEntry, startProvider } from '../provider/provider.js';
import { EXIT, nextSignal } from './io.js';

/** One log entry as a human line: `event <request id> key=value ...`. */
function formatEntry(entry: ProviderLogEntry): string {
  const { event, requestId, ...fields } = entry;
  const rest = Object.entries(fields)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  return [new Date().toISOString(), event, requestId, rest].filter(Boolean).join(' ');
}

export function registerNodeCommands(program: Command, setExit: (code: number) => void): void {
  const node = program.command('node').description('the provider node');
  node
    .command('start')
    .description(
      'serve as a provider until SIGINT/SIGTERM: announce (kind 31990), take kind 5900 job requests, prove them and publish kind 6900 results. A first signal lets running proofs finish; a second stops at once (they re-run on restart)',
    )
    .requiredOption('--config <file>', 'provider config (YAML), see below')
    .option('--json', 'log one JSON object per line on stdout')
    .addHelpText('after', `\n${CONFIG_HELP}`)
    .action(async (opts: { config: string; json?: boolean }) => {
      const config = loadProviderConfig(opts.config);
      const log = opts.json
        ? (entry: ProviderLogEntry) => process.stdout.write(`${JSON.stringify(entry)}\n`)
        : (entry: ProviderLogEntry) => process.stderr.write(`${formatEntry(entry)}\n`);
      if ('file' in config.keySource && config.keySource.created)
        log({ event: 'key-created', file: config.keySource.file });
      const provider = await startProvider(config, { log });
      if (!opts.json)
        process.stdout.write(
          `provider ${provider.npub} (${provider.pubkey}) on ${config.relays.join(', ')}; price ${config.priceMsats} msats per job\n`,
        );
      await nextSignal();
      const graceful = provider.close();
      const forced = nextSignal().then(async () => {
        await provider.close({ force: true });
        // A running prover child would keep the process alive until its own timeout.
        process.exit(EXIT.ok);
      });
      await Promise.race([graceful, forced]);
      setExit(EXIT.ok);
    });
}
