import type { z } from 'zod';
import { M2mError } from '../zkvm/errors.js';
import type { SkillContext } from './context.js';

/**
 * An agent skill: a named, described operation whose parameters are a zod schema. The MCP server
 * (skills/mcp.ts) exposes each skill as one tool, with the schema as the tool's input schema;
 * anything else (a CLI, a test, another agent runtime) calls `runSkill` the same way.
 */
export interface Skill<P, R> {
  /** snake_case, as agents see it (the MCP tool name). */
  name: string;
  description: string;
  /** Validates and normalises the raw parameters (defaults applied). */
  parameters: z.ZodType<P>;
  run(params: P, context: SkillContext): Promise<R>;
}

// biome-ignore lint/suspicious/noExplicitAny: a list of skills holds different parameter types
export type AnySkill = Skill<any, unknown>;

export interface ParamIssue {
  /** Dotted path of the parameter, e.g. `task.plan` ("(root)" for the whole object). */
  path: string;
  message: string;
}

/**
 * The skill's parameters, or SKILL_PARAMS_INVALID naming every bad parameter (path and what is
 * expected) in the message and in `details.issues`.
 */
export function parseSkillParams<P, R>(skill: Skill<P, R>, input: unknown): P {
  const parsed = skill.parameters.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const issues: ParamIssue[] = parsed.error.issues.map((issue) => ({
    path: issue.path.length === 0 ? '(root)' : issue.path.map(String).join('.'),
    message: issue.message,
  }));
  throw new M2mError(
    'SKILL_PARAMS_INVALID',
    `${skill.name}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
    { details: { skill: skill.name, issues } },
  );
}

/** Validates the raw parameters, then runs the skill. */
export async function runSkill<P, R>(
  skill: Skill<P, R>,
  input: unknown,
  context: SkillContext,
): Promise<R> {
  return skill.run(parseSkillParams(skill, input), context);
}
