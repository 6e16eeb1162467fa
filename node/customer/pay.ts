import { M2mError } from '../../zkvm/errors.js';
import { parseJobRequest } from '../dvm/request.js';
import { type EscrowAdmin, requestPayment } from '../settlement/admin-client.js';
import type { PaymentView } from '../settlement/node.js';
import type { CustomerJob } from './store.js';

/** How the customer pays for a job: through its own escrow (`m2m settlement start`). */
export interface JobPaymentOptions extends EscrowAdmin {
  /** The provider's peer name in the escrow's settlement config. */
  provider: string;
  /** The buyer account owner on the escrow's ledger. */
  buyer: string;
  /** Seconds the provider has to deliver a valid proof, from now. */
  deadlineSec: number;
}

/**
 * Asks the escrow to hold the job's bid for the provider until a proof of exactly this job
 * (job request hash, plan hash, data root) verifies. The payment id is the job request id, which
 * is how the provider's node matches the PREPARE to the job. Idempotent: asking twice holds once.
 */
export function payForJob(job: CustomerJob, options: JobPaymentOptions): Promise<PaymentView> {
  const request = parseJobRequest(job.request);
  if (!(options.deadlineSec > 0))
    throw new M2mError('PAYMENT_DEADLINE_INVALID', 'the payment deadline must be > 0 seconds');
  return requestPayment(options, {
    paymentId: job.requestId,
    provider: options.provider,
    buyer: options.buyer,
    amount: request.bidMsats.toString(),
    proofDeadline: Date.now() + options.deadlineSec * 1000,
    expect: {
      jobRequestHash: job.jobRequestHash,
      planHash: job.planHash,
      dataRoot: job.dataRoot,
      ...(job.minProgramVersion === undefined ? {} : { minProgramVersion: job.minProgramVersion }),
    },
    info: { job: job.requestId },
  });
}
