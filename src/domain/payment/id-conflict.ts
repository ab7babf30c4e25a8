/**
 * The audit of a refused id reuse: a PUT that named an existing payment (or
 * refund) with other details got 409, and who tried what, when, is kept in the
 * tenant's audit stream (`paymentIdConflictAuditStreamName`,
 * `refundIdConflictAuditStreamName`), not in the payment's own.
 * Rationale: the payment's stream holds only what happened to the payment; a
 * refused attempt changes nothing about it, but is still a fact worth keeping.
 */
import type { PaymentId, RefundId, TenantId } from '../ids';
import type { CommandMetadata } from '../principal';

export interface PaymentIdConflictRefused {
  readonly type: 'PaymentIdConflictRefused';
  readonly data: {
    readonly tenantId: TenantId;
    readonly paymentId: PaymentId;
    readonly attemptedBy: string;
    readonly attemptedAt: string;
    /** SHA-256 of the attempted instruction's canonical JSON: what was sent, without storing it twice. */
    readonly payloadSha256: string;
    /** The instruction fields that differ from the payment's. */
    readonly differingFields: readonly string[];
  };
}

export interface RefundIdConflictRefused {
  readonly type: 'RefundIdConflictRefused';
  readonly data: {
    readonly tenantId: TenantId;
    readonly paymentId: PaymentId;
    readonly refundId: RefundId;
    readonly attemptedBy: string;
    readonly attemptedAt: string;
    readonly differingFields: readonly string[];
  };
}

export type IdConflictAuditEvent = PaymentIdConflictRefused | RefundIdConflictRefused;

export const ID_CONFLICT_AUDIT_EVENT_TYPES: readonly IdConflictAuditEvent['type'][] = ['PaymentIdConflictRefused', 'RefundIdConflictRefused'];

export interface RefusedIdReuse {
  readonly tenantId: TenantId;
  readonly paymentId: PaymentId;
  readonly payloadSha256: string;
  readonly differingFields: readonly string[];
}

/** The audit event of a refused reuse; who and when come from the command's metadata. */
export function paymentIdConflictRefused(attempt: RefusedIdReuse, metadata: Pick<CommandMetadata, 'now' | 'principal'>): PaymentIdConflictRefused {
  return {
    type: 'PaymentIdConflictRefused',
    data: {
      tenantId: attempt.tenantId,
      paymentId: attempt.paymentId,
      attemptedBy: metadata.principal.id,
      attemptedAt: metadata.now.toISOString(),
      payloadSha256: attempt.payloadSha256,
      differingFields: attempt.differingFields,
    },
  };
}

export interface RefusedRefundIdReuse {
  readonly tenantId: TenantId;
  readonly paymentId: PaymentId;
  readonly refundId: RefundId;
  readonly differingFields: readonly string[];
}

/** The audit event of a refused refund id reuse; who and when come from the command's metadata. */
export function refundIdConflictRefused(attempt: RefusedRefundIdReuse, metadata: Pick<CommandMetadata, 'now' | 'principal'>): RefundIdConflictRefused {
  return {
    type: 'RefundIdConflictRefused',
    data: {
      tenantId: attempt.tenantId,
      paymentId: attempt.paymentId,
      refundId: attempt.refundId,
      attemptedBy: metadata.principal.id,
      attemptedAt: metadata.now.toISOString(),
      differingFields: attempt.differingFields,
    },
  };
}
