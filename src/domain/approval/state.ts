import type { ApprovalAction } from './events';

export interface Proposal {
  readonly approvalId: string;
  readonly action: ApprovalAction;
  readonly proposedBy: string;
  readonly reason: string;
  readonly evidence: string;
  readonly bankAnswer: string;
  readonly proposedAt: string;
  readonly expiresAt: string;
}

export interface Decision {
  readonly by: string;
  readonly reason: string;
  readonly at: string;
}

export type Execution =
  | { readonly status: 'executed'; readonly detail: string; readonly at: string }
  | { readonly status: 'failed'; readonly problem: string; readonly detail: string; readonly at: string };

/** Stored states. `expired` is not stored: it is a pending proposal read after its expiry (see approvalStatus). */
export type ApprovalState =
  | { readonly status: 'none' }
  | (Proposal & { readonly status: 'pending' })
  | (Proposal & { readonly status: 'approved'; readonly approval: Decision; readonly execution: Execution | null })
  | (Proposal & { readonly status: 'rejected'; readonly rejection: Decision });

export type ExistingApprovalState = Exclude<ApprovalState, { status: 'none' }>;

export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'expired';

export const APPROVAL_STATUSES: readonly ApprovalStatus[] = ['pending', 'approved', 'rejected', 'expired'];

export const initialApprovalState: ApprovalState = { status: 'none' };

/** The status as seen at `now`: a pending proposal past its expiry can no longer be approved. */
export function approvalStatus(state: ExistingApprovalState, now: Date): ApprovalStatus {
  if (state.status === 'pending' && now.getTime() >= Date.parse(state.expiresAt)) return 'expired';
  return state.status;
}
