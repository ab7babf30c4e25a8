import { assertNever } from '../errors';
import type { ApprovalEvent } from './events';
import type { ApprovalState } from './state';

/** Folds one recorded event; an event that cannot follow the state is a programmer error and throws. */
export function evolveApproval(state: ApprovalState, event: ApprovalEvent): ApprovalState {
  if (event.type === 'ApprovalProposed') return { status: 'pending', ...event.data };
  if (state.status === 'none') throw new Error(`${event.type} before ApprovalProposed`);
  const { status: _status, ...proposal } = state;
  const base = {
    approvalId: proposal.approvalId,
    action: proposal.action,
    proposedBy: proposal.proposedBy,
    reason: proposal.reason,
    evidence: proposal.evidence,
    bankAnswer: proposal.bankAnswer,
    proposedAt: proposal.proposedAt,
    expiresAt: proposal.expiresAt,
  };
  switch (event.type) {
    case 'ApprovalGranted':
      return { ...base, status: 'approved', approval: { by: event.data.approvedBy, reason: event.data.reason, at: event.data.approvedAt }, execution: null };
    case 'ApprovalRejected':
      return { ...base, status: 'rejected', rejection: { by: event.data.rejectedBy, reason: event.data.reason, at: event.data.rejectedAt } };
    case 'ApprovalExecuted':
      if (state.status !== 'approved') throw new Error('ApprovalExecuted before ApprovalGranted');
      return { ...state, execution: { status: 'executed', detail: event.data.detail, at: event.data.executedAt } };
    case 'ApprovalExecutionFailed':
      if (state.status !== 'approved') throw new Error('ApprovalExecutionFailed before ApprovalGranted');
      return { ...state, execution: { status: 'failed', problem: event.data.problem, detail: event.data.detail, at: event.data.failedAt } };
    default:
      return assertNever(event, 'approval event');
  }
}
