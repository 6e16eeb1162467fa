import type { Command } from 'commander';
import { diagnoseBackends } from '../../zkvm/prover/doctor.js';
import { EXIT, printJson } from './io.js';

export function registerZkvmCommands(program: Command, setExit: (code: number) => void): void {
  const zkvm = program.command('zkvm').description('zkVM backends');
  zkvm
    .command('doctor')
    .description('which proving backends are usable on this machine, and why not')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      const statuses = await diagnoseBackends();
      if (opts.json) printJson(statuses);
      else {
        for (const s of statuses) {
          process.stdout.write(
            `${s.usable ? 'ok  ' : 'no  '} ${s.backend.padEnd(10)} ${s.detail}\n`,
          );
          if (s.capabilities.length > 0)
            process.stdout.write(`     ${''.padEnd(10)} proves: ${s.capabilities.join(', ')}\n`);
        }
      }
      setExit(statuses.some((s) => s.usable) ? EXIT.ok : EXIT.rejected);
    });
}
