import { z } from 'zod';
import { ExecutionPlan } from './schema.js';

/** The plan IR as JSON Schema (draft 2020-12), for tools outside TypeScript. */
export function planJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ExecutionPlan, { target: 'draft-2020-12' }) as Record<
    string,
    unknown
  >;
  return { $id: 'urn:m2m:schema:execution-plan:1.0', ...schema };
}

export function planJsonSchemaText(): string {
  return `${JSON.stringify(planJsonSchema(), null, 2)}\n`;
}
