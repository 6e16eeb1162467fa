/**
 * Plan validation and execution over a 10,000-record input.
 * Targets (issue 2): validate < 5 ms, execute < 200 ms, medians.
 * Run: npm run bench:plans  -> prints a table and writes bench/results/plans.json
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { examplePlansDir } from '../node/cli/demo-command.js';
import { coerceInput } from '../zkvm/exec/data.js';
import { executePlan } from '../zkvm/exec/executor.js';
import type { DataInputStep } from '../zkvm/plan/schema.js';
import { assertValidPlan, validatePlan } from '../zkvm/plan/validate.js';
import { measure, saveResults } from './stats.js';

const RECORDS = 10_000;
const RUNS = Number(process.env.BENCH_RUNS ?? 30);

/** Deterministic pseudo-random generator (mulberry32) so every run benches the same data. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function ordersData(n: number) {
  const random = rng(42);
  return Array.from({ length: n }, (_, i) => ({
    orderId: `ord-${i.toString().padStart(6, '0')}`,
    customer: `cust-${Math.floor(random() * 500)}`,
    amount: (Math.floor(random() * 500_000) / 100).toFixed(2),
    paid: random() < 0.9,
  }));
}

function transactionsData(n: number) {
  const random = rng(7);
  const countries = ['US', 'US', 'US', 'DE', 'GB', 'KY', 'PA'];
  return Array.from({ length: n }, (_, i) => ({
    txId: `tx-${i}`,
    account: `acct-${Math.floor(random() * 800)}`,
    amount: (Math.floor(random() * 1_500_000) / 100).toFixed(2),
    country: countries[Math.floor(random() * countries.length)] as string,
  }));
}

/** Re-commits an example plan to generated data; returns the new plan text and data. */
function withData(name: string, stepId: string, records: unknown[]) {
  const plan = parse(readFileSync(join(examplePlansDir(), `${name}.yaml`), 'utf8'));
  const step = plan.steps.find((s: DataInputStep) => s.id === stepId) as DataInputStep;
  step.dataCommitment = coerceInput(step, records).root;
  plan.limits.maxCycles = 1_000_000_000;
  plan.limits.maxMemoryBytes = 512 * 1024 * 1024;
  plan.limits.maxOutputBytes = 16 * 1024 * 1024;
  return { text: stringify(plan), data: { [stepId]: records } };
}

const cases = [
  {
    name: 'orders-over-threshold',
    ...withData('orders-over-threshold', 'orders', ordersData(RECORDS)),
  },
  {
    name: 'aml-screening',
    ...withData('aml-screening', 'transactions', transactionsData(RECORDS)),
  },
];

const results = cases.map((c) => {
  const validate = measure(() => validatePlan(c.text), RUNS * 5);
  const validated = assertValidPlan(c.text);
  const execute = measure(() => executePlan(validated, c.data), RUNS);
  const sample = executePlan(validated, c.data);
  return {
    plan: c.name,
    records: RECORDS,
    validateMedianMs: validate.medianMs,
    executeMedianMs: execute.medianMs,
    validate,
    execute,
    cyclesUsed: sample.cyclesUsed,
    peakMemoryBytes: sample.peakMemoryBytes,
    outputRecords: sample.output.length,
    recordsPerSecond: Math.round(RECORDS / (execute.medianMs / 1000)),
  };
});

const targets = { validateMs: 5, executeMs: 200 };
const file = saveResults('plans', { targets, results });
console.log(`plan benchmarks, ${RECORDS} records, ${RUNS} runs (medians)`);
for (const r of results) {
  console.log(
    `  ${r.plan.padEnd(24)} validate ${r.validateMedianMs.toFixed(3).padStart(8)} ms (target < ${targets.validateMs})   execute ${r.executeMedianMs.toFixed(1).padStart(7)} ms (target < ${targets.executeMs})   ${r.recordsPerSecond} records/s`,
  );
}
console.log(`figures written to ${file}`);
const missed = results.filter(
  (r) => r.validateMedianMs >= targets.validateMs || r.executeMedianMs >= targets.executeMs,
);
if (missed.length > 0) console.log(`target missed by: ${missed.map((r) => r.plan).join(', ')}`);
