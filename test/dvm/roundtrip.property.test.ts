import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildJobFeedback,
  type JobFeedbackInput,
  parseJobFeedback,
} from '../../node/dvm/feedback.js';
import { buildHandler, type HandlerInput, parseHandler } from '../../node/dvm/handler.js';
import type { JobInput, JobParam } from '../../node/dvm/inputs.js';
import {
  buildJobRequest,
  type JobBody,
  type JobRequestInput,
  jobBodyOf,
  type PlanInput,
  parseJobRequest,
} from '../../node/dvm/request.js';
import { buildJobResult, parseJobResult } from '../../node/dvm/result.js';
import { createEnvelope } from '../../zkvm/proof/envelope.js';
import { customer, provider } from './fixtures.js';

const hex = (bytes: number) =>
  fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => Buffer.from(b).toString('hex'));
const hex64 = hex(32);
const sha256 = hex64.map((h) => `sha256:${h}`);
const digest = fc
  .tuple(fc.constantFrom('sha256', 'poseidon2', 'rpo256'), hex64)
  .map(([scheme, h]) => `${scheme}:${h}`);
const text = (min = 0) => fc.string({ unit: 'grapheme', minLength: min, maxLength: 40 });
const semver = fc.tuple(fc.nat(99), fc.nat(99), fc.nat(99)).map((parts) => parts.join('.'));
const msats = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const wss = fc.domain().map((d) => `wss://${d}`);
const httpsUrl = fc.domain().map((d) => `https://${d}/x`);
const amount = fc.record(
  { msats, bolt11: fc.option(fc.stringMatching(/^lnbc[0-9a-z]{1,20}$/), { nil: undefined }) },
  { requiredKeys: ['msats'] },
);

const jobInput: fc.Arbitrary<JobInput> = fc
  .constantFrom('url', 'event', 'job', 'text' as const)
  .chain((type) =>
    fc.record({
      type: fc.constant(type),
      data: type === 'url' ? httpsUrl : type === 'text' ? text(1) : hex64,
      relay: fc.option(wss, { nil: undefined }),
      marker: fc.option(
        text(1).filter((m) => m !== 'plan'),
        { nil: undefined },
      ),
    }),
  );
const param: fc.Arbitrary<JobParam> = fc.record({
  name: text(1).filter((n) => n !== 'plan-hash'),
  value: text(),
});
const plan: fc.Arbitrary<PlanInput> = fc.oneof(
  fc.record({
    type: fc.constant('text' as const),
    text: text(1),
    planHash: fc.option(sha256, { nil: undefined }),
  }),
  fc.record({ type: fc.constant('url' as const), url: httpsUrl, planHash: sha256 }),
);
const body: fc.Arbitrary<JobBody> = fc.record({
  plan,
  inputs: fc.array(jobInput, { maxLength: 3 }),
  params: fc.array(param, { maxLength: 3 }),
});

const requestInput: fc.Arbitrary<JobRequestInput> = fc
  .record({
    backend: fc.constantFrom('miden', 'risc-zero', 'sp1', 'any' as const),
    minProgramVersion: fc.option(semver, { nil: undefined }),
    maxProvingTimeSec: fc.option(fc.integer({ min: 1, max: 2 ** 40 }), { nil: undefined }),
    bidMsats: msats,
    output: fc.option(fc.constantFrom('application/json', 'text/csv', 'application/vnd.m2m+json'), {
      nil: undefined,
    }),
    relays: fc.array(wss, { maxLength: 3 }),
    others: fc.array(hex64, { maxLength: 2 }),
    body,
    encrypt: fc.boolean(),
    createdAt: fc.integer({ min: 0, max: 2 ** 32 }),
  })
  .map(({ others, ...input }) => ({
    ...input,
    // An encrypted request names exactly its one provider.
    providers: input.encrypt ? [provider.pubkey] : [provider.pubkey, ...others],
  }));

describe('build → parse is the identity', () => {
  it('job requests (clear and encrypted)', () => {
    fc.assert(
      fc.property(requestInput, (input) => {
        const event = buildJobRequest(input, customer.secret);
        const { body: sent, encrypt, createdAt, ...fields } = input;
        const parsed = parseJobRequest(event);
        expect(parsed).toMatchObject({
          ...fields,
          createdAt,
          pubkey: customer.pubkey,
          encrypted: encrypt,
        });
        expect(jobBodyOf(parsed, provider.secret)).toEqual(sent);
      }),
      { numRuns: 60 },
    );
  });

  it('job results', () => {
    const envelopeFields = fc.record({
      backend: fc.constantFrom('miden', 'risc-zero', 'sp1' as const),
      programId: digest,
      planHash: sha256,
      dataRoot: digest,
      outputHash: digest,
      provingTimeMs: fc.nat(),
      cyclesUsed: fc.nat(),
      proof: fc.uint8Array({ minLength: 1, maxLength: 512 }),
    });
    fc.assert(
      fc.property(
        requestInput,
        envelopeFields,
        fc.option(httpsUrl, { nil: undefined }),
        fc.option(amount, { nil: undefined }),
        fc.jsonValue().map((v) => JSON.stringify(v)),
        (request, f, proofRef, paid, output) => {
          const parsedRequest = parseJobRequest(buildJobRequest(request, customer.secret));
          const envelope = createEnvelope({
            kind: 'plan',
            backend: f.backend,
            programId: f.programId,
            publicInputs: { planHash: f.planHash, dataRoot: f.dataRoot },
            publicOutputs: { outputHash: f.outputHash },
            metadata: { provingTimeMs: f.provingTimeMs, cyclesUsed: f.cyclesUsed, memoryUsed: 0 },
            proof: f.proof,
          });
          const event = buildJobResult(
            { request: parsedRequest, envelope, proofRef, output, amount: paid },
            provider.secret,
          );
          const { proof: _bytes, ...claims } = f;
          const parsed = parseJobResult(event);
          expect(parsed).toMatchObject({
            ...claims,
            requestId: parsedRequest.id,
            customer: customer.pubkey,
            encrypted: request.encrypt,
          });
          expect(parsed.amount).toEqual(paid);
          expect(parsed.proof.type).toBe(proofRef === undefined ? 'inline' : 'ref');
          if (parsed.proof.type === 'inline') expect(parsed.proof.envelope).toEqual(envelope);
          if (!parsed.encrypted) expect(parsed.output).toBe(output);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('job feedback', () => {
    const feedback: fc.Arbitrary<JobFeedbackInput> = fc
      .record({
        requestId: hex64,
        relayHint: fc.option(wss, { nil: undefined }),
        customer: hex64,
        status: fc.constantFrom(
          'payment-required',
          'processing',
          'error',
          'success',
          'partial' as const,
        ),
        info: fc.option(text(1), { nil: undefined }),
        amount: fc.option(amount, { nil: undefined }),
        content: text(),
      })
      .map((f) => ({
        ...f,
        info: f.status === 'error' ? (f.info ?? 'failed') : f.info,
        amount: f.status === 'payment-required' ? (f.amount ?? { msats: 1n }) : f.amount,
      }));
    fc.assert(
      fc.property(feedback, (input) => {
        const parsed = parseJobFeedback(buildJobFeedback(input, provider.secret));
        expect(parsed).toMatchObject({ ...input, pubkey: provider.pubkey });
        expect(parsed.amount).toEqual(input.amount);
      }),
    );
  });

  it('handler announcements', () => {
    const handler: fc.Arbitrary<HandlerInput> = fc.record({
      identifier: text(1),
      metadata: fc.record(
        { name: text(1), about: text(), website: httpsUrl },
        { requiredKeys: ['name'] },
      ),
      programs: fc.array(
        fc.record({
          backend: fc.constantFrom('miden', 'risc-zero', 'sp1' as const),
          programId: digest,
          version: semver,
        }),
        { minLength: 1, maxLength: 3 },
      ),
      prices: fc.uniqueArray(
        fc.record({ msats, unit: fc.constantFrom('per-job', 'per-mcycle' as const) }),
        {
          minLength: 1,
          maxLength: 2,
          selector: (p) => p.unit,
        },
      ),
    });
    fc.assert(
      fc.property(handler, (input) => {
        const parsed = parseHandler(buildHandler(input, provider.secret));
        expect(parsed).toMatchObject({ ...input, kinds: [5900], pubkey: provider.pubkey });
        expect(parsed.metadata).toEqual(input.metadata);
      }),
    );
  });
});
