import { assertNever } from '../errors';
import type { PaymentEvent } from './events';
import { evolveRefund } from './refunds';
import { initialState, type ExistingPaymentState, type PaymentState } from './state';

/**
 * Folds one event into the state. Events are facts already recorded, so evolve
 * never refuses one; an event that cannot follow the state is a programmer error
 * (the decider would never have produced it) and throws.
 */
export function evolve(state: PaymentState, event: PaymentEvent): PaymentState {
  if (event.type === 'PaymentRequested') {
    const { paymentId, tenantId, requestedAt, amountMinor, currency, debtor, creditor, reference, metadata } = event.data;
    return {
      status: 'requested',
      paymentId,
      tenantId,
      instruction: { amountMinor, currency, debtor, creditor, reference, metadata },
      createdAt: requestedAt,
      updatedAt: requestedAt,
      bank: null,
    };
  }
  if (state.status === 'none') throw new Error(`${event.type} before PaymentRequested`);
  return evolveExisting(state, event);
}

function evolveExisting(state: ExistingPaymentState, event: Exclude<PaymentEvent, { type: 'PaymentRequested' }>): PaymentState {
  const { status: _status, ...common } = state;
  const base = {
    paymentId: common.paymentId,
    tenantId: common.tenantId,
    instruction: common.instruction,
    createdAt: common.createdAt,
    bank: common.bank,
  };
  switch (event.type) {
    case 'PaymentCancelled':
      return { ...base, status: 'cancelled', reason: event.data.reason, updatedAt: event.data.cancelledAt };
    case 'BankSubmissionStarted': {
      const { attempt, idempotencyKey, endToEndId, startedAt } = event.data;
      return {
        ...base,
        status: 'submitted',
        bank: { attempts: attempt, idempotencyKey, endToEndId, lastError: state.bank?.lastError ?? null, lastErrorCode: state.bank?.lastErrorCode ?? null, firstSubmittedAt: state.bank?.firstSubmittedAt ?? startedAt },
        operatorRetryPending: false,
        updatedAt: startedAt,
      };
    }
    case 'BankAttemptFailed':
      return { ...base, status: 'submitted', bank: { ...requireBank(state), lastError: event.data.error, lastErrorCode: event.data.errorCode ?? 'bank_error' }, operatorRetryPending: false, updatedAt: event.data.failedAt };
    case 'PaymentSettled':
      return { ...base, status: 'settled', bankTransferId: event.data.bankTransferId, resolvedBy: null, refunds: [], updatedAt: event.data.settledAt };
    case 'PaymentRejected':
      return { ...base, status: 'rejected', reason: event.data.reason, reasonCode: event.data.reasonCode ?? 'NARR', bankTransferId: event.data.bankTransferId, resolvedBy: null, updatedAt: event.data.rejectedAt };
    case 'BankOutcomeUnknown':
      return { ...base, status: 'unknown', bank: { ...requireBank(state), lastError: event.data.lastError, lastErrorCode: event.data.errorCode ?? 'bank_error' }, updatedAt: event.data.parkedAt };
    case 'OperatorRetryRequested':
      return { ...base, status: 'submitted', bank: requireBank(state), operatorRetryPending: true, updatedAt: event.data.requestedAt };
    case 'PaymentResolvedByOperator': {
      const { outcome, bankTransferId, reason, operator, resolvedAt } = event.data;
      if (outcome === 'settled') {
        return { ...base, status: 'settled', bankTransferId: bankTransferId ?? '', resolvedBy: operator, refunds: [], updatedAt: resolvedAt };
      }
      return { ...base, status: 'rejected', reason, reasonCode: null, bankTransferId, resolvedBy: operator, updatedAt: resolvedAt };
    }
    case 'RefundRequested':
    case 'RefundSubmissionStarted':
    case 'RefundAttemptFailed':
    case 'RefundSucceeded':
    case 'RefundFailed':
    case 'RefundOutcomeUnknown':
      return evolveRefund(state, event);
    default:
      return assertNever(event, 'payment event');
  }
}

function requireBank(state: ExistingPaymentState) {
  if (state.bank === null) throw new Error(`payment ${state.paymentId} has no bank submission`);
  return state.bank;
}

export function foldPayment(events: readonly PaymentEvent[]): PaymentState {
  return events.reduce(evolve, initialState);
}
