import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { readJson, readText } from '../node/files.js';

/** A plan given as its text, or as the path of a plan file. */
export interface PlanArgument {
  planText: string;
  /** The file, or the parameter's name: where plan errors point. */
  planSource: string;
}

const PLAN_FILE = /\.(ya?ml|json)$/i;

/**
 * Plan text (YAML or JSON) or a path: a single line that names an existing file, or ends in
 * .yaml/.yml/.json, is read as a file (relative to `cwd`); anything else is the plan itself.
 */
export function readPlanArgument(value: string, cwd: string, name: string): PlanArgument {
  const trimmed = value.trim();
  const looksLikePath =
    !trimmed.includes('\n') &&
    !trimmed.startsWith('{') &&
    (PLAN_FILE.test(trimmed) || existsSync(resolve(cwd, trimmed)));
  if (!looksLikePath) return { planText: value, planSource: `<${name}>` };
  const path = resolve(cwd, trimmed);
  return { planText: readText(path), planSource: path };
}

/** Input data given inline (a JSON object or array), or as the path of a JSON file. */
export function readDataArgument(value: unknown, cwd: string): unknown {
  return typeof value === 'string' ? readJson(resolve(cwd, value)) : value;
}
