import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Timing {
  runs: number;
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  minMs: number;
}

/** Times `fn` after warm-up runs; reports median and spread in milliseconds. */
export function measure(fn: () => unknown, runs: number, warmup = Math.min(5, runs)): Timing {
  for (let i = 0; i < warmup; i++) fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    fn();
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  samples.sort((a, b) => a - b);
  const at = (q: number) =>
    samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] as number;
  return {
    runs,
    medianMs: round(at(0.5)),
    p10Ms: round(at(0.1)),
    p90Ms: round(at(0.9)),
    minMs: round(samples[0] as number),
  };
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

/** Writes figures to bench/results/<name>.json (in the source tree, also when run from dist/). */
export function saveResults(name: string, figures: Record<string, unknown>): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = here.includes(`${join('dist', 'bench')}`) ? join(here, '../../bench') : here;
  const file = join(root, 'results', `${name}.json`);
  mkdirSync(dirname(file), { recursive: true });
  const record = {
    benchmark: name,
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    ...figures,
  };
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  return file;
}
