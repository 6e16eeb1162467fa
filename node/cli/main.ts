#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerDemoCommand } from './demo-command.js';
import { EXIT, EXIT_CODES_HELP, reportError } from './io.js';
import { registerJobCommands } from './job-commands.js';
import { registerLedgerCommands } from './ledger-commands.js';
import { registerMcpCommand } from './mcp-commands.js';
import { registerNodeCommands } from './node-commands.js';
import { registerPlanCommands } from './plan-commands.js';
import { registerPlanProofCommands } from './plan-proof-commands.js';
import { registerProofCommands } from './proof-commands.js';
import { registerRelayCommands } from './relay-commands.js';
import { registerSequencerCommands } from './sequencer-commands.js';
import { registerSettlementCommands } from './settlement-commands.js';
import { registerStarkCommands } from './stark-commands.js';
import { registerSyncCommands } from './sync-commands.js';
import { registerZkvmCommands } from './zkvm-commands.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export async function main(argv: string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  const setExit = (code: number) => {
    exitCode = code;
  };
  const program = new Command()
    .name('m2m')
    .description(
      'm2m node: agents buy and sell compute over Nostr, paid on a verified zero-knowledge proof',
    )
    .version(pkg.version)
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EXIT_CODES_HELP);
  registerPlanProofCommands(registerPlanCommands(program, setExit), setExit);
  registerStarkCommands(program, setExit);
  registerZkvmCommands(program, setExit);
  registerRelayCommands(program, setExit);
  registerSequencerCommands(program, setExit);
  registerNodeCommands(program, setExit);
  registerJobCommands(program, setExit);
  registerLedgerCommands(program, setExit);
  registerSettlementCommands(program, setExit);
  registerMcpCommand(program, setExit);
  registerDemoCommand(program, setExit);
  registerSyncCommands(program, setExit);
  registerProofCommands(program, setExit);
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    return reportError(error, json);
  }
  return exitCode;
}

// A reader that closes early (`m2m ... | head`) is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

process.exitCode = await main(process.argv.slice(2));
