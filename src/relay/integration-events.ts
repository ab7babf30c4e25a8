/**
 * Integration events: the public contract downstream systems read from NATS,
 * kept apart from the stored events on purpose. A stored event's shape may
 * change (with an upcaster); an integration event's shape changes only with a
 * new version in its `type` (`…settled.v2`), written down in
 * docs/integration-events.md.
 *
 * One table maps each stored event type to its integration event: its name (the
 * last subject token and the middle of the CloudEvents `type`), its version and
 * a pure function from the stored payload to the public one. Refund events
 * (on the payment's stream) go out as `refund` events; compensation events
 * join by adding rows. What never leaves: full IBANs (only
 * their last four characters), idempotency keys, the bank's free text and staff
 * members' names and notes.
 */
import { formatAmount } from '../domain/money';
import { parsePaymentStreamName } from '../domain/ids';
import { upcastPaymentEvent, type PaymentEvent, type PaymentEventType } from '../domain/payment';
import type { JsonObject, RecordedEvent } from '../event-store/port';
import { schemaVersionOf } from '../application/event-envelope';

/** CloudEvents 1.0, structured JSON mode. */
export interface CloudEvent {
  readonly specversion: '1.0';
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly subject: string;
  readonly time: string;
  readonly datacontenttype: 'application/json';
  readonly data: JsonObject;
}

export interface IntegrationMessage {
  /** The NATS subject: `<prefix>.<tenant token>.<payment|refund>.<name>`. */
  readonly subject: string;
  readonly event: CloudEvent;
}

type Mapping<T extends PaymentEventType> = {
  /** What the event is about: the subject's third token and the CloudEvents type's third part. */
  readonly entity?: 'payment' | 'refund';
  readonly name: string;
  readonly version: number;
  readonly data: (payload: Extract<PaymentEvent, { type: T }>['data']) => JsonObject;
};

/** The last four characters only: enough for a person to recognise an account, useless to move money. */
export function maskedIban(iban: string): string {
  return `****${iban.slice(-4)}`;
}

/**
 * The table. `satisfies` makes adding a payment event type without a row here
 * a compile error, so no stored event is silently left unpublished.
 */
export const PAYMENT_INTEGRATION_EVENTS = {
  PaymentRequested: {
    name: 'requested',
    version: 1,
    data: (p) => ({
      amount: formatAmount({ amountMinor: p.amountMinor, currency: p.currency }),
      amountMinor: p.amountMinor,
      currency: p.currency,
      debtor: { name: p.debtor.name, ibanMasked: maskedIban(p.debtor.iban) },
      creditor: { name: p.creditor.name, ibanMasked: maskedIban(p.creditor.iban) },
      reference: p.reference,
      metadata: { ...p.metadata },
      requestedAt: p.requestedAt,
    }),
  },
  PaymentCancelled: { name: 'cancelled', version: 1, data: (p) => ({ reason: p.reason, cancelledAt: p.cancelledAt }) },
  BankSubmissionStarted: { name: 'submission_started', version: 1, data: (p) => ({ attempt: p.attempt, endToEndId: p.endToEndId, startedAt: p.startedAt }) },
  BankAttemptFailed: { name: 'attempt_failed', version: 1, data: (p) => ({ attempt: p.attempt, errorCode: p.errorCode ?? 'bank_error', failedAt: p.failedAt }) },
  PaymentSettled: { name: 'settled', version: 1, data: (p) => ({ bankTransferId: p.bankTransferId, settledAt: p.settledAt }) },
  PaymentRejected: { name: 'rejected', version: 1, data: (p) => ({ reasonCode: p.reasonCode ?? 'NARR', bankTransferId: p.bankTransferId, rejectedAt: p.rejectedAt }) },
  BankOutcomeUnknown: { name: 'outcome_unknown', version: 1, data: (p) => ({ attempts: p.attempts, errorCode: p.errorCode ?? 'bank_error', parkedAt: p.parkedAt }) },
  OperatorRetryRequested: { name: 'retry_requested', version: 1, data: (p) => ({ requestedAt: p.requestedAt }) },
  PaymentResolvedByOperator: { name: 'resolved', version: 1, data: (p) => ({ outcome: p.outcome, bankTransferId: p.bankTransferId, resolvedAt: p.resolvedAt }) },
  RefundRequested: {
    entity: 'refund',
    name: 'requested',
    version: 1,
    data: (p) => ({
      refundId: p.refundId,
      amount: formatAmount({ amountMinor: p.amountMinor, currency: p.currency }),
      amountMinor: p.amountMinor,
      currency: p.currency,
      reason: p.reason,
      metadata: { ...p.metadata },
      requestedAt: p.requestedAt,
    }),
  },
  RefundSubmissionStarted: { entity: 'refund', name: 'submission_started', version: 1, data: (p) => ({ refundId: p.refundId, attempt: p.attempt, endToEndId: p.endToEndId, startedAt: p.startedAt }) },
  RefundAttemptFailed: { entity: 'refund', name: 'attempt_failed', version: 1, data: (p) => ({ refundId: p.refundId, attempt: p.attempt, errorCode: p.errorCode, failedAt: p.failedAt }) },
  RefundSucceeded: { entity: 'refund', name: 'succeeded', version: 1, data: (p) => ({ refundId: p.refundId, bankRefundId: p.bankRefundId, succeededAt: p.succeededAt }) },
  RefundFailed: { entity: 'refund', name: 'failed', version: 1, data: (p) => ({ refundId: p.refundId, reasonCode: p.reasonCode, bankRefundId: p.bankRefundId, failedAt: p.failedAt }) },
  RefundOutcomeUnknown: { entity: 'refund', name: 'outcome_unknown', version: 1, data: (p) => ({ refundId: p.refundId, attempts: p.attempts, errorCode: p.errorCode, parkedAt: p.parkedAt }) },
} satisfies { readonly [T in PaymentEventType]: Mapping<T> };

/** Stored event types the relay publishes: its read filter. */
export const RELAYED_EVENT_TYPES: readonly string[] = Object.keys(PAYMENT_INTEGRATION_EVENTS);

/**
 * A tenant id as one NATS subject token. Tenant ids are `[A-Za-z0-9._~-]`; of
 * those only `.` separates tokens, so `.` becomes `~2E` and the escape
 * character itself `~7E`. Reversible, and a tenant without `.` or `~` reads
 * the same in the subject. Rationale: percent-encoding would do, but `%` is
 * awkward in shell filters; `~` is already allowed in tenant ids and subjects.
 */
export function tenantSubjectToken(tenantId: string): string {
  return tenantId.replace(/[~.]/g, (character) => (character === '~' ? '~7E' : '~2E'));
}

export function tenantFromSubjectToken(token: string): string {
  return token.replace(/~(2E|7E)/g, (_match, code: string) => (code === '2E' ? '.' : '~'));
}

export interface MappingSettings {
  readonly subjectPrefix: string;
  readonly source: string;
}

/**
 * The integration message of one stored event, or undefined when the event is
 * not one the relay publishes (not a payment stream, or a type with no row).
 * Throws on a payload it cannot read: that is a bug to fix, never to skip.
 */
export function toIntegrationMessage(event: RecordedEvent, settings: MappingSettings): IntegrationMessage | undefined {
  const stream = parsePaymentStreamName(event.streamName);
  if (!stream) return undefined;
  const domainEvent = upcastPaymentEvent(event.type, event.data, schemaVersionOf(event));
  if (!domainEvent) return undefined;
  const mapping = PAYMENT_INTEGRATION_EVENTS[domainEvent.type] as Mapping<typeof domainEvent.type>;
  const entity = mapping.entity ?? 'payment';
  const type = `com.paystream.${entity}.${mapping.name}.v${mapping.version}`;
  const payload = mapping.data(domainEvent.data as never);
  const paymentSubject = `tenants/${stream.tenantId}/payments/${stream.paymentId}`;
  return {
    subject: `${settings.subjectPrefix}.${tenantSubjectToken(stream.tenantId)}.${entity}.${mapping.name}`,
    event: {
      specversion: '1.0',
      id: event.id,
      source: settings.source,
      type,
      subject: entity === 'refund' ? `${paymentSubject}/refunds/${String(payload['refundId'])}` : paymentSubject,
      // The command's clock (when it happened), the store's as a fallback for events without one.
      time: typeof event.metadata['recordedAt'] === 'string' ? event.metadata['recordedAt'] : event.recordedAt.toISOString(),
      datacontenttype: 'application/json',
      data: { tenantId: stream.tenantId, paymentId: stream.paymentId, revision: event.revision, ...payload },
    },
  };
}
