import { M2mError } from '../errors.js';
import type { ResourceLimits } from '../plan/schema.js';

/** Counts cycles and tracks live memory; throws a typed error the moment a limit is passed. */
export class Meter {
  cycles = 0;
  liveBytes = 0;
  peakBytes = 0;
  stepId = '';

  constructor(readonly limits: ResourceLimits) {}

  charge(cycles: number): void {
    this.cycles += cycles;
    if (this.cycles > this.limits.maxCycles) {
      throw new M2mError(
        'EXEC_LIMIT_CYCLES',
        `step "${this.stepId}": the plan used more than limits.maxCycles = ${this.limits.maxCycles} cycles`,
        { stepId: this.stepId, details: { maxCycles: this.limits.maxCycles } },
      );
    }
  }

  allocate(bytes: number): void {
    this.liveBytes += bytes;
    if (this.liveBytes > this.peakBytes) this.peakBytes = this.liveBytes;
    if (this.liveBytes > this.limits.maxMemoryBytes) {
      throw new M2mError(
        'EXEC_LIMIT_MEMORY',
        `step "${this.stepId}": live data reached ${this.liveBytes} bytes, over limits.maxMemoryBytes = ${this.limits.maxMemoryBytes}`,
        { stepId: this.stepId, details: { liveBytes: this.liveBytes } },
      );
    }
  }

  release(bytes: number): void {
    this.liveBytes -= bytes;
  }
}
