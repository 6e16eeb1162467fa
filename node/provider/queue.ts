/**
 * Runs jobs by id, at most `concurrency` at a time, in arrival order. An id already queued or
 * running is not added twice. `run` must not throw; a rejection is reported to `onError`.
 */
export class JobQueue {
  private readonly waiting: string[] = [];
  private readonly running = new Set<string>();
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly concurrency: number,
    private readonly run: (id: string) => Promise<void>,
    private readonly onError: (id: string, error: unknown) => void = () => {},
  ) {}

  push(id: string): void {
    if (this.stopped || this.running.has(id) || this.waiting.includes(id)) return;
    this.waiting.push(id);
    this.pump();
  }

  get runningIds(): string[] {
    return [...this.running];
  }

  get waitingIds(): string[] {
    return [...this.waiting];
  }

  /** Starts nothing new; running jobs go on. Waiting ids are dropped (the store still has them). */
  stop(): void {
    this.stopped = true;
    this.waiting.length = 0;
  }

  /** Resolves once nothing is running. */
  idle(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (!this.stopped && this.running.size < this.concurrency && this.waiting.length > 0) {
      const id = this.waiting.shift() as string;
      this.running.add(id);
      void this.run(id)
        .catch((error: unknown) => this.onError(id, error))
        .finally(() => {
          this.running.delete(id);
          if (this.running.size === 0) for (const wake of this.idleWaiters.splice(0)) wake();
          this.pump();
        });
    }
  }
}
