/**
 * Native STARK (Miden VM) proofs: compliance proofs (prove/verify medians, proof size, security;
 * targets prove < 50 ms, verify < 5 ms, proof < 64 KB, >= 96-bit security) and plan-execution
 * proofs of every example plan (bench/plan-proofs.ts).
 * Run: npm run bench:zkvm  -> prints a table and writes bench/results/zkvm.json
 *
 * Prove: "proveMedianMs" is the prover's own timing; "proveWallMedianMs" includes starting the
 * m2m-prover child process, as the node proves.
 * Verify: the node verifies in process through the napi addon (guest/m2m-stark-node).
 * "verifyMedianMs" is the wall time measured in Node around the addon call (request JSON in,
 * response JSON parsed); "verifyApiMedianMs" is the whole verifyCompliance() call (adds the
 * base64 of the proof); "verifyEngineMedianMs" is the verifier's own timing inside Rust;
 * "verifyWallMedianMs" is the old path, a whole `m2m-prover compliance-verify` process, kept
 * for comparison.
 */
import {
  generatePublicInputs,
  type PolicyId,
  proveCompliance,
  proveComplianceBatch,
  verifyCompliance,
  verifyComplianceBatch,
} from '../zkvm/compliance/compliance.js';
import { verifyInProcess } from '../zkvm/prover/native-addon.js';
import { callNativeProver } from '../zkvm/prover/native-process.js';
import { benchPlanProofs, planTargets } from './plan-proofs.js';
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
  const verifyAddon: number[] = [];
  const verifyApi: number[] = [];
  const verifyEngine: number[] = [];
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
    const request = {
      publicInputs: inputs,
      witnessCommitment: envelope.publicInputs.witnessCommitment,
      proof: Buffer.from(envelope.proof).toString('base64'),
      proofHash: envelope.proofHash,
    };
    // In process: the napi addon, timed in Node around the call.
    const t1 = process.hrtime.bigint();
    const response = verifyInProcess<{ valid: boolean; verifyTimeMs: number }>(
      'compliance-verify',
      request,
    );
    verifyAddon.push(Number(process.hrtime.bigint() - t1) / 1e6);
    if (!response.valid) throw new Error(`${policy} run ${i}: the proof did not verify`);
    verifyEngine.push(response.verifyTimeMs);
    const verdict = await verifyCompliance(envelope, inputs);
    if (!verdict.valid || verdict.inProcess !== true)
      throw new Error(`${policy} run ${i}: verifyCompliance: ${verdict.reason}`);
    verifyApi.push(verdict.verifyTimeMs);
    // The old path, for comparison: a whole m2m-prover process.
    const t2 = process.hrtime.bigint();
    await callNativeProver('compliance-verify', request);
    verifyWall.push(Number(process.hrtime.bigint() - t2) / 1e6);
    process.stderr.write(`\r  ${policy}: ${i + 1}/${RUNS}`);
  }
  process.stderr.write('\n');
  return {
    policy,
    runs: RUNS,
    proveMedianMs: median(proveInProcess),
    proveWallMedianMs: median(proveWall),
    verifyMedianMs: median(verifyAddon),
    verifyApiMedianMs: median(verifyApi),
    verifyEngineMedianMs: median(verifyEngine),
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
    // verifyComplianceBatch runs in process; its verifyTimeMs is wall time measured in Node.
    const verdict = await verifyComplianceBatch(envelope, members);
    if (!verdict.valid || verdict.inProcess !== true)
      throw new Error(`batch ${i} did not verify: ${verdict.reason}`);
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
const planProofs = await benchPlanProofs();
const file = saveResults('zkvm', {
  targets,
  engine: 'miden-vm 0.23.5 (prove: m2m-prover child process; verify: in-process napi addon)',
  compliance,
  batch,
  planTargets,
  planProofs,
});
console.log(
  `compliance proofs, ${RUNS} runs each (medians; prove = prover's own timing, wall = with process start; verify = in-process addon call timed in Node, process = old m2m-prover child process)`,
);
for (const c of compliance) {
  console.log(
    `  ${c.policy.padEnd(16)} prove ${c.proveMedianMs} ms (wall ${c.proveWallMedianMs}; target < ${targets.proveMs})  verify ${c.verifyMedianMs} ms in process (verifyCompliance ${c.verifyApiMedianMs}, process ${c.verifyWallMedianMs}; target < ${targets.verifyMs})  proof <= ${c.maxProofBytes} B  ${c.securityBits}-bit`,
  );
}
console.log(
  `  batch of ${batch.events}: prove ${batch.proveMedianMs} ms (${batch.perEventMs.toFixed(1)} ms/event), verify ${batch.verifyWallMedianMs.toFixed(1)} ms in process, proof <= ${batch.maxProofBytes} B`,
);
console.log(
  `plan proofs (prove = prover's timing, median; verify = in process, cold / warm median; targets prove < ${planTargets.proveMs} ms, verify < ${planTargets.verifyMs} ms, proof < ${planTargets.proofBytes} B)`,
);
for (const p of planProofs) {
  if (p.status !== 'proven') {
    console.log(`  ${p.plan.padEnd(26)} refused: ${p.reason}`);
    continue;
  }
  console.log(
    `  ${p.plan.padEnd(26)} prove ${p.proveMedianMs} ms (${p.proveRuns} run${p.proveRuns === 1 ? '' : 's'})  verify ${p.verifyColdMs} / ${p.verifyWarmMedianMs} ms  proof ${p.proofBytes} B  ${p.vmCycles} cycles (trace ${p.traceLength})  peak ${Math.round((p.peakMemoryBytes ?? 0) / 2 ** 20)} MiB`,
  );
}
console.log(`figures written to ${file}`);
