/**
 * The gateway's state machine: from what the payment's stream says about one
 * bank instruction (the payment's transfer, or one of its refunds:
 * instructions.ts) and what this gateway last observed at the bank, the one
 * next step. Pure: the clock,
 * the retry window's start and the next backoff delay come in as input, so
 * every rule below is a unit test away.
 *
 * The recovery rule lives here. An intent (`BankSubmissionStarted`) without an
 * outcome that this worker did not just record itself (a timeout, a crash, a
 * restart, a lease taken over, an operator retry) is always looked up at the
 * bank by its end-to-end id first; only "not found" leads to a new intent and a
 * submission with the same idempotency key. A new key is never chosen here.
 */
import { assertNever } from '../domain/errors';
import type { BankErrorCode } from '../domain/payment';
import type { InstructionState } from './instructions';

/**
 * What the bank said about a transfer, classified by the bank client, which has
 * already checked that the transfer is ours: same amount, currency, creditor
 * and end-to-end id as the instruction.
 */
export type TransferFound =
  | { readonly kind: 'accepted'; readonly bankTransferId: string }
  | { readonly kind: 'rejected'; readonly bankTransferId: string; readonly reason: string; readonly reasonCode: string };

/** The bank could not give an answer this time (timeout, 5xx, dropped connection, open circuit). */
export interface RetryableFailure {
  readonly kind: 'retryable';
  readonly code: 'bank_timeout' | 'bank_unavailable';
  readonly error: string;
}

/** The bank answered something we cannot read: guessing could pay twice, so a human decides. */
export interface UninterpretableAnswer {
  readonly kind: 'uninterpretable';
  readonly error: string;
}

/**
 * The bank answered for a transfer that is not the one we instructed (another
 * amount, currency, creditor or reference). Never an outcome: the payment is
 * parked and an alarm raised, since money may have moved wrongly.
 */
export interface ConflictingAnswer {
  readonly kind: 'conflicting';
  /** Names the differing fields, never their values (no account numbers in events or logs). */
  readonly error: string;
}

export type SubmitAnswer = TransferFound | { readonly kind: 'in-flight' } | RetryableFailure | UninterpretableAnswer | ConflictingAnswer;

export type LookupAnswer = TransferFound | { readonly kind: 'not-found' } | RetryableFailure | UninterpretableAnswer | ConflictingAnswer;

/** What this worker has observed since it claimed the payment. */
export type Observation =
  /** Nothing yet: the stream is all we know. */
  | { readonly kind: 'nothing-yet' }
  /** This worker just appended the intent of `attempt` (with the expected revision) and has not called the bank. */
  | { readonly kind: 'intent-recorded'; readonly attempt: number }
  | { readonly kind: 'looked-up'; readonly answer: LookupAnswer }
  | { readonly kind: 'submitted'; readonly attempt: number; readonly answer: SubmitAnswer }
  /** This worker just appended `BankAttemptFailed`. */
  | { readonly kind: 'failure-recorded'; readonly error: string; readonly code: BankErrorCode };

export interface StateMachinePolicy {
  /** How long the gateway keeps trying before it parks the payment as unknown. */
  readonly retryWindowMs: number;
  /** How long to wait after the bank says the first request is still in flight. */
  readonly inFlightWaitMs: number;
}

export interface StepInput {
  readonly instruction: InstructionState;
  readonly observation: Observation;
  readonly now: Date;
  /** When the current retry window began (first claim, or the operator's retry). */
  readonly windowStartedAt: Date;
  /** The next backoff delay (exponential with jitter), computed by the caller. */
  readonly retryDelayMs: number;
  readonly policy: StateMachinePolicy;
}

export type Step =
  | { readonly kind: 'record-intent' }
  | { readonly kind: 'look-up'; readonly endToEndId: string }
  | { readonly kind: 'submit'; readonly attempt: number; readonly idempotencyKey: string }
  | { readonly kind: 'settle'; readonly bankTransferId: string }
  | { readonly kind: 'reject'; readonly bankTransferId: string; readonly reason: string; readonly reasonCode: string }
  | { readonly kind: 'record-attempt-failure'; readonly attempt: number; readonly error: string; readonly code: BankErrorCode }
  | { readonly kind: 'park'; readonly lastError: string; readonly code: BankErrorCode }
  | { readonly kind: 'wait'; readonly until: Date; readonly reason: string }
  /** The payment is final: nothing is left for the bank. */
  | { readonly kind: 'complete' }
  /** The payment is unknown: it is the operator's turn. */
  | { readonly kind: 'leave-parked' };

type Submitted = Extract<InstructionState, { phase: 'submitted' }>;

export function nextStep(input: StepInput): Step {
  const { instruction, observation } = input;
  switch (instruction.phase) {
    case 'final':
      return { kind: 'complete' };
    case 'parked':
      return { kind: 'leave-parked' };
    case 'pending':
      if (observation.kind !== 'nothing-yet') {
        throw new Error(`an instruction not yet at the bank cannot have a bank observation (${observation.kind})`);
      }
      return { kind: 'record-intent' };
    case 'submitted':
      return fromSubmitted(instruction, input);
    default:
      return assertNever(instruction, 'instruction state');
  }
}

function fromSubmitted(payment: Submitted, input: StepInput): Step {
  const { observation } = input;
  switch (observation.kind) {
    case 'nothing-yet':
      return { kind: 'look-up', endToEndId: payment.bank.endToEndId };
    case 'intent-recorded':
      if (observation.attempt !== payment.bank.attempts) {
        throw new Error(`recorded intent ${observation.attempt} is not the current attempt ${payment.bank.attempts}`);
      }
      return { kind: 'submit', attempt: observation.attempt, idempotencyKey: payment.bank.idempotencyKey };
    case 'looked-up':
      return afterLookup(observation.answer, input);
    case 'submitted':
      return afterSubmit(observation.attempt, observation.answer, input);
    case 'failure-recorded':
      return retryOrPark(`bank call failed: ${observation.error}`, observation.code, input);
    default:
      return assertNever(observation, 'observation');
  }
}

function afterLookup(answer: LookupAnswer, input: StepInput): Step {
  switch (answer.kind) {
    case 'accepted':
    case 'rejected':
      return outcome(answer);
    case 'not-found':
      // Rationale: "not found" is the one answer that allows a new intent, and
      // only inside the window; past it a human looks before money moves again.
      if (windowExhausted(input)) {
        return { kind: 'park', lastError: `not found at the bank after the retry window; last error: ${lastErrorOf(input)}`, code: 'bank_transfer_not_found' };
      }
      return { kind: 'record-intent' };
    case 'retryable':
      return retryOrPark(`lookup failed: ${answer.error}`, answer.code, input);
    case 'uninterpretable':
      return { kind: 'park', lastError: `lookup answer not understood: ${answer.error}`, code: 'bank_answer_unreadable' };
    case 'conflicting':
      return { kind: 'park', lastError: `lookup answer contradicts the instruction: ${answer.error}`, code: 'bank_answer_conflicting' };
    default:
      return assertNever(answer, 'lookup answer');
  }
}

function afterSubmit(attempt: number, answer: SubmitAnswer, input: StepInput): Step {
  switch (answer.kind) {
    case 'accepted':
    case 'rejected':
      return outcome(answer);
    case 'in-flight':
      if (windowExhausted(input)) return { kind: 'park', lastError: 'the bank still reports the first request in flight after the retry window', code: 'bank_still_processing' };
      // The earlier request is still being executed: never a new request now,
      // look it up again after a pause.
      return { kind: 'wait', until: new Date(input.now.getTime() + input.policy.inFlightWaitMs), reason: 'the bank is still executing an earlier request with this key' };
    case 'retryable':
      return { kind: 'record-attempt-failure', attempt, error: answer.error, code: answer.code };
    case 'uninterpretable':
      return { kind: 'park', lastError: `submission answer not understood: ${answer.error}`, code: 'bank_answer_unreadable' };
    case 'conflicting':
      return { kind: 'park', lastError: `submission answer contradicts the instruction: ${answer.error}`, code: 'bank_answer_conflicting' };
    default:
      return assertNever(answer, 'submit answer');
  }
}

function outcome(found: TransferFound): Step {
  if (found.kind === 'accepted') return { kind: 'settle', bankTransferId: found.bankTransferId };
  return { kind: 'reject', bankTransferId: found.bankTransferId, reason: found.reason, reasonCode: found.reasonCode };
}

function retryOrPark(error: string, code: BankErrorCode, input: StepInput): Step {
  if (windowExhausted(input)) return { kind: 'park', lastError: `retry window exhausted; ${error}`, code };
  return { kind: 'wait', until: new Date(input.now.getTime() + input.retryDelayMs), reason: error };
}

function windowExhausted(input: StepInput): boolean {
  return input.now.getTime() - input.windowStartedAt.getTime() >= input.policy.retryWindowMs;
}

function lastErrorOf(input: StepInput): string {
  return input.instruction.phase === 'submitted' ? (input.instruction.bank.lastError ?? 'none') : 'none';
}
