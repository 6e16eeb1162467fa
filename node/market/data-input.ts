import { M2mError } from '../../zkvm/errors.js';
import type { InputData } from '../../zkvm/exec/data.js';
import type { ExecutionPlan } from '../../zkvm/plan/schema.js';
import type { JobInput } from '../dvm/inputs.js';
import type { JobBody } from '../dvm/request.js';

/**
 * The market's input-data convention: the plan's input data travels as ONE NIP-90 input
 * `["i", "<JSON text>", "text", "", "data"]`, the JSON being `{"<data-input step id>": [records]}`
 * as in plans/data/ (a bare array is read as the records of a plan's only data-input step).
 * In a private request it is inside the NIP-44 content like every other `i` tag.
 */
export const DATA_MARKER = 'data';

/** The `i` input carrying `data` inline (compact JSON). */
export function dataInput(data: InputData): JobInput {
  return { data: JSON.stringify(data), type: 'text', marker: DATA_MARKER };
}

/** The inline plan text of a request body; plans by url are not fetched yet. */
export function planTextOf(body: JobBody): string {
  if (body.plan.type !== 'text') {
    throw new M2mError(
      'JOB_INPUT_UNSUPPORTED',
      `the plan is sent by url (${body.plan.url}); this node only takes inline plans, send the plan text as ["i", "<plan>", "text", "", "plan"]`,
    );
  }
  return body.plan.text;
}

/** The input data of a request body, keyed by data-input step id (see DATA_MARKER). */
export function jobDataOf(body: JobBody, plan: ExecutionPlan): InputData {
  const found = body.inputs.filter((input) => input.marker === DATA_MARKER);
  const steps = plan.steps.filter((step) => step.type === 'data-input');
  if (found.length === 0) {
    if (steps.length === 0) return {};
    throw new M2mError(
      'JOB_DATA_MISSING',
      `the plan has ${steps.length} data-input step(s) but the request has no input with marker "data"; add ["i", "{\\"<step id>\\": [records]}", "text", "", "data"]`,
    );
  }
  if (found.length > 1)
    throw new M2mError(
      'JOB_DATA_INVALID',
      `the request has ${found.length} inputs with marker "data"; put every data-input step's records in one JSON object`,
    );
  const [input] = found as [JobInput];
  if (input.type !== 'text')
    throw new M2mError(
      'JOB_INPUT_UNSUPPORTED',
      `the data input has type "${input.type}"; this node only takes data inline (type text)`,
    );
  let value: unknown;
  try {
    value = JSON.parse(input.data);
  } catch (cause) {
    throw new M2mError(
      'JOB_DATA_INVALID',
      `the data input is not JSON: ${(cause as Error).message}`,
      { cause },
    );
  }
  return normalizeJobData(value, plan, 'the data input');
}

/** `{"<step id>": [records]}` as is; a bare array as the records of the plan's only data input. */
export function normalizeJobData(value: unknown, plan: ExecutionPlan, source: string): InputData {
  if (Array.isArray(value)) {
    const steps = plan.steps.filter((step) => step.type === 'data-input');
    const [only] = steps;
    if (steps.length !== 1 || only === undefined)
      throw new M2mError(
        'JOB_DATA_INVALID',
        `${source} is a bare array but the plan has ${steps.length} data-input steps; send {"<step id>": [records]}`,
      );
    return { [only.id]: value };
  }
  if (value === null || typeof value !== 'object')
    throw new M2mError(
      'JOB_DATA_INVALID',
      `${source} must be a JSON object {"<data-input step id>": [records]}`,
    );
  return value as InputData;
}
