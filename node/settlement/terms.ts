import { z } from 'zod';
import { M2mError } from '../../zkvm/errors.js';
import { SettlementMode } from './config.js';

/**
 * The payment terms carried in the PREPARE's data field (canonical JSON, well under ILP's
 * 32,767-byte limit): which payment and job the money is for, how it settles, and what the proof
 * must match. The provider learns the terms from the PREPARE; it never learns the fulfillment.
 */
export const PaymentTerms = z
  .object({
    v: z.literal(1),
    paymentId: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/),
    mode: SettlementMode,
    /** ms since the epoch: the proof must be submitted before this. */
    proofDeadline: z.number().int().positive(),
    challengeWindowMs: z.number().int().nonnegative(),
    /** The escrow's ILP address. */
    escrow: z.string().min(1),
    expect: z
      .object({
        jobRequestHash: z.string().min(1),
        planHash: z.string().optional(),
        dataRoot: z.string().optional(),
        outputHash: z.string().optional(),
        minProgramVersion: z.string().optional(),
      })
      .strict(),
    /** Free-form labels, e.g. the Nostr job request id. */
    info: z.record(z.string(), z.string()).default({}),
  })
  .strict();
export type PaymentTerms = z.infer<typeof PaymentTerms>;

export const encodeTerms = (terms: PaymentTerms): Buffer =>
  Buffer.from(JSON.stringify(terms), 'utf8');

export function decodeTerms(data: Buffer): PaymentTerms {
  let value: unknown;
  try {
    value = JSON.parse(data.toString('utf8'));
  } catch {
    throw new M2mError('TERMS_MALFORMED', 'the PREPARE data is not JSON payment terms');
  }
  const parsed = PaymentTerms.safeParse(value);
  if (!parsed.success)
    throw new M2mError(
      'TERMS_MALFORMED',
      `payment terms: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`,
    );
  return parsed.data;
}
