/** Identifiers as their own types, and the one place stream names are made. */

export type PaymentId = string & { readonly __brand: 'PaymentId' };
export type TenantId = string & { readonly __brand: 'TenantId' };
/** Chosen by the client, unique within its payment; same charset and length as payment ids. */
export type RefundId = string & { readonly __brand: 'RefundId' };

/** RFC 3986 unreserved characters: safe in a URL path segment without encoding. */
export const PAYMENT_ID_PATTERN = /^[A-Za-z0-9._~-]{1,64}$/;
export const TENANT_ID_PATTERN = /^[A-Za-z0-9._~-]{1,64}$/;

export function isPaymentId(value: string): value is PaymentId {
  return PAYMENT_ID_PATTERN.test(value);
}

export const REFUND_ID_PATTERN = PAYMENT_ID_PATTERN;

export function isRefundId(value: string): value is RefundId {
  return REFUND_ID_PATTERN.test(value);
}

export function isTenantId(value: string): value is TenantId {
  return TENANT_ID_PATTERN.test(value);
}

export const PAYMENT_STREAM_PREFIX = 'payment-';

/**
 * `payment-{tenant}:{id}`. Neither part may contain ':' (both patterns exclude it),
 * and any character outside the patterns is percent-encoded anyway, so two
 * different (tenant, id) pairs can never name the same stream.
 * Rationale for the '-' after "payment": EventStoreDB's category projection splits
 * on the first '-', so every payment stream falls into the `payment` category.
 */
export function paymentStreamName(tenantId: TenantId, paymentId: PaymentId): string {
  return `${PAYMENT_STREAM_PREFIX}${encodePart(tenantId)}:${encodePart(paymentId)}`;
}

export function parsePaymentStreamName(streamName: string): { tenantId: TenantId; paymentId: PaymentId } | undefined {
  if (!streamName.startsWith(PAYMENT_STREAM_PREFIX)) return undefined;
  const parts = streamName.slice(PAYMENT_STREAM_PREFIX.length).split(':');
  if (parts.length !== 2) return undefined;
  return { tenantId: decodeURIComponent(parts[0]!) as TenantId, paymentId: decodeURIComponent(parts[1]!) as PaymentId };
}

function encodePart(part: string): string {
  return part.replace(/[^A-Za-z0-9._~-]/g, (character) => encodeURIComponent(character).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`));
}

/** The stream that audits refused reuses of a payment id, one per tenant. */
export function paymentIdConflictAuditStreamName(tenantId: TenantId): string {
  return `audit-payment-id-conflicts-${encodePart(tenantId)}`;
}

/** The stream that audits refused reuses of a refund id, one per tenant. */
export function refundIdConflictAuditStreamName(tenantId: TenantId): string {
  return `audit-refund-id-conflicts-${encodePart(tenantId)}`;
}

/** Approval ids are ULIDs: sortable by creation, safe in a path segment. */
export const APPROVAL_ID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;

export function isApprovalId(value: string): boolean {
  return APPROVAL_ID_PATTERN.test(value);
}

export const APPROVAL_STREAM_PREFIX = 'approval-';

/** One stream per proposal (maker-checker), named by its ULID. */
export function approvalStreamName(approvalId: string): string {
  return `${APPROVAL_STREAM_PREFIX}${encodePart(approvalId)}`;
}

/**
 * One stream per bank transfer id that settled a payment, written with
 * `no_stream`: the store, not a check in memory, keeps one transfer from
 * settling two payments, across tenants.
 */
export function bankTransferReservationStreamName(bankTransferId: string): string {
  return `bank-transfer-${encodePart(bankTransferId)}`;
}

/** Operator actions on a payment that were refused (bank contradicted, window expired, rate limited): who tried what, when. */
export function operatorAuditStreamName(tenantId: TenantId, paymentId: PaymentId): string {
  return `audit-operator-${encodePart(tenantId)}:${encodePart(paymentId)}`;
}

export const IDEMPOTENCY_STREAM_PREFIX = 'idempotency-';

/**
 * One claim stream per (principal, Idempotency-Key): keys belong to who sent
 * them, so two staff members may use the same key. The key is named by its
 * SHA-256 digest (hex, computed by the caller), so any key the header allows
 * gives a bounded, safe name, and no key appears in a stream name.
 */
export function idempotencyStreamName(principalId: string, keyDigestHex: string): string {
  return `${IDEMPOTENCY_STREAM_PREFIX}${encodePart(principalId)}:${keyDigestHex}`;
}

export const DAILY_LIMIT_STREAM_PREFIX = 'daily-limit-';

/**
 * `daily-limit-{tenant}:{currency}:{YYYY-MM-DD}`: what one tenant has reserved of
 * its daily total in one currency on one UTC day (docs/adr/0015-per-tenant-limits.md).
 * Appended with its expected revision, so parallel creates never overspend it.
 */
export function dailyLimitStreamName(tenantId: TenantId, currency: string, day: string): string {
  return `${DAILY_LIMIT_STREAM_PREFIX}${encodePart(tenantId)}:${encodePart(currency)}:${encodePart(day)}`;
}
