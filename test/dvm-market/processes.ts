/**
 * Child processes for the market tests: the built `m2m` CLI, and a provider node
 * (`m2m node start --json`) whose JSON log lines a test can wait for. Test-only.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { ProviderLogEntry } from '../../node/provider/provider.js';

export const BIN = new URL('../../dist/node/cli/main.js', import.meta.url).pathname;

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI without blocking this process's event loop (an in-process relay serves it). */
export function m2m(...args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `m2m node start --config <file> --json`: its log entries, and waiting for one. */
export class ProviderProcess {
  readonly entries: ProviderLogEntry[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly listeners = new Set<() => void>();
  private buffer = '';

  private constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString('utf8');
      let newline = this.buffer.indexOf('\n');
      while (newline >= 0) {
        const line = this.buffer.slice(0, newline);
        this.buffer = this.buffer.slice(newline + 1);
        if (line.trim() !== '') this.entries.push(JSON.parse(line) as ProviderLogEntry);
        newline = this.buffer.indexOf('\n');
      }
      for (const wake of this.listeners) wake();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString('utf8');
    });
    this.exited = new Promise((resolve) =>
      child.once('close', (code, signal) => {
        for (const wake of this.listeners) wake();
        resolve({ code, signal });
      }),
    );
  }

  static async start(configFile: string): Promise<ProviderProcess> {
    const child = spawn(
      process.execPath,
      [BIN, 'node', 'start', '--config', configFile, '--json'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const provider = new ProviderProcess(child);
    await provider.waitFor((e) => e.event === 'started' && 'pubkey' in e, 'started', 30_000);
    return provider;
  }

  get pubkey(): string {
    return this.entries.find((e) => e.event === 'started' && 'pubkey' in e)?.pubkey as string;
  }

  /** The first entry (from the start of the log) that matches. */
  waitFor(
    match: (entry: ProviderLogEntry) => boolean,
    what: string,
    timeoutMs = 120_000,
  ): Promise<ProviderLogEntry> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.entries.find(match);
        if (found !== undefined) {
          done();
          resolve(found);
        } else if (this.child.exitCode !== null || this.child.signalCode !== null) {
          done();
          reject(new Error(`provider exited while waiting for ${what}: ${this.stderr}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `no ${what} within ${timeoutMs} ms; log: ${JSON.stringify(this.entries).slice(-3000)} ${this.stderr}`,
          ),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  /**
   * A crash: SIGKILL to the node and to the prover it started (a killed parent does not take its
   * children along; the orphan would go on proving until its own timeout).
   */
  async crash(): Promise<void> {
    const pid = this.child.pid as number;
    let children: number[] = [];
    try {
      children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number);
    } catch {
      children = [];
    }
    this.child.kill('SIGKILL');
    for (const child of children) {
      try {
        process.kill(child, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await this.exited;
  }
}
