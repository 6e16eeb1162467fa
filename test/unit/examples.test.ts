import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { listExamplePlans } from '../../node/cli/demo-command.js';
import { executePlan } from '../../zkvm/exec/executor.js';
import { planJsonSchemaText } from '../../zkvm/plan/json-schema.js';
import { assertValidPlan, validatePlan } from '../../zkvm/plan/validate.js';

const examples = listExamplePlans();
const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

describe('example plans', () => {
  it('there are at least six, each with data and a golden file', () => {
    expect(examples.length).toBeGreaterThanOrEqual(6);
  });

  for (const example of examples) {
    describe(example.name, () => {
      const text = readFileSync(example.planFile, 'utf8');
      const golden = readJson(example.goldenFile);

      it('validates without warnings', () => {
        const result = validatePlan(text, { file: example.planFile });
        expect(result.errors).toEqual([]);
        expect(result.warnings).toEqual([]);
        expect(result.valid).toBe(true);
      });

      it('produces the golden output, hashes and resource figures', () => {
        const result = executePlan(assertValidPlan(text), readJson(example.dataFile));
        expect(result.output).toEqual(golden.output);
        expect(result.outputHash).toBe(golden.outputHash);
        expect(result.planHash).toBe(golden.planHash);
        expect(result.dataRoot).toBe(golden.dataRoot);
        expect(result.cyclesUsed).toBe(golden.cyclesUsed);
        expect(result.peakMemoryBytes).toBe(golden.peakMemoryBytes);
        expect(result.outputBytes).toBe(golden.outputBytes);
      });

      it('hashes the same as YAML and as JSON', () => {
        const asJson = JSON.stringify(parse(text));
        expect(validatePlan(asJson, { file: 'x.json' }).planHash).toBe(golden.planHash);
      });
    });
  }
});

describe('JSON Schema export', () => {
  it('plans/schema/execution-plan.schema.json is up to date (run `npm run schema:export`)', () => {
    const committed = readFileSync(
      new URL('../../plans/schema/execution-plan.schema.json', import.meta.url),
      'utf8',
    );
    expect(committed).toBe(planJsonSchemaText());
  });
});
