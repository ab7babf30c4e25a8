/**
 * A proposal that a second person must approve before its action runs
 * (maker-checker). Every step is an event naming who, why and when; the
 * approval's stream is its audit trail.
 */
import type { PaymentId, TenantId } from '../ids';

/**
 * What an approval executes once granted. A discriminated union on `kind`:
 * refunds and compensations (issue 11) add their own member here, and every
 * switch over `kind` then fails to compile until it handles the new action.
 */
export type ApprovalAction = ResolvePaymentAction;

/** Record an outcome the bank could not confirm (outage, unreadable answer). */
export interface ResolvePaymentAction {
  readonly kind: 'resolve-payment';
  readonly tenantId: TenantId;
  readonly paymentId: PaymentId;
  readonly outcome: 'settled' | 'rejected';
  readonly bankTransferId: string | null;
}

export type ApprovalActionKind = ApprovalAction['kind'];

export interface ApprovalProposed {
  readonly type: 'ApprovalProposed';
  readonly data: {
    readonly approvalId: string;
    readonly action: ApprovalAction;
    readonly proposedBy: string;
    readonly reason: string;
    readonly evidence: string;
    /** What the bank answered when the proposer asked, in words: why a second person is needed. */
    readonly bankAnswer: string;
    readonly proposedAt: string;
    readonly expiresAt: string;
  };
}

export interface ApprovalGranted {
  readonly type: 'ApprovalGranted';
  readonly data: { readonly approvedBy: string; readonly reason: string; readonly approvedAt: string };
}

export interface ApprovalRejected {
  readonly type: 'ApprovalRejected';
  readonly data: { readonly rejectedBy: string; readonly reason: string; readonly rejectedAt: string };
}

/** The granted action ran; `detail` says what it did (for a payment: its status and revision after). */
export interface ApprovalExecuted {
  readonly type: 'ApprovalExecuted';
  readonly data: { readonly detail: string; readonly executedAt: string };
}

/** The granted action was refused when it ran (the payment moved on meanwhile, the transfer is used). */
export interface ApprovalExecutionFailed {
  readonly type: 'ApprovalExecutionFailed';
  readonly data: { readonly problem: string; readonly detail: string; readonly failedAt: string };
}

export type ApprovalEvent = ApprovalProposed | ApprovalGranted | ApprovalRejected | ApprovalExecuted | ApprovalExecutionFailed;

export type ApprovalEventType = ApprovalEvent['type'];

export const APPROVAL_EVENT_TYPES: readonly ApprovalEventType[] = ['ApprovalProposed', 'ApprovalGranted', 'ApprovalRejected', 'ApprovalExecuted', 'ApprovalExecutionFailed'];

export const APPROVAL_EVENT_SCHEMA_VERSION = 1;

export function isApprovalEventType(type: string): type is ApprovalEventType {
  return (APPROVAL_EVENT_TYPES as readonly string[]).includes(type);
}
