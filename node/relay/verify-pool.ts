import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { loadSignatureVerifier, type NostrEvent } from './event.js';

/**
 * Signature checks off the event loop. BIP-340 verification is most of the CPU an EVENT costs
 * (about 0.4 ms each on the 2-core machines here, against about 0.2 ms for everything else), so
 * it runs in worker threads and the relay's thread keeps parsing, storing and broadcasting.
 * With `threads` 0 it runs inline.
 */
export interface SignaturePool {
  backend: 'wasm' | 'js';
  threads: number;
  verify(event: NostrEvent): Promise<boolean>;
  close(): Promise<void>;
}

// Plain JavaScript, so the worker runs the same from the TypeScript sources (tests) and from
// dist/. It verifies with nostr-tools' verifyEvent on nostr-wasm, or the pure-JS one as fallback.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  let verify;
  let backend = 'wasm';
  // The nostr-tools paths are its CommonJS builds: their exports may sit on \`default\`.
  const load = async (url) => {
    const module = await import(url);
    return module.verifyEvent === undefined && module.default !== undefined ? module.default : module;
  };
  try {
    const tools = await load(workerData.toolsWasm);
    const { initNostrWasm } = await import(workerData.nostrWasm);
    tools.setNostrWasm(await initNostrWasm());
    verify = tools.verifyEvent;
  } catch {
    backend = 'js';
    verify = (await load(workerData.toolsPure)).verifyEvent;
  }
  parentPort.on('message', ({ batch, events }) => {
    parentPort.postMessage({ batch, valid: events.map((event) => verify(event)) });
  });
  parentPort.postMessage({ ready: backend });
})();
`;

interface Task {
  event: NostrEvent;
  resolve: (valid: boolean) => void;
  reject: (error: Error) => void;
}

interface WorkerMessage {
  ready?: 'wasm' | 'js';
  batch?: number;
  valid?: boolean[];
}

interface VerifyWorker {
  worker: Worker;
  outstanding: Map<number, Task[]>;
  load: number;
}

export async function startSignaturePool(
  threads: number,
  log: (line: string) => void = () => {},
): Promise<SignaturePool> {
  if (threads <= 0) {
    const inline = await loadSignatureVerifier();
    return {
      backend: inline.backend,
      threads: 0,
      verify: async (event) => inline.verify(event),
      close: async () => {},
    };
  }
  const pool = new WorkerPool(log);
  const backends = await Promise.all(Array.from({ length: threads }, () => pool.spawn()));
  return {
    backend: backends.every((b) => b === 'wasm') ? 'wasm' : 'js',
    threads,
    verify: (event) => pool.verify(event),
    close: () => pool.close(),
  };
}

class WorkerPool {
  private readonly workers: VerifyWorker[] = [];
  private queue: Task[] = [];
  private scheduled = false;
  private nextBatch = 0;
  private closed = false;
  private readonly workerData: Record<string, string>;

  constructor(private readonly log: (line: string) => void) {
    const require = createRequire(import.meta.url);
    const url = (name: string) => pathToFileURL(require.resolve(name)).href;
    this.workerData = {
      nostrWasm: url('nostr-wasm'),
      toolsWasm: url('nostr-tools/wasm'),
      toolsPure: url('nostr-tools/pure'),
    };
  }

  spawn(): Promise<'wasm' | 'js'> {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: this.workerData });
    const entry: VerifyWorker = { worker, outstanding: new Map(), load: 0 };
    return new Promise((resolve, reject) => {
      worker.once('error', reject);
      worker.on('message', (message: WorkerMessage) => {
        if (message.ready === undefined) {
          this.settle(entry, message);
          return;
        }
        worker.off('error', reject);
        resolve(message.ready);
        if (this.closed) {
          void worker.terminate();
          return;
        }
        worker.on('error', (error) => this.lost(entry, error));
        worker.on('exit', (code) => this.lost(entry, new Error(`exited with ${code}`)));
        this.workers.push(entry);
      });
    });
  }

  private settle(entry: VerifyWorker, { batch, valid }: WorkerMessage): void {
    const tasks = entry.outstanding.get(batch as number) ?? [];
    entry.outstanding.delete(batch as number);
    entry.load -= tasks.length;
    tasks.forEach((task, i) => {
      task.resolve(valid?.[i] === true);
    });
  }

  verify(event: NostrEvent): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.queue.push({ event, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.dispatch());
      }
    });
  }

  /** Everything queued in this turn, split over the workers by their outstanding load. */
  private dispatch(): void {
    this.scheduled = false;
    const tasks = this.queue;
    this.queue = [];
    if (this.workers.length === 0) {
      for (const task of tasks) task.reject(new Error('no signature worker is running'));
      return;
    }
    const share = Math.ceil(tasks.length / this.workers.length);
    for (let start = 0; start < tasks.length; start += share) {
      const chunk = tasks.slice(start, start + share);
      const target = this.workers.reduce((a, b) => (b.load < a.load ? b : a));
      const batch = this.nextBatch++;
      target.outstanding.set(batch, chunk);
      target.load += chunk.length;
      target.worker.postMessage({ batch, events: chunk.map((t) => t.event) });
    }
  }

  /** A worker died: its tasks fail (the clients get OK false "error:") and it is replaced. */
  private lost(entry: VerifyWorker, error: Error): void {
    const index = this.workers.indexOf(entry);
    if (index < 0) return;
    this.workers.splice(index, 1);
    for (const tasks of entry.outstanding.values()) for (const task of tasks) task.reject(error);
    entry.outstanding.clear();
    if (this.closed) return;
    this.log(`signature worker lost (${error.message}); starting another`);
    this.spawn().catch((cause: Error) =>
      this.log(`cannot start a signature worker: ${cause.message}`),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    const workers = this.workers.splice(0);
    await Promise.all(workers.map((w) => w.worker.terminate()));
  }
}
