/**
 * Events around operators' actions that live outside the payment's stream:
 * the reservation that keeps one bank transfer from settling two payments,
 * and refused attempts (bank contradicted, window expired, four eyes missing,
 * rate limited), kept so the audit trail shows what was tried as well as what
 * was done.
 */
import type { PaymentId, TenantId } from './ids';

/** Appended with `no_stream` to the transfer's own stream before it settles a payment. */
export interface BankTransferReserved {
  readonly type: 'BankTransferReserved';
  readonly data: { readonly bankTransferId: string; readonly tenantId: TenantId; readonly paymentId: PaymentId; readonly reservedBy: string; readonly reservedAt: string };
}

/** One field where the bank's record differs from the payment or the operator's claim. */
export interface EvidenceMismatch {
  readonly field: 'bankTransferId' | 'outcome' | 'status' | 'endToEndId' | 'amountMinor' | 'currency' | 'creditorIban';
  /** What the payment holds or the operator claimed. */
  readonly expected: string;
  /** What the bank holds (`none` when it holds nothing). */
  readonly bank: string;
}

export type OperatorActionName = 'retry' | 'resolve' | 'approve' | 'reject';

export interface OperatorActionRefused {
  readonly type: 'OperatorActionRefused';
  readonly data: {
    readonly action: OperatorActionName;
    /** The problem code answered, e.g. bank_evidence_mismatch, replay_window_expired, four_eyes_required, rate_limited. */
    readonly problem: string;
    readonly detail: string;
    readonly tenantId: TenantId;
    readonly paymentId: PaymentId;
    /** What was asked for, as sent (reason, evidence, claimed outcome and transfer). */
    readonly claim: Readonly<Record<string, string | null>>;
    readonly bankAnswer: string | null;
    readonly mismatches: readonly EvidenceMismatch[];
    readonly approvalId: string | null;
    readonly refusedBy: string;
    readonly refusedAt: string;
  };
}

export type OperatorAuditEvent = BankTransferReserved | OperatorActionRefused;

export const OPERATOR_AUDIT_EVENT_TYPES: readonly OperatorAuditEvent['type'][] = ['BankTransferReserved', 'OperatorActionRefused'];
