/**
 * Native STARK (Miden VM) compliance proofs: prove/verify medians, proof size, security.
 * Targets (issue 3): prove < 50 ms, verify < 5 ms, proof < 64 KB, >= 96-bit security.
 * Run: npm run bench:zkvm  -> prints a table and writes bench/results/zkvm.json
 *
 * "inProcess" figures are the prover's own timings (what a napi addon would see);
 * "wall" figures include starting the m2m-prover process, as the node calls it today.
 */
import {
  generatePublicInputs,
  type PolicyId,
  proveCompliance,
  proveComplianceBatch,
  verifyComplianceBatch,
} from '../zkvm/compliance/compliance.js';
import { callNativeProver } from '../zkvm/prover/native-process.js';
import { saveResults } from './stats.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const BATCH = 8;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return (
    Math.round(
      (s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2) * 1000,
    ) / 1000
  );
};

async function benchPolicy(policy: PolicyId) {
  const proveInProcess: number[] = [];
  const proveWall: number[] = [];
  const verifyInProcess: number[] = [];
  const verifyWall: number[] = [];
  let proofBytes = 0;
  let securityBits = 0;
  for (let i = 0; i < RUNS; i++) {
    const inputs = generatePublicInputs(policy, '10000');
    const t0 = process.hrtime.bigint();
    const { envelope } = await proveCompliance(inputs, '9999');
    proveWall.push(Number(process.hrtime.bigint() - t0) / 1e6);
    proveInProcess.push(envelope.metadata.provingTimeMs);
    proofBytes = Math.max(proofBytes, envelope.proof.length);
    securityBits = envelope.metadata.securityBits ?? 0;
    const t1 = process.hrtime.bigint();
    const { response } = await callNativeProver<{ verifyTimeMs: number }>('compliance-verify', {
      publicInputs: inputs,
      witnessCommitment: envelope.publicInputs.witnessCommitment,
      proof: Buffer.from(envelope.proof).toString('base64'),
      proofHash: envelope.proofHash,
    });
    verifyWall.push(Number(process.hrtime.bigint() - t1) / 1e6);
    verifyInProcess.push(response.verifyTimeMs);
    process.stderr.write(`\r  ${policy}: ${i + 1}/${RUNS}`);
  }
  process.stderr.write('\n');
  return {
    policy,
    runs: RUNS,
    proveMedianMs: median(proveInProcess),
    proveWallMedianMs: median(proveWall),
    verifyMedianMs: median(verifyInProcess),
    verifyWallMedianMs: median(verifyWall),
    maxProofBytes: proofBytes,
    securityBits,
  };
}

async function benchBatch() {
  const prove: number[] = [];
  const verify: number[] = [];
  let bytes = 0;
  for (let i = 0; i < Math.max(3, Math.floor(RUNS / 5)); i++) {
    const events = Array.from({ length: BATCH }, () => ({
      publicInputs: generatePublicInputs('aml.threshold', '10000'),
      amount: '42',
    }));
    const { envelope, members } = await proveComplianceBatch(events);
    prove.push(envelope.metadata.provingTimeMs);
    bytes = Math.max(bytes, envelope.proof.length);
    const verdict = await verifyComplianceBatch(envelope, members);
    if (!verdict.valid) throw new Error(`batch ${i} did not verify: ${verdict.reason}`);
    verify.push(verdict.verifyTimeMs);
  }
  return {
    events: BATCH,
    runs: prove.length,
    proveMedianMs: median(prove),
    perEventMs: median(prove) / BATCH,
    verifyWallMedianMs: median(verify),
    maxProofBytes: bytes,
  };
}

const targets = { proveMs: 50, verifyMs: 5, proofBytes: 64 * 1024, securityBits: 96 };
const compliance = [await benchPolicy('aml.threshold'), await benchPolicy('order_total.cap')];
const batch = await benchBatch();
const file = saveResults('zkvm', {
  targets,
  engine: 'miden-vm 0.23.5 (m2m-prover child process)',
  compliance,
  batch,
  planProofs: {
    status: 'not built',
    reason:
      'plan-execution proofs on the native backend are not implemented yet (see guest/PLAN_PROOFS.md)',
  },
});
console.log(
  `compliance proofs, ${RUNS} runs each (medians; in-process = prover's own timing, wall = with process start)`,
);
for (const c of compliance) {
  console.log(
    `  ${c.policy.padEnd(16)} prove ${c.proveMedianMs} ms (wall ${c.proveWallMedianMs}; target < ${targets.proveMs})  verify ${c.verifyMedianMs} ms (wall ${c.verifyWallMedianMs}; target < ${targets.verifyMs})  proof <= ${c.maxProofBytes} B  ${c.securityBits}-bit`,
  );
}
console.log(
  `  batch of ${batch.events}: prove ${batch.proveMedianMs} ms (${batch.perEventMs.toFixed(1)} ms/event), verify wall ${batch.verifyWallMedianMs.toFixed(1)} ms, proof <= ${batch.maxProofBytes} B`,
);
console.log('  plan proofs: not built yet');
console.log(`figures written to ${file}`);
