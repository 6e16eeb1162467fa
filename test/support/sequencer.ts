/**
 * Test helpers for the embedded sequencer: agents with Ed25519 keys, signed VES events (through
 * node/ves/sign.ts, the client's own signer), key registration with proof of possession, and a
 * small JSON client.
 */
import { randomUUID } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { signKeyRegistration, signVesEvent } from '../../node/ves/sign.js';
import type { JsonValue, VesEventEnvelope } from '../../node/ves/types.js';

export interface TestAgent {
  tenantId: string;
  storeId: string;
  agentId: string;
  keyId: number;
  secretKey: Uint8Array;
}

export function newAgent(stream?: { tenantId: string; storeId: string }, keyId = 1): TestAgent {
  return {
    tenantId: stream?.tenantId ?? randomUUID(),
    storeId: stream?.storeId ?? randomUUID(),
    agentId: randomUUID(),
    keyId,
    secretKey: ed25519.utils.randomSecretKey(),
  };
}

export function signedEvent(
  agent: TestAgent,
  overrides: { payload?: { [key: string]: JsonValue }; entityId?: string; commandId?: string } = {},
): VesEventEnvelope {
  return signVesEvent(
    {
      event_id: randomUUID(),
      tenant_id: agent.tenantId,
      store_id: agent.storeId,
      source_agent_id: agent.agentId,
      agent_key_id: agent.keyId,
      entity_type: 'Job',
      entity_id: overrides.entityId ?? 'job-1',
      event_type: 'JobRequested',
      created_at: new Date().toISOString(),
      payload_kind: 0,
      payload: overrides.payload ?? { amount: '100', n: Math.floor(Math.random() * 1e9) },
      ...(overrides.commandId === undefined ? {} : { command_id: overrides.commandId }),
    },
    agent.secretKey,
  );
}

export interface Reply<T = Record<string, unknown>> {
  status: number;
  body: T;
}

export class SequencerClient {
  constructor(
    readonly baseUrl: string,
    readonly apiKey: string | undefined,
  ) {}

  async request<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Reply<T>> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(this.apiKey === undefined ? {} : { 'x-api-key': this.apiKey }),
        ...headers,
      },
      ...(body === undefined
        ? {}
        : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {}
    return { status: res.status, body: parsed as T };
  }

  ingest(agentId: string, events: unknown[]) {
    return this.request('POST', '/v1/ves/events/ingest', { agentId, events });
  }

  registerKey(
    agent: TestAgent,
    window: { validFrom?: string; validTo?: string } = {},
  ): Promise<Reply> {
    return this.request(
      'POST',
      '/v1/agents/keys',
      signKeyRegistration(
        {
          tenantId: agent.tenantId,
          agentId: agent.agentId,
          keyId: agent.keyId,
          ...window,
        },
        agent.secretKey,
      ),
    );
  }

  async head(agent: { tenantId: string; storeId: string }): Promise<number> {
    const r = await this.request<{ head_sequence: number }>(
      'GET',
      `/v1/head?tenant_id=${agent.tenantId}&store_id=${agent.storeId}`,
    );
    return r.body.head_sequence;
  }

  /** Every event of the stream, in order. */
  async allEvents(agent: {
    tenantId: string;
    storeId: string;
  }): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    let from = 1;
    for (;;) {
      const r = await this.request<Record<string, unknown>[]>(
        'GET',
        `/v1/events?tenant_id=${agent.tenantId}&store_id=${agent.storeId}&from=${from}&limit=1000`,
      );
      if (r.body.length === 0) return out;
      out.push(...r.body);
      from = Number(r.body.at(-1)?.sequence_number) + 1;
    }
  }
}
