/**
 * Business counters from the events a process appends: a payment (or refund)
 * reaching a status. Counted where the event is written, so every transition is
 * counted once across processes (Prometheus sums them).
 */
import type { PaymentEvent } from '../domain/payment';
import { paymentStatusTransitions, refundStatusTransitions } from './metrics';

/** The payment status an event moves to; undefined when it changes none (a failed attempt, a repeated intent). */
function paymentStatusAfter(event: PaymentEvent): string | undefined {
  switch (event.type) {
    case 'PaymentRequested':
      return 'requested';
    case 'PaymentCancelled':
      return 'cancelled';
    case 'BankSubmissionStarted':
      // Later attempts stay submitted.
      return event.data.attempt === 1 ? 'submitted' : undefined;
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
    default:
      return undefined;
  }
}

function refundStatusAfter(event: PaymentEvent): string | undefined {
  switch (event.type) {
    case 'RefundRequested':
      return 'requested';
    case 'RefundSubmissionStarted':
      return event.data.attempt === 1 ? 'submitted' : undefined;
    case 'RefundSucceeded':
      return 'succeeded';
    case 'RefundFailed':
      return 'failed';
    case 'RefundOutcomeUnknown':
      return 'unknown';
    default:
      return undefined;
  }
}

export function countTransitions(events: readonly PaymentEvent[]): void {
  for (const event of events) {
    const payment = paymentStatusAfter(event);
    if (payment) paymentStatusTransitions.inc({ status: payment });
    const refund = refundStatusAfter(event);
    if (refund) refundStatusTransitions.inc({ status: refund });
  }
}
