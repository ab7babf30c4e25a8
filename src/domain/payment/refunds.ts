/**
 * Refunds: money sent back to the debtor of a settled payment, each asked for
 * by the client under its own id. They are decided and folded on the payment's
 * state, because the one rule that matters, never refunding more than was
 * paid, is a sum over all of them: checked on the state read, appended with
 * that state's revision, it holds however many refunds race.
 */
import { DomainError, assertNever } from '../errors';
import type { RefundId } from '../ids';
import { formatAmount, parseMoney } from '../money';
import type { CommandMetadata } from '../principal';
import type * as Commands from './commands';
import type { RefundCommand } from './commands';
import type { PaymentEvent, RefundEvent } from './events';
import type { BankProgress, ExistingPaymentState, RefundInstruction, RefundState } from './state';

/**
 * Refunds one payment may have. Rationale: every refund lives in the payment's
 * state, which is folded on every command, so the count is bounded like
 * everything else; a client needing more is doing something else than refunds.
 */
export const REFUNDS_PER_PAYMENT_MAX = 100;

type Settled = Extract<ExistingPaymentState, { status: 'settled' }>;

export interface RefundTotals {
  /** Refunds the bank executed. */
  readonly refundedMinor: number;
  /** Refunds not failed (requested, submitted, unknown, succeeded): the money no longer refundable. */
  readonly reservedMinor: number;
  /** What a new refund may still take; 0 for a payment that is not settled. */
  readonly refundableMinor: number;
}

export function refundTotals(state: ExistingPaymentState): RefundTotals {
  if (state.status !== 'settled') return { refundedMinor: 0, reservedMinor: 0, refundableMinor: 0 };
  let refundedMinor = 0;
  let reservedMinor = 0;
  for (const refund of state.refunds) {
    if (refund.status === 'succeeded') refundedMinor += refund.instruction.amountMinor;
    // Rationale: an unknown refund may have moved money, so it keeps its amount reserved until an operator says otherwise.
    if (refund.status !== 'failed') reservedMinor += refund.instruction.amountMinor;
  }
  return { refundedMinor, reservedMinor, refundableMinor: state.instruction.amountMinor - reservedMinor };
}

export function findRefund(state: ExistingPaymentState, refundId: string): RefundState | undefined {
  return state.status === 'settled' ? state.refunds.find((refund) => refund.refundId === refundId) : undefined;
}

const at = (metadata: CommandMetadata) => metadata.now.toISOString();

export function decideRefund(command: RefundCommand, state: ExistingPaymentState): PaymentEvent[] {
  switch (command.type) {
    case 'RequestRefund':
      return requestRefund(command, state);
    case 'StartRefundSubmission':
      return startRefundSubmission(command, state);
    case 'RecordRefundAttemptFailure':
      return recordRefundAttemptFailure(command, state);
    case 'SucceedRefund':
      return succeedRefund(command, state);
    case 'FailRefund':
      return failRefund(command, state);
    case 'ParkRefund':
      return parkRefund(command, state);
    default:
      return assertNever(command, 'refund command');
  }
}

/** Parses the wire amount in the payment's currency; every problem is listed, as for any bad input. */
function refundInstructionOf(command: Commands.RequestRefund, state: ExistingPaymentState): RefundInstruction {
  const { amount, currency, reason, metadata, amountMajorMax } = command.data;
  const paymentCurrency = state.instruction.currency;
  const errors: Array<{ pointer: string; detail: string }> = [];
  if (currency !== null && currency !== paymentCurrency) errors.push({ pointer: '/currency', detail: `must be the payment's currency, ${paymentCurrency}` });
  const parsed = parseMoney(amount, paymentCurrency, amountMajorMax);
  if (!parsed.ok) errors.push({ pointer: '/amount', detail: parsed.problem.message });
  if (!parsed.ok || errors.length > 0) {
    throw new DomainError('validation', 'validation_failed', `${errors.length} problem(s) with the refund`, { errors });
  }
  return { amountMinor: parsed.money.amountMinor, currency: paymentCurrency, reason, metadata };
}

export function differingRefundFields(stored: RefundInstruction, requested: RefundInstruction): string[] {
  const differing: string[] = [];
  if (stored.amountMinor !== requested.amountMinor) differing.push('amount');
  if (stored.reason !== requested.reason) differing.push('reason');
  const storedKeys = Object.keys(stored.metadata);
  const sameMetadata =
    storedKeys.length === Object.keys(requested.metadata).length &&
    storedKeys.every((key) => Object.prototype.hasOwnProperty.call(requested.metadata, key) && stored.metadata[key] === requested.metadata[key]);
  if (!sameMetadata) differing.push('metadata');
  return differing;
}

function requestRefund(command: Commands.RequestRefund, state: ExistingPaymentState): PaymentEvent[] {
  const { refundId } = command.data;
  const existing = findRefund(state, refundId);
  const instruction = refundInstructionOf(command, state);
  if (existing) {
    const differing = differingRefundFields(existing.instruction, instruction);
    if (differing.length === 0) return [];
    throw new DomainError('conflict', 'refund_id_conflict', `refund ${refundId} already exists with other details`, { differingFields: differing });
  }
  if (state.status !== 'settled') {
    throw new DomainError('illegal_state', 'payment_not_refundable', `a ${state.status} payment cannot be refunded; only a settled one can`, { paymentStatus: state.status });
  }
  if (state.refunds.length >= REFUNDS_PER_PAYMENT_MAX) {
    throw new DomainError('conflict', 'refund_limit_reached', `a payment takes at most ${REFUNDS_PER_PAYMENT_MAX} refunds`, { refundCountMax: REFUNDS_PER_PAYMENT_MAX });
  }
  const { refundableMinor } = refundTotals(state);
  if (instruction.amountMinor > refundableMinor) {
    const refundableAmount = formatAmount({ amountMinor: refundableMinor, currency: state.instruction.currency });
    throw new DomainError('conflict', 'refund_exceeds_payment', `at most ${refundableAmount} ${state.instruction.currency} of this payment can still be refunded`, {
      refundableAmount,
      currency: state.instruction.currency,
    });
  }
  return [{ type: 'RefundRequested', data: { refundId, ...instruction, requestedBy: command.metadata.principal.id, requestedAt: at(command.metadata) } }];
}

function requireRefund(state: ExistingPaymentState, refundId: RefundId): RefundState {
  const refund = findRefund(state, refundId);
  if (!refund) throw new DomainError('not_found', 'refund_not_found', `no refund ${refundId} on this payment`);
  return refund;
}

/** The key and reference never change once chosen: a new key is the one way to refund twice. */
function startRefundSubmission(command: Commands.StartRefundSubmission, state: ExistingPaymentState): PaymentEvent[] {
  const { refundId, idempotencyKey, endToEndId, gatewayId } = command.data;
  const refund = requireRefund(state, refundId);
  if (refund.status !== 'requested' && refund.status !== 'submitted') {
    throw new DomainError('illegal_state', 'refund_not_submittable', `a ${refund.status} refund is not sent to the bank`, { refundStatus: refund.status });
  }
  if (refund.bank && (refund.bank.idempotencyKey !== idempotencyKey || refund.bank.endToEndId !== endToEndId)) {
    throw new DomainError('conflict', 'idempotency_key_changed', 'a refund keeps its idempotency key and reference for life');
  }
  const attempt = (refund.bank?.attempts ?? 0) + 1;
  return [{ type: 'RefundSubmissionStarted', data: { refundId, attempt, idempotencyKey, endToEndId, gatewayId, startedAt: at(command.metadata) } }];
}

function requireSubmittedRefund(refund: RefundState, action: string): Extract<RefundState, { status: 'submitted' }> {
  if (refund.status !== 'submitted') {
    throw new DomainError('illegal_state', 'refund_not_submitted', `cannot ${action} a ${refund.status} refund`, { refundStatus: refund.status });
  }
  return refund;
}

function recordRefundAttemptFailure(command: Commands.RecordRefundAttemptFailure, state: ExistingPaymentState): PaymentEvent[] {
  const { refundId, attempt, error, errorCode } = command.data;
  const submitted = requireSubmittedRefund(requireRefund(state, refundId), 'record a bank attempt of');
  if (attempt !== submitted.bank.attempts) {
    throw new DomainError('conflict', 'stale_bank_attempt', `attempt ${attempt} is not the current attempt ${submitted.bank.attempts}`);
  }
  return [{ type: 'RefundAttemptFailed', data: { refundId, attempt, error, errorCode, failedAt: at(command.metadata) } }];
}

/**
 * The bank's answer is a fact: recorded while the refund waits for it, and
 * also after it was parked (a late answer). A second, different bank refund
 * for a final one is refused loudly: money moved twice.
 */
function requireAwaitingRefundOutcome(refund: RefundState, bankRefundId: string | null, action: string): void {
  if (refund.status === 'submitted' || refund.status === 'unknown') return;
  const recorded = refund.status === 'succeeded' || refund.status === 'failed' ? refund.bankRefundId : null;
  if (bankRefundId !== null && recorded !== null && recorded !== bankRefundId) {
    throw new DomainError('conflict', 'conflicting_bank_outcome', `the refund is ${refund.status} with bank refund ${recorded}; the bank reports another, ${bankRefundId}`, {
      refundStatus: refund.status,
      recordedBankRefundId: recorded,
      reportedBankRefundId: bankRefundId,
    });
  }
  requireSubmittedRefund(refund, action);
}

function succeedRefund(command: Commands.SucceedRefund, state: ExistingPaymentState): PaymentEvent[] {
  const { refundId, bankRefundId } = command.data;
  const refund = requireRefund(state, refundId);
  if (refund.status === 'succeeded' && refund.bankRefundId === bankRefundId) return [];
  requireAwaitingRefundOutcome(refund, bankRefundId, 'record the success of');
  const { amountMinor, currency } = refund.instruction;
  return [{ type: 'RefundSucceeded', data: { refundId, bankRefundId, amountMinor, currency, succeededAt: at(command.metadata) } }];
}

function failRefund(command: Commands.FailRefund, state: ExistingPaymentState): PaymentEvent[] {
  const { refundId, reason, reasonCode, bankRefundId } = command.data;
  const refund = requireRefund(state, refundId);
  if (refund.status === 'failed' && refund.bankRefundId === bankRefundId) return [];
  requireAwaitingRefundOutcome(refund, bankRefundId, 'record the failure of');
  return [{ type: 'RefundFailed', data: { refundId, reason, reasonCode, bankRefundId, failedAt: at(command.metadata) } }];
}

function parkRefund(command: Commands.ParkRefund, state: ExistingPaymentState): PaymentEvent[] {
  const { refundId, lastError, errorCode } = command.data;
  const refund = requireRefund(state, refundId);
  if (refund.status === 'unknown') return [];
  const submitted = requireSubmittedRefund(refund, 'park');
  return [{ type: 'RefundOutcomeUnknown', data: { refundId, attempts: submitted.bank.attempts, lastError, errorCode, parkedAt: at(command.metadata) } }];
}

/** Folds a refund event into a settled payment; anything else is a programmer error (decide never allows it). */
export function evolveRefund(state: ExistingPaymentState, event: RefundEvent): Settled {
  if (state.status !== 'settled') throw new Error(`${event.type} on a ${state.status} payment`);
  if (event.type === 'RefundRequested') {
    const { refundId, amountMinor, currency, reason, metadata, requestedBy, requestedAt } = event.data;
    const refund: RefundState = { status: 'requested', refundId, instruction: { amountMinor, currency, reason, metadata }, requestedBy, createdAt: requestedAt, updatedAt: requestedAt, bank: null };
    return { ...state, refunds: [...state.refunds, refund], updatedAt: requestedAt };
  }
  const index = state.refunds.findIndex((refund) => refund.refundId === event.data.refundId);
  const refund = state.refunds[index];
  if (!refund) throw new Error(`${event.type} for unknown refund ${event.data.refundId}`);
  const next = nextRefund(refund, event);
  const refunds = state.refunds.slice();
  refunds[index] = next;
  return { ...state, refunds, updatedAt: next.updatedAt };
}

function nextRefund(refund: RefundState, event: Exclude<RefundEvent, { type: 'RefundRequested' }>): RefundState {
  const common = { refundId: refund.refundId, instruction: refund.instruction, requestedBy: refund.requestedBy, createdAt: refund.createdAt, bank: refund.bank };
  switch (event.type) {
    case 'RefundSubmissionStarted': {
      const { attempt, idempotencyKey, endToEndId, startedAt } = event.data;
      const bank: BankProgress = {
        attempts: attempt,
        idempotencyKey,
        endToEndId,
        lastError: refund.bank?.lastError ?? null,
        lastErrorCode: refund.bank?.lastErrorCode ?? null,
        firstSubmittedAt: refund.bank?.firstSubmittedAt ?? startedAt,
      };
      return { ...common, status: 'submitted', bank, updatedAt: startedAt };
    }
    case 'RefundAttemptFailed':
      return { ...common, status: 'submitted', bank: { ...requireRefundBank(refund), lastError: event.data.error, lastErrorCode: event.data.errorCode }, updatedAt: event.data.failedAt };
    case 'RefundSucceeded':
      return { ...common, status: 'succeeded', bankRefundId: event.data.bankRefundId, updatedAt: event.data.succeededAt };
    case 'RefundFailed':
      return { ...common, status: 'failed', reason: event.data.reason, reasonCode: event.data.reasonCode, bankRefundId: event.data.bankRefundId, updatedAt: event.data.failedAt };
    case 'RefundOutcomeUnknown':
      return { ...common, status: 'unknown', bank: { ...requireRefundBank(refund), lastError: event.data.lastError, lastErrorCode: event.data.errorCode }, updatedAt: event.data.parkedAt };
    default:
      return assertNever(event, 'refund event');
  }
}

function requireRefundBank(refund: RefundState): BankProgress {
  if (refund.bank === null) throw new Error(`refund ${refund.refundId} has no bank submission`);
  return refund.bank;
}
