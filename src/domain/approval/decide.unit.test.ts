/**
 * The approval decider as given (recorded events) / when (a command) / then
 * (new events or a refusal). No I/O.
 */
import { DomainError } from '../errors';
import type { PaymentId, TenantId } from '../ids';
import type { CommandMetadata, Principal } from '../principal';
import {
  approvalStatus,
  decideApproval,
  evolveApproval,
  initialApprovalState,
  type ApprovalCommand,
  type ApprovalEvent,
  type ApprovalState,
  type ExistingApprovalState,
} from '.';

const PROPOSED_AT = new Date('2026-03-01T09:00:00.000Z');
const DAY_MS = 24 * 60 * 60 * 1000;
const olga: Principal = { kind: 'staff', id: 'operator:olga', role: 'operator' };
const sue: Principal = { kind: 'staff', id: 'supervisor:sue', role: 'supervisor' };
const sam: Principal = { kind: 'staff', id: 'supervisor:sam', role: 'supervisor' };
const ana: Principal = { kind: 'staff', id: 'analyst:ana', role: 'analyst' };

const meta = (principal: Principal, now = new Date(PROPOSED_AT.getTime() + 60_000)): CommandMetadata => ({ now, principal, requestId: 'req-1', correlationId: 'corr-1', causationId: 'req-1' });

const action = { kind: 'resolve-payment', tenantId: 'acme' as TenantId, paymentId: 'p-1' as PaymentId, outcome: 'settled', bankTransferId: 'tr_1' } as const;

const proposed = (proposedBy = olga.id): ApprovalEvent => ({
  type: 'ApprovalProposed',
  data: {
    approvalId: '01J0000000000000000000000A',
    action,
    proposedBy,
    reason: 'bank down, statement shows the transfer',
    evidence: 'statement line 7',
    bankAnswer: 'bank unavailable: status 503',
    proposedAt: PROPOSED_AT.toISOString(),
    expiresAt: new Date(PROPOSED_AT.getTime() + DAY_MS).toISOString(),
  },
});
const granted = (by = sue.id): ApprovalEvent => ({ type: 'ApprovalGranted', data: { approvedBy: by, reason: 'checked the statement', approvedAt: '2026-03-01T09:01:00.000Z' } });
const rejected = (by = sue.id): ApprovalEvent => ({ type: 'ApprovalRejected', data: { rejectedBy: by, reason: 'no proof', rejectedAt: '2026-03-01T09:01:00.000Z' } });
const executed: ApprovalEvent = { type: 'ApprovalExecuted', data: { detail: 'payment settled at revision 5', executedAt: '2026-03-01T09:01:00.000Z' } };

const propose = (principal: Principal, ttlMs = DAY_MS): ApprovalCommand => ({
  type: 'ProposeAction',
  data: { approvalId: '01J0000000000000000000000A', action, reason: 'bank down, statement shows the transfer', evidence: 'statement line 7', bankAnswer: 'bank unavailable: status 503', ttlMs },
  metadata: meta(principal, PROPOSED_AT),
});
const approve = (principal: Principal, now?: Date): ApprovalCommand => ({ type: 'ApproveAction', data: { reason: 'checked the statement' }, metadata: meta(principal, now) });
const reject = (principal: Principal, now?: Date): ApprovalCommand => ({ type: 'RejectAction', data: { reason: 'no proof' }, metadata: meta(principal, now) });
const recordExecution: ApprovalCommand = { type: 'RecordExecution', data: { result: { kind: 'executed', detail: 'payment settled at revision 5' } }, metadata: meta(sue) };

function given(...history: ApprovalEvent[]) {
  const state: ApprovalState = history.reduce(evolveApproval, initialApprovalState);
  return {
    state,
    when(command: ApprovalCommand) {
      return {
        then: (expected: ApprovalEvent[]) => expect(decideApproval(command, state)).toEqual(expected),
        thenRefused(code: string) {
          let caught: unknown;
          try {
            decideApproval(command, state);
          } catch (error) {
            caught = error;
          }
          expect(caught).toBeInstanceOf(DomainError);
          expect((caught as DomainError).code).toBe(code);
        },
      };
    },
  };
}

describe('approval decider', () => {
  describe('proposing', () => {
    it('when an operator proposes, then the proposal records the action, the proposer and an expiry one ttl later', () => {
      given().when(propose(olga)).then([proposed()]);
    });
    it('when the same proposal is made again, then nothing new is recorded', () => {
      given(proposed()).when(propose(olga)).then([]);
    });
    it('when the same proposal comes back from the store with its members in another order (jsonb), then it is still the same proposal', () => {
      const stored = proposed();
      const reordered = { ...stored, data: { ...stored.data, action: { bankTransferId: action.bankTransferId, outcome: action.outcome, paymentId: action.paymentId, tenantId: action.tenantId, kind: action.kind } } } as ApprovalEvent;
      given(reordered).when(propose(olga)).then([]);
    });
    it('when another person proposes under the same id, then it is refused', () => {
      given(proposed()).when(propose(sue)).thenRefused('approval_id_conflict');
    });
    it('when an analyst proposes, then it is refused', () => {
      given().when(propose(ana)).thenRefused('operator_required');
    });
  });

  describe('approving', () => {
    it('when another supervisor approves a pending proposal, then it is granted with who, why and when', () => {
      given(proposed()).when(approve(sue)).then([granted()]);
    });
    it('when the proposer approves their own proposal, then four eyes are required', () => {
      given(proposed(sue.id)).when(approve(sue)).thenRefused('four_eyes_required');
    });
    it('when an operator approves, then a supervisor is required', () => {
      given(proposed(sue.id)).when(approve({ kind: 'staff', id: 'operator:oscar', role: 'operator' })).thenRefused('supervisor_required');
    });
    it('when the proposal has expired, then approving is refused as expired', () => {
      given(proposed()).when(approve(sue, new Date(PROPOSED_AT.getTime() + DAY_MS))).thenRefused('approval_expired');
    });
    it('when the same supervisor approves again, then nothing new is recorded', () => {
      given(proposed(), granted()).when(approve(sue)).then([]);
    });
    it('when a second supervisor approves an approved proposal, then it is already decided', () => {
      given(proposed(), granted()).when(approve(sam)).thenRefused('approval_already_decided');
    });
    it('when a rejected proposal is approved, then it is already decided', () => {
      given(proposed(), rejected()).when(approve(sam)).thenRefused('approval_already_decided');
    });
    it('when there is no proposal, then it is not found', () => {
      given().when(approve(sue)).thenRefused('approval_not_found');
    });
  });

  describe('rejecting', () => {
    it('when a supervisor rejects a pending proposal, then it is rejected with who, why and when', () => {
      given(proposed()).when(reject(sue)).then([rejected()]);
    });
    it('when the proposing supervisor withdraws their own proposal, then it is rejected: refusing moves no money', () => {
      given(proposed(sue.id)).when(reject(sue)).then([rejected()]);
    });
    it('when an operator rejects, then a supervisor is required', () => {
      given(proposed()).when(reject(olga)).thenRefused('supervisor_required');
    });
    it('when the same supervisor rejects again, then nothing new is recorded', () => {
      given(proposed(), rejected()).when(reject(sue)).then([]);
    });
    it('when an expired proposal is rejected, then it is refused as expired', () => {
      given(proposed()).when(reject(sue, new Date(PROPOSED_AT.getTime() + DAY_MS + 1))).thenRefused('approval_expired');
    });
  });

  describe('executing', () => {
    it('when a granted action is recorded as executed, then once', () => {
      given(proposed(), granted()).when(recordExecution).then([executed]);
    });
    it('when the execution is recorded a second time, then nothing new is recorded', () => {
      given(proposed(), granted(), executed).when(recordExecution).then([]);
    });
    it('when a pending proposal is recorded as executed, then it is refused', () => {
      given(proposed()).when(recordExecution).thenRefused('approval_not_approved');
    });
  });

  it('a pending proposal reads as expired from its expiry on, and a decided one never expires', () => {
    const pending = given(proposed()).state as ExistingApprovalState;
    expect(approvalStatus(pending, new Date(PROPOSED_AT.getTime() + DAY_MS - 1))).toBe('pending');
    expect(approvalStatus(pending, new Date(PROPOSED_AT.getTime() + DAY_MS))).toBe('expired');
    const approved = given(proposed(), granted()).state as ExistingApprovalState;
    expect(approvalStatus(approved, new Date(PROPOSED_AT.getTime() + 2 * DAY_MS))).toBe('approved');
  });
});
