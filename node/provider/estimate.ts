/**
 * Proving-time estimate. Proving cost follows the VM's padded trace length (a power of two),
 * not the reference executor's abstract cycles, and the ratio between the two depends on the
 * plan: measured on the example plans (compiler 0.2.0) it is 2.2–5.1 trace rows per reference
 * cycle for record-oriented plans, 18.8 for loan-payoff (fixed-point mul/round in a loop) and 39.7
 * for api-catalog (JSON text parsing). So:
 *
 * 1. bound:  rows = nextPow2(referenceCycles × rowsPerCycle); rowsPerCycle defaults to 40, the
 *    worst measured ratio. If this bound fits the deadline the job is accepted without more work.
 * 2. refine: otherwise the compiled program is executed in the VM without proving (0.1–1 s for the
 *    example plans), which gives the exact padded trace length.
 *
 * Either way: seconds = (overheadMs + rows × microsPerRow / 1000) / 1000. Proving measured 72–107 µs
 * per padded row on 2 cores (guest/PLAN_PROOFS.md); the default 150 µs leaves room for a loaded
 * machine. All three numbers are in the provider config (`estimate`).
 */
export interface EstimateParams {
  /** Trace rows assumed per reference-executor cycle for the bound. */
  rowsPerCycle: number;
  /** Proving time per padded trace row, microseconds. */
  microsPerRow: number;
  /** Fixed cost per proof (process start, compile, witness), milliseconds. */
  overheadMs: number;
  /** Run the program in the VM for the exact trace length when the bound does not fit. */
  refine: boolean;
}

export const DEFAULT_ESTIMATE: EstimateParams = {
  rowsPerCycle: 40,
  microsPerRow: 150,
  overheadMs: 1000,
  refine: true,
};

export interface ProvingEstimate {
  seconds: number;
  /** Padded trace rows the estimate assumes. */
  traceRows: number;
  /** `bound`: from the reference cycles; `vm-run`: the exact trace length of an unproven run. */
  basis: 'bound' | 'vm-run';
  referenceCycles: number;
}

export const nextPowerOfTwo = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

const secondsFor = (rows: number, p: EstimateParams): number =>
  (p.overheadMs + (rows * p.microsPerRow) / 1000) / 1000;

export function boundFromReference(referenceCycles: number, p: EstimateParams): ProvingEstimate {
  const traceRows = nextPowerOfTwo(referenceCycles * p.rowsPerCycle);
  return { seconds: secondsFor(traceRows, p), traceRows, basis: 'bound', referenceCycles };
}

export function fromTraceLength(
  traceLength: number,
  referenceCycles: number,
  p: EstimateParams,
): ProvingEstimate {
  const traceRows = nextPowerOfTwo(traceLength);
  return { seconds: secondsFor(traceRows, p), traceRows, basis: 'vm-run', referenceCycles };
}

export const describeEstimate = (e: ProvingEstimate): string =>
  e.basis === 'bound'
    ? `up to ~${Math.ceil(e.seconds)} s (${e.traceRows} trace rows, bound from ${e.referenceCycles} reference cycles)`
    : `~${Math.ceil(e.seconds)} s (${e.traceRows} trace rows, from an unproven VM run)`;
