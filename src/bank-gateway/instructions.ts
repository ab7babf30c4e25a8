/**
 * What the gateway moves: bank instructions. A payment's transfer is one, each
 * of its refunds another; every one runs the same exactly-once protocol
 * (intent with the expected revision, a key stable per instruction, lookup
 * before any resend, outcome or unknown). This file is pure: how an
 * instruction is named in the work queue, which instruction an event is about
 * and what the queue row becomes after it, and the instruction's state as the
 * state machine sees it, all from the payment's state and events.
 */
import { assertNever } from '../domain/errors';
import type { RefundId } from '../domain/ids';
import { findRefund, paymentStatusAfter, type BankProgress, type ExistingPaymentState, type PaymentEvent } from '../domain/payment';

export type InstructionRef = { readonly kind: 'transfer' } | { readonly kind: 'refund'; readonly refundId: RefundId };

export const TRANSFER_INSTRUCTION = 'transfer';
const REFUND_PREFIX = 'refund:';

/** The work queue's name for an instruction: `transfer`, or `refund:{refundId}`. */
export function instructionKey(ref: InstructionRef): string {
  return ref.kind === 'transfer' ? TRANSFER_INSTRUCTION : `${REFUND_PREFIX}${ref.refundId}`;
}

export function parseInstructionKey(key: string): InstructionRef {
  if (key === TRANSFER_INSTRUCTION) return { kind: 'transfer' };
  if (key.startsWith(REFUND_PREFIX) && key.length > REFUND_PREFIX.length) return { kind: 'refund', refundId: key.slice(REFUND_PREFIX.length) as RefundId };
  throw new Error(`unknown bank instruction ${JSON.stringify(key)}`);
}

/**
 * An instruction as the state machine sees it: waiting for its first intent,
 * at the bank, final, or parked for an operator.
 */
export type InstructionState =
  | { readonly phase: 'pending' }
  | { readonly phase: 'submitted'; readonly bank: BankProgress }
  | { readonly phase: 'final' }
  | { readonly phase: 'parked' };

/** Undefined when the payment has no such instruction (a refund id it never had). */
export function instructionState(payment: ExistingPaymentState, ref: InstructionRef): InstructionState | undefined {
  if (ref.kind === 'transfer') {
    switch (payment.status) {
      case 'requested':
        return { phase: 'pending' };
      case 'submitted':
        return { phase: 'submitted', bank: payment.bank };
      case 'settled':
      case 'rejected':
      case 'cancelled':
        return { phase: 'final' };
      case 'unknown':
        return { phase: 'parked' };
      default:
        return assertNever(payment, 'payment state');
    }
  }
  const refund = findRefund(payment, ref.refundId);
  if (!refund) return undefined;
  switch (refund.status) {
    case 'requested':
      return { phase: 'pending' };
    case 'submitted':
      return { phase: 'submitted', bank: refund.bank };
    case 'succeeded':
    case 'failed':
      return { phase: 'final' };
    case 'unknown':
      return { phase: 'parked' };
    default:
      return assertNever(refund, 'refund state');
  }
}

/** What one event does to its instruction's work-queue row. */
export type WorkRowChange =
  | { readonly kind: 'create'; readonly instruction: string; readonly status: string }
  | { readonly kind: 'submitted'; readonly instruction: string; readonly status: string; readonly attempts: number }
  | { readonly kind: 'attempt-failed'; readonly instruction: string; readonly lastError: string }
  | { readonly kind: 'parked'; readonly instruction: string; readonly status: string; readonly lastError: string }
  /** A fresh retry window, due now, any old lease void. */
  | { readonly kind: 'reopened'; readonly instruction: string; readonly status: string }
  | { readonly kind: 'done'; readonly instruction: string; readonly status: string };

/**
 * The one switch from events to row changes, exhaustive: a new event type is
 * a compile error here until the gateway knows what it means for its work.
 * The transfer's row carries the payment's status (the domain's one status
 * function); a refund's row its refund's status.
 */
export function workRowChangeOf(event: PaymentEvent): WorkRowChange {
  const transfer = TRANSFER_INSTRUCTION;
  const status = paymentStatusAfter(event);
  switch (event.type) {
    case 'PaymentRequested':
      return { kind: 'create', instruction: transfer, status };
    case 'BankSubmissionStarted':
      return { kind: 'submitted', instruction: transfer, status, attempts: event.data.attempt };
    case 'BankAttemptFailed':
      return { kind: 'attempt-failed', instruction: transfer, lastError: event.data.error };
    case 'BankOutcomeUnknown':
      return { kind: 'parked', instruction: transfer, status, lastError: event.data.lastError };
    case 'OperatorRetryRequested':
      return { kind: 'reopened', instruction: transfer, status };
    case 'PaymentSettled':
    case 'PaymentRejected':
    case 'PaymentCancelled':
    case 'PaymentResolvedByOperator':
      return { kind: 'done', instruction: transfer, status };
    case 'RefundRequested':
      return { kind: 'create', instruction: refundKey(event.data.refundId), status: 'requested' };
    case 'RefundSubmissionStarted':
      return { kind: 'submitted', instruction: refundKey(event.data.refundId), status: 'submitted', attempts: event.data.attempt };
    case 'RefundAttemptFailed':
      return { kind: 'attempt-failed', instruction: refundKey(event.data.refundId), lastError: event.data.error };
    case 'RefundOutcomeUnknown':
      return { kind: 'parked', instruction: refundKey(event.data.refundId), status: 'unknown', lastError: event.data.lastError };
    case 'RefundSucceeded':
      return { kind: 'done', instruction: refundKey(event.data.refundId), status: 'succeeded' };
    case 'RefundFailed':
      return { kind: 'done', instruction: refundKey(event.data.refundId), status: 'failed' };
    default:
      return assertNever(event, 'payment event');
  }
}

const refundKey = (refundId: RefundId) => instructionKey({ kind: 'refund', refundId });
