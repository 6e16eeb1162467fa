import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  ListToolsRequestSchema,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { isM2mError, M2mError } from '../zkvm/errors.js';
import type { SkillContext } from './context.js';
import { SKILLS } from './index.js';
import { type AnySkill, runSkill } from './skill.js';

const json = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2);

/** A skill's zod parameters as the tool's JSON Schema (the input side: defaults are optional). */
export function toolOf(skill: AnySkill): Tool {
  return {
    name: skill.name,
    description: skill.description,
    inputSchema: z.toJSONSchema(skill.parameters, {
      io: 'input',
      target: 'draft-7',
    }) as Tool['inputSchema'],
  };
}

/** `{"ok": false, "error": {code, message, details?}}` as an isError tool result. */
export function errorResult(error: unknown): CallToolResult {
  const body = isM2mError(error)
    ? error.toJSON()
    : {
        code: 'INTERNAL',
        message: `internal error (please report it): ${error instanceof Error ? error.message : String(error)}`,
      };
  return { isError: true, content: [{ type: 'text', text: json({ ok: false, error: body }) }] };
}

/**
 * An MCP server with one tool per skill. Arguments are validated by the skill's own zod schema
 * (not the SDK's), so bad input comes back as an isError result with the code
 * SKILL_PARAMS_INVALID and every bad parameter named; any failure of a skill is an isError
 * result with its M2mError code. A tool call never takes the server down.
 *
 * This uses the SDK's low-level `Server` rather than `McpServer.registerTool`: the latter
 * validates arguments itself and reports failures as bare text without a code.
 */
export function createMcpServer(
  context: SkillContext,
  options: { version?: string | undefined; skills?: readonly AnySkill[] } = {},
): Server {
  const skills = options.skills ?? SKILLS;
  const byName = new Map(skills.map((skill) => [skill.name, skill]));
  const server = new Server(
    { name: 'm2m', version: options.version ?? '0.0.0' },
    {
      capabilities: { tools: {} },
      instructions:
        'Buy verified computation on the m2m market: request_zk_job publishes a job (an execution plan and its data) to providers over Nostr; verify_proof checks the zero-knowledge proof of a result before you trust it.',
    },
  );
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: skills.map(toolOf) }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const skill = byName.get(request.params.name);
    if (skill === undefined)
      return errorResult(
        new M2mError(
          'TOOL_UNKNOWN',
          `no tool "${request.params.name}"; the tools are ${[...byName.keys()].join(', ')}`,
        ),
      );
    const token = request.params._meta?.progressToken;
    let step = 0;
    const progress =
      token === undefined
        ? undefined
        : (message: string) => {
            step += 1;
            extra
              .sendNotification({
                method: 'notifications/progress',
                params: { progressToken: token, progress: step, message },
              })
              .catch(() => {});
          };
    try {
      const result = await runSkill(skill, request.params.arguments ?? {}, {
        ...context,
        progress,
      });
      return {
        content: [{ type: 'text', text: json(result) }],
        structuredContent: JSON.parse(json(result)) as Record<string, unknown>,
      };
    } catch (error) {
      if (!isM2mError(error))
        process.stderr.write(
          `m2m mcp: internal error in ${skill.name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
        );
      return errorResult(error);
    }
  });
  return server;
}

/** Serves the skills over stdio until the client closes stdin (or the transport closes). */
export async function serveStdio(
  context: SkillContext,
  options: { version?: string | undefined } = {},
): Promise<void> {
  const server = createMcpServer(context, options);
  const closed = new Promise<void>((resolve) => {
    server.onclose = resolve;
  });
  await server.connect(new StdioServerTransport());
  const stop = () => void server.close();
  process.stdin.once('end', stop);
  process.stdin.once('close', stop);
  await closed;
}
