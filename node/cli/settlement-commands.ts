import type { Command } from 'commander';
import { loadSettlementConfigFile } from '../settlement/config-file.js';
import type { SettlementEvent } from '../settlement/events.js';
import { SettlementNode } from '../settlement/node.js';
import { bridgeSettlementToVes } from '../settlement/ves-bridge.js';
import { openMarketRecorder } from '../ves/recorder.js';
import { EXIT, nextSignal } from './io.js';

const CONFIG_HELP = `
Config (YAML or JSON; relative paths are relative to the file), e.g. an escrow:
  ilpAddress: test.m2m.alice
  listen: { host: 127.0.0.1, port: 7070 }
  adminToken: <16+ chars>            # lets \`m2m job request --escrow\` ask for payments
  peers:
    prov: { url: http://127.0.0.1:7071, ilpAddress: test.m2m.prov,
            token: <we present>, acceptToken: <they present> }
  mode: verify                       # or optimistic (challengeWindowMs)
  slash: { bps: 5000, to: buyer }    # share of the amount taken from the provider's stake
  ledger: { sqlite: m2m-data/ledger.db }   # or { tigerbeetle: { address: "3000" } }
  journal: m2m-data/settlement.db
Funding: m2m ledger deposit / m2m stake deposit on the same ledger (see docs/settlement.md).`;

const line = (e: SettlementEvent) =>
  `${new Date(e.at).toISOString()} ${e.type} ${e.paymentId} ${Object.entries(e.data)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}\n`;

export function registerSettlementCommands(
  program: Command,
  setExit: (code: number) => void,
): void {
  const settlement = program
    .command('settlement')
    .description('the settlement node: escrow and provider roles over ILP-over-HTTP');
  settlement
    .command('start')
    .description(
      'serve a settlement node (POST /ilp, /settlement/v1/...) until SIGINT/SIGTERM; settlement facts are logged and, when `m2m sync init` has set up a sync dir, recorded as VES events',
    )
    .requiredOption('--config <file>', 'settlement config, see below')
    .option('--sync-dir <dir>', 'VES sync dir (default $M2M_HOME/sync or ~/.m2m/sync)')
    .option('--json', 'log one JSON object per line on stdout')
    .addHelpText('after', CONFIG_HELP)
    .action(async (opts: { config: string; syncDir?: string; json?: boolean }) => {
      const config = loadSettlementConfigFile(opts.config);
      const node = await SettlementNode.start(config);
      node.events.on('event', (e) =>
        opts.json
          ? process.stdout.write(`${JSON.stringify({ event: e.type, ...e })}\n`)
          : process.stderr.write(line(e)),
      );
      const recorder = openMarketRecorder(opts.syncDir);
      const stopBridge =
        recorder === undefined
          ? undefined
          : await bridgeSettlementToVes(node, recorder, {
              onError: (e, code, message) =>
                process.stderr.write(
                  `ves: cannot record ${e.type} ${e.paymentId}: ${code}: ${message}\n`,
                ),
            });
      const ves = recorder === undefined ? null : recorder.outboxPath;
      if (opts.json)
        process.stdout.write(
          `${JSON.stringify({ event: 'listening', url: node.url, ilpAddress: config.ilpAddress, ves })}\n`,
        );
      else
        process.stdout.write(
          `settlement node ${config.ilpAddress} on ${node.url} (${config.mode} mode; VES ${ves ?? 'off: no sync dir'})\n`,
        );
      await nextSignal();
      stopBridge?.();
      await node.close();
      recorder?.close();
      setExit(EXIT.ok);
    });
}
