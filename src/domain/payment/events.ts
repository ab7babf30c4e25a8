/**
 * The payment's events: the source of truth and the audit trail. Payloads are
 * plain JSON. A change to a payload's shape bumps its schema version and adds an
 * upcaster (see upcast.ts) so old events keep reading.
 */
import type { CurrencyCode } from '../money';
import type { PaymentId, RefundId, TenantId } from '../ids';

export interface Party {
  readonly name: string;
  /** Electronic format: upper case, no spaces. */
  readonly iban: string;
}

export interface PaymentRequested {
  readonly type: 'PaymentRequested';
  readonly data: {
    readonly paymentId: PaymentId;
    readonly tenantId: TenantId;
    readonly amountMinor: number;
    readonly currency: CurrencyCode;
    readonly debtor: Party;
    readonly creditor: Party;
    readonly reference: string | null;
    readonly metadata: Readonly<Record<string, string>>;
    readonly requestedAt: string;
  };
}

export interface PaymentCancelled {
  readonly type: 'PaymentCancelled';
  readonly data: { readonly reason: string; readonly cancelledBy: string; readonly cancelledAt: string };
}

/** The gateway's intent: recorded before every bank call, so a crash after the call is recoverable. */
export interface BankSubmissionStarted {
  readonly type: 'BankSubmissionStarted';
  readonly data: {
    readonly attempt: number;
    /** Stable for the payment's whole life: the bank deduplicates retries by it. */
    readonly idempotencyKey: string;
    /** The reference the bank can be asked about, even after the key expired there. */
    readonly endToEndId: string;
    readonly gatewayId: string;
    readonly startedAt: string;
  };
}

/**
 * Why the gateway has no outcome, as a stable code clients may read; the
 * free-text `error`/`lastError` beside it (bounded, it quotes the bank) is for
 * staff only. Events written before the codes existed read as `bank_error`.
 */
export const BANK_ERROR_CODES = [
  'bank_timeout',
  'bank_unavailable',
  'bank_still_processing',
  'bank_answer_unreadable',
  'bank_answer_conflicting',
  'bank_transfer_not_found',
  'bank_error',
] as const;

export type BankErrorCode = (typeof BANK_ERROR_CODES)[number];

/** A bank call that did not give an outcome (timeout, 5xx, dropped connection); retried later. */
export interface BankAttemptFailed {
  readonly type: 'BankAttemptFailed';
  readonly data: { readonly attempt: number; readonly error: string; readonly errorCode?: BankErrorCode; readonly failedAt: string };
}

export interface PaymentSettled {
  readonly type: 'PaymentSettled';
  readonly data: { readonly bankTransferId: string; readonly settledAt: string };
}

export interface PaymentRejected {
  readonly type: 'PaymentRejected';
  readonly data: {
    /** The bank's own words, bounded and stripped of control characters: for staff. */
    readonly reason: string;
    /** ISO 20022 status reason code (AC04, AM04, …) or NARR when the bank gave none: what clients see. */
    readonly reasonCode?: string;
    readonly bankTransferId: string | null;
    readonly rejectedAt: string;
  };
}

/** The gateway could not learn the outcome within its retry window: parked for an operator. */
export interface BankOutcomeUnknown {
  readonly type: 'BankOutcomeUnknown';
  readonly data: { readonly attempts: number; readonly lastError: string; readonly errorCode?: BankErrorCode; readonly parkedAt: string };
}

/** What a bank lookup by the payment's end-to-end id answered, as recorded with an operator's action. */
export interface BankLookupRecord {
  readonly result: 'accepted' | 'rejected' | 'not-found' | 'unavailable' | 'conflicting';
  readonly bankTransferId: string | null;
  readonly detail: string | null;
  readonly lookedUpAt: string;
}

/**
 * How an operator's outcome was checked before it was recorded. Absent on
 * events written before checks existed (issue 10).
 */
export type ResolutionVerification =
  /** The bank holds a transfer matching the payment (settled), or none for its reference (rejected). */
  | { readonly kind: 'bank-confirmed'; readonly bankAnswer: string }
  /** The bank could not tell; a supervisor other than the proposer approved. */
  | { readonly kind: 'four-eyes'; readonly approvalId: string; readonly proposedBy: string; readonly approvedBy: string };

export interface OperatorRetryRequested {
  readonly type: 'OperatorRetryRequested';
  readonly data: { readonly operator: string; readonly reason: string; readonly requestedAt: string; readonly bankLookup?: BankLookupRecord };
}

export interface PaymentResolvedByOperator {
  readonly type: 'PaymentResolvedByOperator';
  readonly data: {
    readonly outcome: 'settled' | 'rejected';
    readonly bankTransferId: string | null;
    readonly reason: string;
    readonly evidence: string;
    readonly operator: string;
    readonly resolvedAt: string;
    readonly verification?: ResolutionVerification;
  };
}

/**
 * Refunds live in the payment's own stream: the refundable amount is then a
 * fold of one stream, and every refund is appended with the revision it was
 * decided on, so two refunds racing for the last euro cannot both win.
 * Rationale: a linked stream per refund would need a second check across
 * streams, which the store cannot make atomic.
 */
export interface RefundRequested {
  readonly type: 'RefundRequested';
  readonly data: {
    readonly refundId: RefundId;
    readonly amountMinor: number;
    readonly currency: CurrencyCode;
    readonly reason: string | null;
    readonly metadata: Readonly<Record<string, string>>;
    readonly requestedBy: string;
    readonly requestedAt: string;
  };
}

/** The gateway's intent before each bank call for a refund, as BankSubmissionStarted is for the transfer. */
export interface RefundSubmissionStarted {
  readonly type: 'RefundSubmissionStarted';
  readonly data: {
    readonly refundId: RefundId;
    readonly attempt: number;
    /** Stable for the refund's whole life. */
    readonly idempotencyKey: string;
    readonly endToEndId: string;
    readonly gatewayId: string;
    readonly startedAt: string;
  };
}

export interface RefundAttemptFailed {
  readonly type: 'RefundAttemptFailed';
  readonly data: { readonly refundId: RefundId; readonly attempt: number; readonly error: string; readonly errorCode: BankErrorCode; readonly failedAt: string };
}

export interface RefundSucceeded {
  readonly type: 'RefundSucceeded';
  /** The amount rides along (it is the requested one), so read models need not keep every pending refund. */
  readonly data: { readonly refundId: RefundId; readonly bankRefundId: string; readonly amountMinor: number; readonly currency: CurrencyCode; readonly succeededAt: string };
}

/** The bank refused the refund: its amount is refundable again. */
export interface RefundFailed {
  readonly type: 'RefundFailed';
  readonly data: {
    readonly refundId: RefundId;
    readonly reason: string;
    readonly reasonCode: string;
    readonly bankRefundId: string | null;
    readonly failedAt: string;
  };
}

/** The gateway could not learn the refund's outcome: parked for an operator. Its amount stays reserved. */
export interface RefundOutcomeUnknown {
  readonly type: 'RefundOutcomeUnknown';
  readonly data: { readonly refundId: RefundId; readonly attempts: number; readonly lastError: string; readonly errorCode: BankErrorCode; readonly parkedAt: string };
}

export type RefundEvent = RefundRequested | RefundSubmissionStarted | RefundAttemptFailed | RefundSucceeded | RefundFailed | RefundOutcomeUnknown;

export type PaymentEvent =
  | RefundEvent
  | PaymentRequested
  | PaymentCancelled
  | BankSubmissionStarted
  | BankAttemptFailed
  | PaymentSettled
  | PaymentRejected
  | BankOutcomeUnknown
  | OperatorRetryRequested
  | PaymentResolvedByOperator;

export type PaymentEventType = PaymentEvent['type'];

export const PAYMENT_EVENT_TYPES: readonly PaymentEventType[] = [
  'PaymentRequested',
  'PaymentCancelled',
  'BankSubmissionStarted',
  'BankAttemptFailed',
  'PaymentSettled',
  'PaymentRejected',
  'BankOutcomeUnknown',
  'OperatorRetryRequested',
  'PaymentResolvedByOperator',
  'RefundRequested',
  'RefundSubmissionStarted',
  'RefundAttemptFailed',
  'RefundSucceeded',
  'RefundFailed',
  'RefundOutcomeUnknown',
];

export const REFUND_EVENT_TYPES: readonly RefundEvent['type'][] = [
  'RefundRequested',
  'RefundSubmissionStarted',
  'RefundAttemptFailed',
  'RefundSucceeded',
  'RefundFailed',
  'RefundOutcomeUnknown',
];

export function isRefundEvent(event: PaymentEvent): event is RefundEvent {
  return (REFUND_EVENT_TYPES as readonly string[]).includes(event.type);
}

/** Current schema version of every payment event payload. */
export const PAYMENT_EVENT_SCHEMA_VERSION = 1;

export function isPaymentEventType(type: string): type is PaymentEventType {
  return (PAYMENT_EVENT_TYPES as readonly string[]).includes(type);
}
