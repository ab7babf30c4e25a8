/**
 * The payment's status machine, once: the status a payment is in right after
 * an event. The gateway's work feeder, the read models and (through evolve)
 * the HTTP representation all take it from here, so adding an event type is a
 * compile error in this one switch until its status is decided.
 */
import { assertNever } from '../errors';
import type { PaymentEvent } from './events';
import type { PaymentStatus } from './state';

export function paymentStatusAfter(event: PaymentEvent): PaymentStatus {
  switch (event.type) {
    case 'PaymentRequested':
      return 'requested';
    case 'PaymentCancelled':
      return 'cancelled';
    case 'BankSubmissionStarted':
    case 'BankAttemptFailed':
    case 'OperatorRetryRequested':
      return 'submitted';
    case 'PaymentSettled':
      return 'settled';
    case 'PaymentRejected':
      return 'rejected';
    case 'BankOutcomeUnknown':
      return 'unknown';
    case 'PaymentResolvedByOperator':
      return event.data.outcome;
    // Rationale: only a settled payment takes refunds, and settled is final,
    // so a refund's own progress never changes the payment's status.
    case 'RefundRequested':
    case 'RefundSubmissionStarted':
    case 'RefundAttemptFailed':
    case 'RefundSucceeded':
    case 'RefundFailed':
    case 'RefundOutcomeUnknown':
      return 'settled';
    default:
      return assertNever(event, 'payment event');
  }
}
