import type { Command } from 'commander';
import { buildSkillContext } from '../../skills/context.js';
import { serveStdio } from '../../skills/mcp.js';
import { EXIT } from './io.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/**
 * `m2m mcp`: the agent skills (skills/) as an MCP server on stdio. This is the one place `node/`
 * imports `skills/`: the CLI is the process entry point for every part of the project.
 */
export function registerMcpCommand(program: Command, setExit: (code: number) => void): void {
  program
    .command('mcp')
    .description(
      'serve the agent skills request_zk_job and verify_proof as an MCP server on stdio (for agent runtimes)',
    )
    .option(
      '--relay <url>',
      'relay for requests and results; repeatable (default $M2M_RELAYS or ws://127.0.0.1:7447)',
      collect,
    )
    .option('--key <file>', 'customer secret key, 64 hex or nsec (default <data-dir>/customer.key)')
    .option('--data-dir <dir>', 'where the job file and the default key live ($M2M_HOME or ~/.m2m)')
    .action(async (opts: { relay?: string[]; key?: string; dataDir?: string }) => {
      const context = buildSkillContext({
        relay: opts.relay,
        key: opts.key,
        dataDir: opts.dataDir,
      });
      // stdout carries the MCP protocol: stray console output goes to stderr instead.
      console.log = console.error;
      console.info = console.error;
      process.stderr.write(
        `m2m mcp: serving request_zk_job, verify_proof on stdio (relays ${context.relays.join(', ')}; jobs in ${context.dataDir})\n`,
      );
      await serveStdio(context, { version: program.version() });
      setExit(EXIT.ok);
    });
}
