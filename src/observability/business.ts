/**
 * Business counters from the events a process appends: a payment (or refund)
 * reaching a status. Counted where the event is written, so every transition is
 * counted once across processes (Prometheus sums them).
 */
import { paymentStatusAfter, type PaymentEvent } from '../domain/payment';
import { paymentStatusTransitions, refundStatusTransitions } from './metrics';

/**
 * Whether an event moves the payment to another status. The status itself is
 * the domain's one status function; only "did it change" is decided here: a
 * later attempt or a failed one stays submitted, and refunds never move a
 * settled payment.
 */
function changesPaymentStatus(event: PaymentEvent): boolean {
  if (event.type === 'BankSubmissionStarted') return event.data.attempt === 1;
  return event.type !== 'BankAttemptFailed' && !event.type.startsWith('Refund');
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
    if (changesPaymentStatus(event)) paymentStatusTransitions.inc({ status: paymentStatusAfter(event) });
    const refund = refundStatusAfter(event);
    if (refund) refundStatusTransitions.inc({ status: refund });
  }
}
