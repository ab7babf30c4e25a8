/**
 * Maker-checker rules, pure: who may approve or reject, until when, and that a
 * granted action is recorded as executed once. Time and the principal arrive
 * in the command's metadata.
 */
import { canonicalJson } from '../canonical-json';
import { DomainError, assertNever } from '../errors';
import type { CommandMetadata } from '../principal';
import type * as Commands from './commands';
import type { ApprovalCommand } from './commands';
import type { ApprovalEvent } from './events';
import { approvalStatus, type ApprovalState, type ExistingApprovalState } from './state';

/** A proposal lives at most this long: longer and the evidence it carries is stale. */
export const APPROVAL_TTL_MS_MAX = 30 * 24 * 60 * 60 * 1000;

export function decideApproval(command: ApprovalCommand, state: ApprovalState): ApprovalEvent[] {
  if (command.type === 'ProposeAction') return propose(command, state);
  if (state.status === 'none') throw new DomainError('not_found', 'approval_not_found', 'no such approval');
  switch (command.type) {
    case 'ApproveAction':
      return approve(command, state);
    case 'RejectAction':
      return reject(command, state);
    case 'RecordExecution':
      return recordExecution(command, state);
    default:
      return assertNever(command, 'approval command');
  }
}

const at = (metadata: CommandMetadata) => metadata.now.toISOString();

function requireStaff(metadata: CommandMetadata, roles: readonly string[], code: string, what: string): string {
  const { principal } = metadata;
  if (principal.kind !== 'staff' || !roles.includes(principal.role)) throw new DomainError('forbidden', code, `only a ${roles.join(' or ')} may ${what}`);
  return principal.id;
}

function propose(command: Commands.ProposeAction, state: ApprovalState): ApprovalEvent[] {
  const proposedBy = requireStaff(command.metadata, ['operator', 'supervisor'], 'operator_required', 'propose an action');
  const { approvalId, action, reason, evidence, bankAnswer, ttlMs } = command.data;
  if (state.status !== 'none') {
    // The same proposal again (a retried request) changes nothing; anything else under this id is a bug upstream.
    if (state.proposedBy === proposedBy && canonicalJson(state.action) === canonicalJson(action)) return [];
    throw new DomainError('conflict', 'approval_id_conflict', `approval ${approvalId} already exists`);
  }
  if (!Number.isInteger(ttlMs) || ttlMs <= 0 || ttlMs > APPROVAL_TTL_MS_MAX) throw new Error(`approval ttl ${ttlMs} ms is outside 1..${APPROVAL_TTL_MS_MAX}`);
  const expiresAt = new Date(command.metadata.now.getTime() + ttlMs).toISOString();
  return [{ type: 'ApprovalProposed', data: { approvalId, action, proposedBy, reason, evidence, bankAnswer, proposedAt: at(command.metadata), expiresAt } }];
}

/**
 * Rationale for the order of the checks: the role first (an operator learns
 * nothing about the proposal), then four eyes, then the state, so a proposer
 * is told why they may not, whatever the proposal's state.
 */
function approve(command: Commands.ApproveAction, state: ExistingApprovalState): ApprovalEvent[] {
  const supervisor = requireStaff(command.metadata, ['supervisor'], 'supervisor_required', 'approve');
  if (supervisor === state.proposedBy) throw new DomainError('forbidden', 'four_eyes_required', 'a proposal is approved by a supervisor other than its proposer');
  if (state.status === 'approved' && state.approval.by === supervisor) return [];
  requirePending(state, command.metadata.now);
  return [{ type: 'ApprovalGranted', data: { approvedBy: supervisor, reason: command.data.reason, approvedAt: at(command.metadata) } }];
}

/** Refusing moves no money, so a supervisor may also withdraw a proposal of their own. */
function reject(command: Commands.RejectAction, state: ExistingApprovalState): ApprovalEvent[] {
  const supervisor = requireStaff(command.metadata, ['supervisor'], 'supervisor_required', 'reject');
  if (state.status === 'rejected' && state.rejection.by === supervisor) return [];
  requirePending(state, command.metadata.now);
  return [{ type: 'ApprovalRejected', data: { rejectedBy: supervisor, reason: command.data.reason, rejectedAt: at(command.metadata) } }];
}

function requirePending(state: ExistingApprovalState, now: Date): void {
  const status = approvalStatus(state, now);
  if (status === 'expired') {
    throw new DomainError('conflict', 'approval_expired', `the proposal expired at ${state.expiresAt}; propose again with fresh evidence`, { expiresAt: state.expiresAt });
  }
  if (status !== 'pending') throw new DomainError('conflict', 'approval_already_decided', `the proposal is already ${status}`, { approvalStatus: status });
}

function recordExecution(command: Commands.RecordExecution, state: ExistingApprovalState): ApprovalEvent[] {
  if (state.status !== 'approved') throw new DomainError('illegal_state', 'approval_not_approved', `a ${state.status} proposal is not executed`);
  // Executed once: whichever request records the execution first wins; later ones change nothing.
  if (state.execution !== null) return [];
  const { result } = command.data;
  if (result.kind === 'executed') return [{ type: 'ApprovalExecuted', data: { detail: result.detail, executedAt: at(command.metadata) } }];
  return [{ type: 'ApprovalExecutionFailed', data: { problem: result.problem, detail: result.detail, failedAt: at(command.metadata) } }];
}
