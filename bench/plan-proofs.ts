/**
 * Plan-execution proofs for every example plan in plans/ (part of `npm run bench:zkvm`).
 * Targets (issue 3): prove < 20 s, verify < 20 ms, proof < 256 KB; cycles and peak memory
 * reported. Plans the backend refuses are listed with the reason.
 *
 * prove: the prover's own timing (median of PLAN_PROVE_RUNS, default 3; plans over 2^18 trace
 * rows are proven once). verify: `verifyPlanProof` in process, cold (first call: validate,
 * compile and assemble the plan) and warm (median of 20 calls; the compiled program is cached,
 * as a node verifying many proofs of one plan would have it). BENCH_PLANS=a,b limits the plans.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { isM2mError } from '../zkvm/errors.js';
import { assertValidPlan } from '../zkvm/plan/validate.js';
import { provePlan } from '../zkvm/plan-proof/prove.js';
import { verifyPlanProof } from '../zkvm/plan-proof/verify.js';

const PROVE_RUNS = Number(process.env.PLAN_PROVE_RUNS ?? 3);
const VERIFY_RUNS = 20;
const BIG_TRACE = 1 << 18;

export const planTargets = { proveMs: 20_000, verifyMs: 20, proofBytes: 256 * 1024 };

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  const v = s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
  return Math.round(v * 1000) / 1000;
};

export async function benchPlanProofs() {
  const only = process.env.BENCH_PLANS?.split(',').filter(Boolean);
  const names = readdirSync('plans')
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.replace(/\.yaml$/, ''))
    .filter((n) => only === undefined || only.includes(n))
    .sort();
  const results = [];
  for (const name of names) {
    const validated = assertValidPlan(readFileSync(`plans/${name}.yaml`, 'utf8'), { file: name });
    const data = JSON.parse(readFileSync(`plans/data/${name}.json`, 'utf8'));
    process.stderr.write(`  plan ${name}: proving ...`);
    const prove: number[] = [];
    const wall: number[] = [];
    let proof: Awaited<ReturnType<typeof provePlan>> | undefined;
    try {
      for (let i = 0; i < PROVE_RUNS; i++) {
        const t0 = process.hrtime.bigint();
        proof = await provePlan(validated, data);
        wall.push(Number(process.hrtime.bigint() - t0) / 1e6);
        prove.push(proof.envelope.metadata.provingTimeMs);
        if (proof.traceLength > BIG_TRACE) break;
      }
    } catch (error) {
      if (!isM2mError(error) || error.code !== 'BACKEND_UNSUPPORTED_OPERATION') throw error;
      process.stderr.write(' refused\n');
      results.push({ plan: name, status: 'refused', code: error.code, reason: error.message });
      continue;
    }
    const envelope = (proof as NonNullable<typeof proof>).envelope;
    const t1 = process.hrtime.bigint();
    const cold = verifyPlanProof(envelope, { planHash: validated.planHash });
    const coldMs = Number(process.hrtime.bigint() - t1) / 1e6;
    if (!cold.valid) throw new Error(`${name}: the proof did not verify: ${cold.reason}`);
    const warm: number[] = [];
    for (let i = 0; i < VERIFY_RUNS; i++) {
      const verdict = verifyPlanProof(envelope, { planHash: validated.planHash });
      if (!verdict.valid) throw new Error(`${name}: verification ${i} failed`);
      warm.push(verdict.verifyTimeMs);
    }
    process.stderr.write(` ${median(prove)} ms\n`);
    const p = proof as NonNullable<typeof proof>;
    results.push({
      plan: name,
      status: 'proven',
      proveRuns: prove.length,
      proveMedianMs: median(prove),
      proveWallMedianMs: median(wall),
      verifyColdMs: Math.round(coldMs * 1000) / 1000,
      verifyWarmMedianMs: median(warm),
      proofBytes: envelope.proof.length,
      vmCycles: p.vmCycles,
      traceLength: p.traceLength,
      traceRows: p.traceRows,
      peakMemoryBytes: envelope.metadata.memoryUsed,
      securityBits: envelope.metadata.securityBits,
      referenceCycles: p.execution.cyclesUsed,
    });
  }
  return results;
}
