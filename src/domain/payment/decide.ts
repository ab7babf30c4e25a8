/**
 * The payment's business rules: given the current state and a command, which
 * events happen. Pure: time, ids and the principal arrive in the command.
 * An empty array means "already done": retries of a command are answered
 * without writing anything.
 */
import { DomainError, assertNever } from '../errors';
import type { CommandMetadata } from '../principal';
import type * as Commands from './commands';
import type { PaymentCommand } from './commands';
import type { PaymentEvent } from './events';
import type { ExistingPaymentState, PaymentInstruction, PaymentState } from './state';
import { differingInstructionFields } from './instruction';
import { decideRefund } from './refunds';

export function decide(command: PaymentCommand, state: PaymentState): PaymentEvent[] {
  if (command.type === 'RequestPayment') return requestPayment(command, state);
  if (state.status === 'none') throw new DomainError('not_found', 'payment_not_found', 'payment not found');
  switch (command.type) {
    case 'CancelPayment':
      return cancel(command, state);
    case 'StartBankSubmission':
      return startBankSubmission(command, state);
    case 'RecordBankAttemptFailure':
      return recordAttemptFailure(command, state);
    case 'SettlePayment':
      return settle(command, state);
    case 'RejectPayment':
      return reject(command, state);
    case 'ParkWithUnknownOutcome':
      return park(command, state);
    case 'RequestOperatorRetry':
      return requestOperatorRetry(command, state);
    case 'ResolveManually':
      return resolveManually(command, state);
    case 'RequestRefund':
    case 'StartRefundSubmission':
    case 'RecordRefundAttemptFailure':
    case 'SucceedRefund':
    case 'FailRefund':
    case 'ParkRefund':
      return decideRefund(command, state);
    default:
      return assertNever(command, 'payment command');
  }
}

const at = (metadata: CommandMetadata) => metadata.now.toISOString();

const actorId = (metadata: CommandMetadata) => metadata.principal.id;

function requestPayment(command: Commands.RequestPayment, state: PaymentState): PaymentEvent[] {
  const { paymentId, tenantId, instruction } = command.data;
  if (state.status !== 'none') {
    const differing = differingInstructionFields(state.instruction, instruction);
    if (differing.length === 0) return [];
    throw new DomainError('conflict', 'payment_id_conflict', `payment ${paymentId} already exists with other details`, {
      differingFields: differing,
    });
  }
  return [{ type: 'PaymentRequested', data: { paymentId, tenantId, ...instruction, requestedAt: at(command.metadata) } }];
}

function cancel(command: Commands.CancelPayment, state: ExistingPaymentState): PaymentEvent[] {
  if (state.status === 'cancelled') return [];
  if (state.status !== 'requested') {
    throw new DomainError('illegal_state', 'payment_not_cancellable', `a ${state.status} payment can no longer be cancelled`, { paymentStatus: state.status });
  }
  return [{ type: 'PaymentCancelled', data: { reason: command.data.reason, cancelledBy: actorId(command.metadata), cancelledAt: at(command.metadata) } }];
}

/**
 * The intent before each bank call. The key never changes once chosen: a retry
 * with a new key is the one way to pay twice, so it is refused here.
 */
function startBankSubmission(command: Commands.StartBankSubmission, state: ExistingPaymentState): PaymentEvent[] {
  const { idempotencyKey, endToEndId, gatewayId } = command.data;
  if (state.status !== 'requested' && state.status !== 'submitted') {
    throw new DomainError('illegal_state', 'payment_not_submittable', `a ${state.status} payment is not sent to the bank`, { paymentStatus: state.status });
  }
  if (state.bank && (state.bank.idempotencyKey !== idempotencyKey || state.bank.endToEndId !== endToEndId)) {
    throw new DomainError('conflict', 'idempotency_key_changed', 'a payment keeps its idempotency key and reference for life');
  }
  const attempt = (state.bank?.attempts ?? 0) + 1;
  return [{ type: 'BankSubmissionStarted', data: { attempt, idempotencyKey, endToEndId, gatewayId, startedAt: at(command.metadata) } }];
}

function requireSubmitted(state: ExistingPaymentState, action: string) {
  if (state.status !== 'submitted') {
    throw new DomainError('illegal_state', 'payment_not_submitted', `cannot ${action} a ${state.status} payment`, { paymentStatus: state.status });
  }
  return state;
}

function recordAttemptFailure(command: Commands.RecordBankAttemptFailure, state: ExistingPaymentState): PaymentEvent[] {
  const submitted = requireSubmitted(state, 'record a bank attempt of');
  if (command.data.attempt !== submitted.bank.attempts) {
    throw new DomainError('conflict', 'stale_bank_attempt', `attempt ${command.data.attempt} is not the current attempt ${submitted.bank.attempts}`);
  }
  const { attempt, error, errorCode } = command.data;
  return [{ type: 'BankAttemptFailed', data: { attempt, error, errorCode, failedAt: at(command.metadata) } }];
}

/**
 * The bank's answer is a fact: it is recorded while the payment waits for it,
 * and also after the gateway parked the payment as unknown (a late answer to a
 * request still in flight), which saves the operator a reconciliation.
 */
function requireAwaitingOutcome(state: ExistingPaymentState, bankTransferId: string | null, action: string) {
  if (state.status === 'submitted' || state.status === 'unknown') return state;
  const recorded = state.status === 'settled' || state.status === 'rejected' ? state.bankTransferId : null;
  if (bankTransferId !== null && recorded !== null && recorded !== bankTransferId) {
    // Only a bank that forgot the idempotency key makes a second transfer: money moved twice and must be reversed.
    throw new DomainError('conflict', 'conflicting_bank_outcome', `the payment is ${state.status} with bank transfer ${recorded}; the bank reports another, ${bankTransferId}`, {
      paymentStatus: state.status,
      recordedBankTransferId: recorded,
      reportedBankTransferId: bankTransferId,
    });
  }
  return requireSubmitted(state, action);
}

function settle(command: Commands.SettlePayment, state: ExistingPaymentState): PaymentEvent[] {
  if (state.status === 'settled' && state.bankTransferId === command.data.bankTransferId) return [];
  requireAwaitingOutcome(state, command.data.bankTransferId, 'settle');
  return [{ type: 'PaymentSettled', data: { bankTransferId: command.data.bankTransferId, settledAt: at(command.metadata) } }];
}

function reject(command: Commands.RejectPayment, state: ExistingPaymentState): PaymentEvent[] {
  if (state.status === 'rejected' && state.bankTransferId === command.data.bankTransferId) return [];
  requireAwaitingOutcome(state, command.data.bankTransferId, 'reject');
  const { reason, reasonCode, bankTransferId } = command.data;
  return [{ type: 'PaymentRejected', data: { reason, reasonCode, bankTransferId, rejectedAt: at(command.metadata) } }];
}

function park(command: Commands.ParkWithUnknownOutcome, state: ExistingPaymentState): PaymentEvent[] {
  if (state.status === 'unknown') return [];
  const submitted = requireSubmitted(state, 'park');
  return [{ type: 'BankOutcomeUnknown', data: { attempts: submitted.bank.attempts, lastError: command.data.lastError, errorCode: command.data.errorCode, parkedAt: at(command.metadata) } }];
}

function requireOperator(metadata: CommandMetadata): void {
  const { principal } = metadata;
  if (principal.kind !== 'staff' || (principal.role !== 'operator' && principal.role !== 'supervisor')) {
    throw new DomainError('forbidden', 'operator_required', 'only an operator may do this');
  }
}

function requireUnknown(state: ExistingPaymentState, action: string) {
  if (state.status !== 'unknown') {
    throw new DomainError('illegal_state', 'payment_not_parked', `only a payment with an unknown bank outcome can be ${action}; this one is ${state.status}`, {
      paymentStatus: state.status,
    });
  }
  return state;
}

function requestOperatorRetry(command: Commands.RequestOperatorRetry, state: ExistingPaymentState): PaymentEvent[] {
  requireOperator(command.metadata);
  if (state.status === 'submitted' && state.operatorRetryPending) return [];
  const parked = requireUnknown(state, 'retried');
  requireInsideReplayWindow(parked, command);
  const { reason, bankLookup } = command.data;
  return [{ type: 'OperatorRetryRequested', data: { operator: actorId(command.metadata), reason, requestedAt: at(command.metadata), ...(bankLookup ? { bankLookup } : {}) } }];
}

/**
 * Past the window a replay is refused: what the bank did that long ago is
 * settled by reconciliation and compensation, never by sending again.
 * Rationale for the clock: both ends are event clocks (the first intent's
 * time and this command's, which its event records), never a mix with the
 * database's clock.
 */
function requireInsideReplayWindow(state: Extract<ExistingPaymentState, { status: 'unknown' }>, command: Commands.RequestOperatorRetry): void {
  const { replayWindowMs } = command.data;
  const ageMs = command.metadata.now.getTime() - Date.parse(state.bank.firstSubmittedAt);
  if (ageMs > replayWindowMs) {
    throw new DomainError('conflict', 'replay_window_expired', `the first bank submission was ${Math.floor(ageMs / 1000)} s ago, past the replay window of ${Math.floor(replayWindowMs / 1000)} s; recover through a compensation`, {
      firstSubmittedAt: state.bank.firstSubmittedAt,
      replayWindowMs,
    });
  }
}

function resolveManually(command: Commands.ResolveManually, state: ExistingPaymentState): PaymentEvent[] {
  requireOperator(command.metadata);
  const { outcome, bankTransferId, reason, evidence, verification } = command.data;
  if (outcome === 'settled' && !bankTransferId) {
    throw new DomainError('validation', 'bank_transfer_id_required', 'a settled resolution names the bank transfer');
  }
  if (state.status === 'settled' || state.status === 'rejected') {
    if (state.status === outcome && state.resolvedBy !== null && state.bankTransferId === bankTransferId) return [];
  }
  requireUnknown(state, 'resolved');
  return [
    {
      type: 'PaymentResolvedByOperator',
      data: { outcome, bankTransferId, reason, evidence, operator: actorId(command.metadata), resolvedAt: at(command.metadata), ...(verification ? { verification } : {}) },
    },
  ];
}

export type { PaymentInstruction };
