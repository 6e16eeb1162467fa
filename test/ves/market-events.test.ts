import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decryptVesPayload, generateRecipientKeyPair } from '../../node/ves/encrypt.js';
import { marketEvent, marketEventId } from '../../node/ves/market-events.js';
import { Outbox } from '../../node/ves/outbox.js';
import { agentPublicKey, verifyVesEvent } from '../../node/ves/sign.js';
import type { PayloadEncrypted } from '../../node/ves/types.js';
import { AGENT, STORE, TENANT, TEST_SECRET, tempDir } from '../support/ves.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function context() {
  const t = tempDir('market');
  const outbox = Outbox.open(join(t.dir, 'outbox.db'));
  cleanups.push(() => {
    outbox.close();
    t.cleanup();
  });
  return {
    tenantId: TENANT,
    storeId: STORE,
    agentId: AGENT,
    keyId: 1,
    secretKey: TEST_SECRET,
    outbox,
    now: () => new Date('2026-01-01T00:00:00Z'),
  };
}

const JOB = 'ab'.repeat(32);

describe('marketEvent', () => {
  it('builds signed events with the documented entity conventions and appends them', async () => {
    const ctx = context();
    const pub = agentPublicKey(TEST_SECRET);
    const cases = [
      await marketEvent(
        'job.requested',
        {
          jobId: JOB,
          customer: 'cd'.repeat(32),
          planHash: `sha256:${'0'.repeat(64)}`,
          bid: { amount: 1500n, asset: 'msat' },
        },
        ctx,
      ),
      await marketEvent(
        'job.proved',
        {
          jobId: JOB,
          provider: 'ef'.repeat(32),
          programId: 'stark-v1',
          planHash: `sha256:${'0'.repeat(64)}`,
          outputHash: `sha256:${'1'.repeat(64)}`,
          provingTimeMs: 4200,
          cyclesUsed: 123456,
        },
        ctx,
      ),
      await marketEvent(
        'job.verified',
        { jobId: JOB, verifier: 'cd'.repeat(32), valid: true },
        ctx,
      ),
      await marketEvent(
        'payment.settled',
        {
          paymentId: 'transfer-1',
          jobId: JOB,
          from: 'cust',
          to: 'prov',
          amount: '1500',
          asset: 'msat',
        },
        ctx,
      ),
      await marketEvent(
        'provider.slashed',
        {
          provider: 'ef'.repeat(32),
          jobId: JOB,
          amount: 10n ** 20n,
          asset: 'msat',
          reason: 'invalid proof',
        },
        ctx,
      ),
    ];
    expect(cases.map((c) => [c.envelope.entity_type, c.envelope.event_type, c.appended])).toEqual([
      ['job', 'job.requested', true],
      ['job', 'job.proved', true],
      ['job', 'job.verified', true],
      ['payment', 'payment.settled', true],
      ['provider', 'provider.slashed', true],
    ]);
    expect(cases[0]?.envelope.entity_id).toBe(JOB);
    expect(cases[3]?.envelope.entity_id).toBe('transfer-1');
    expect(cases[4]?.envelope.entity_id).toBe('ef'.repeat(32));
    // bigint amounts are carried as exact decimal strings.
    expect(cases[0]?.envelope.payload).toMatchObject({ bid: { amount: '1500', asset: 'msat' } });
    expect(cases[4]?.envelope.payload).toMatchObject({ amount: '100000000000000000000' });
    for (const c of cases) expect(verifyVesEvent(c.envelope, pub)).toEqual({ ok: true });
    expect(ctx.outbox.counts().pending).toBe(5);
  });

  it('the same fact twice appends nothing (event id derived from the dedupe key)', async () => {
    const ctx = context();
    const data = { jobId: JOB, verifier: 'v', valid: false, reason: 'bad proof' };
    const a = await marketEvent('job.verified', data, ctx);
    const b = await marketEvent('job.verified', data, {
      ...ctx,
      now: () => new Date('2026-02-02T00:00:00Z'),
    });
    expect(b.appended).toBe(false);
    expect(b.envelope).toEqual(a.envelope);
    expect(a.envelope.event_id).toBe(marketEventId(ctx, 'job.verified', JOB));
    expect(a.envelope.event_id).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(marketEventId(ctx, 'job.proved', JOB)).not.toBe(a.envelope.event_id);
    expect(ctx.outbox.counts().pending).toBe(1);
  });

  it('refuses bad data with the field named', async () => {
    const ctx = context();
    await expect(
      marketEvent(
        'payment.settled',
        { paymentId: 'p', jobId: JOB, from: 'a', to: 'b', amount: '-5', asset: 'msat' },
        ctx,
      ),
    ).rejects.toMatchObject({
      code: 'VES_MARKET_EVENT_INVALID',
      message: expect.stringMatching(/amount/),
    });
    await expect(marketEvent('job.proved', { jobId: JOB } as never, ctx)).rejects.toMatchObject({
      code: 'VES_MARKET_EVENT_INVALID',
    });
  });

  it('encrypts the payload for recipients when asked (payload_kind 1)', async () => {
    const ctx = context();
    const r = { kid: 3, ...generateRecipientKeyPair() };
    const { envelope } = await marketEvent(
      'job.requested',
      { jobId: JOB, customer: 'c', planHash: 'sha256:00', bid: { amount: 1n, asset: 'msat' } },
      { ...ctx, encryptFor: [r] },
    );
    expect(envelope.payload_kind).toBe(1);
    expect(envelope.payload).toBeUndefined();
    expect(verifyVesEvent(envelope, agentPublicKey(TEST_SECRET))).toEqual({ ok: true });
    const opened = await decryptVesPayload(
      envelope.payload_encrypted as PayloadEncrypted,
      envelope,
      envelope.payload_plain_hash,
      { kid: 3, privateKey: r.privateKey },
    );
    expect(opened.payload).toMatchObject({ jobId: JOB, bid: { amount: '1' } });
  });
});
