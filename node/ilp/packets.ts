import { createHash, randomBytes } from 'node:crypto';
import ilp from 'ilp-packet';
import { M2mError } from '../../zkvm/errors.js';

/**
 * ILPv4 packets (RFC 27) through `ilp-packet`: OER encoding of PREPARE, FULFILL and REJECT, the
 * condition/fulfillment pair (condition = SHA-256(fulfillment), 32 bytes each) and the standard
 * reject codes. Amounts are u64 in ILPv4; they are bigints here.
 */

export const IlpErrorCode = {
  /** Generic sender error (malformed data, unknown payment terms). */
  badRequest: 'F00',
  invalidPacket: 'F01',
  unreachable: 'F02',
  invalidAmount: 'F03',
  /** The fulfillment does not hash to the condition. */
  wrongCondition: 'F05',
  unexpectedPayment: 'F06',
  /** Final application error: the proof failed verification (see docs/settlement.md). */
  applicationError: 'F99',
  internalError: 'T00',
  peerUnreachable: 'T01',
  insufficientLiquidity: 'T04',
  /** The PREPARE expired before it was fulfilled (or no proof came before the deadline). */
  transferTimedOut: 'R00',
  insufficientTimeout: 'R02',
} as const;
export type IlpErrorCode = (typeof IlpErrorCode)[keyof typeof IlpErrorCode];

export const U64_MAX = (1n << 64n) - 1n;

export interface Prepare {
  amount: bigint;
  expiresAt: Date;
  executionCondition: Buffer;
  destination: string;
  data: Buffer;
}

export interface Fulfill {
  type: 'fulfill';
  fulfillment: Buffer;
  data: Buffer;
}

export interface Reject {
  type: 'reject';
  code: string;
  triggeredBy: string;
  message: string;
  data: Buffer;
}

export type Reply = Fulfill | Reject;

export const sha256 = (bytes: Uint8Array): Buffer => createHash('sha256').update(bytes).digest();

/** A fresh 32-byte preimage and its condition. */
export function newFulfillment(): { fulfillment: Buffer; condition: Buffer } {
  const fulfillment = randomBytes(32);
  return { fulfillment, condition: sha256(fulfillment) };
}

export const fulfills = (fulfillment: Uint8Array, condition: Uint8Array): boolean =>
  fulfillment.length === 32 && sha256(fulfillment).equals(Buffer.from(condition));

export function assertIlpAddress(address: string, what = 'ILP address'): string {
  if (!ilp.isValidIlpAddress(address))
    throw new M2mError(
      'ILP_ADDRESS_INVALID',
      `${what} "${address}" is not an ILP address (e.g. test.m2m.alice: scheme, then segments of [A-Za-z0-9_~-])`,
    );
  return address;
}

export function serializePrepare(p: Prepare): Buffer {
  if (p.amount < 0n || p.amount > U64_MAX)
    throw new M2mError('ILP_AMOUNT_RANGE', `an ILP amount is a u64; ${p.amount} is out of range`);
  if (p.executionCondition.length !== 32)
    throw new M2mError('ILP_CONDITION_INVALID', 'an execution condition is 32 bytes');
  return ilp.serializeIlpPrepare({ ...p, amount: p.amount.toString() });
}

export const serializeFulfill = (f: Omit<Fulfill, 'type'>): Buffer =>
  ilp.serializeIlpFulfill({ fulfillment: f.fulfillment, data: f.data });

export const serializeReject = (r: Omit<Reject, 'type'>): Buffer =>
  ilp.serializeIlpReject({
    code: r.code,
    triggeredBy: r.triggeredBy,
    message: r.message,
    data: r.data,
  });

export const serializeReply = (r: Reply): Buffer =>
  r.type === 'fulfill' ? serializeFulfill(r) : serializeReject(r);

/** A REJECT triggered by `triggeredBy` (the rejecting node's own ILP address). */
export const reject = (
  code: IlpErrorCode,
  triggeredBy: string,
  message: string,
  data: Buffer = Buffer.alloc(0),
): Reject => ({ type: 'reject', code, triggeredBy, message, data });

export function deserializePrepare(bytes: Buffer): Prepare {
  try {
    const p = ilp.deserializeIlpPrepare(bytes);
    return { ...p, amount: BigInt(p.amount) };
  } catch (error) {
    throw new M2mError('ILP_PACKET_INVALID', `not an ILP PREPARE: ${String(error)}`, {
      cause: error,
    });
  }
}

export function deserializeReply(bytes: Buffer): Reply {
  const type = bytes[0];
  try {
    if (type === ilp.Type.TYPE_ILP_FULFILL) {
      const f = ilp.deserializeIlpFulfill(bytes);
      return { type: 'fulfill', fulfillment: f.fulfillment, data: f.data };
    }
    if (type === ilp.Type.TYPE_ILP_REJECT) {
      const r = ilp.deserializeIlpReject(bytes);
      return { type: 'reject', ...r };
    }
  } catch (error) {
    throw new M2mError('ILP_PACKET_INVALID', `not an ILP FULFILL or REJECT: ${String(error)}`, {
      cause: error,
    });
  }
  throw new M2mError(
    'ILP_PACKET_INVALID',
    `packet type ${type} is not FULFILL (13) or REJECT (14)`,
  );
}
