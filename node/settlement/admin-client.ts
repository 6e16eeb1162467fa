import { M2mError } from '../../zkvm/errors.js';
import type { AdminPayment, PaymentView } from './node.js';

/**
 * The customer's side of its own escrow's admin API (`/settlement/v1/admin/...`, bearer
 * `adminToken`): ask it to pay for a job, read a payment's state. Errors keep the escrow's code.
 */
export interface EscrowAdmin {
  url: string;
  token: string;
}

async function call(admin: EscrowAdmin, method: string, path: string, body?: unknown) {
  let response: Response;
  try {
    response = await fetch(`${admin.url.replace(/\/$/, '')}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${admin.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (cause) {
    throw new M2mError(
      'ESCROW_UNREACHABLE',
      `the escrow at ${admin.url} does not answer (${(cause as Error).message}); is \`m2m settlement start\` running?`,
      { cause },
    );
  }
  const value = (await response.json().catch(() => undefined)) as
    | { error?: { code?: string; message?: string } }
    | undefined;
  if (!response.ok) {
    const error = value?.error;
    throw new M2mError(
      error?.code ?? 'ESCROW_ERROR',
      `escrow ${admin.url}: ${error?.message ?? `HTTP ${response.status}`}`,
      { details: { status: response.status } },
    );
  }
  return value as unknown as PaymentView;
}

/** Asks the escrow to PREPARE the payment (idempotent by `paymentId`). */
export const requestPayment = (admin: EscrowAdmin, payment: AdminPayment): Promise<PaymentView> =>
  call(admin, 'POST', '/settlement/v1/admin/payments', payment);

export const paymentStatus = (admin: EscrowAdmin, paymentId: string): Promise<PaymentView> =>
  call(admin, 'GET', `/settlement/v1/admin/payments/${encodeURIComponent(paymentId)}`);

/** States after which a payment never changes. */
export const FINAL_PAYMENT_STATES = new Set(['fulfilled', 'rejected', 'expired', 'failed']);
