/**
 * Works one claimed bank instruction (a payment's transfer or one of its
 * refunds): asks the state machine for the next step, does it
 * (an append through the payments module, or one bank call), feeds what it saw
 * back in, until the step is to wait, complete or leave the payment parked.
 *
 * Nothing here holds a database transaction: each append is the command
 * handler's own short read-decide-append, each queue write one statement. The
 * bank call happens between them with no connection checked out for it.
 */
import { randomUUID } from 'node:crypto';
import { ExponentialBackoff } from 'cockatiel';
import { PreconditionFailedError } from '../application/errors';
import type { PaymentsModule } from '../application/payments';
import { DomainError, assertNever } from '../domain/errors';
import type { RefundId } from '../domain/ids';
import { findRefund, type BankErrorCode, type ExistingPaymentState, type PaymentCommand, type RefundState } from '../domain/payment';
import type { TransferReservations } from '../application/transfer-reservations';
import type { CommandMetadata } from '../domain/principal';
import type { Logger } from '../logging';
import type { BankClient, LookupAnswer, RefundRequest, SubmitAnswer, TransferRequest } from './bank-client';
import type { CrashPoints } from './crash-points';
import { instructionState, parseInstructionKey, type InstructionRef, type InstructionState } from './instructions';
import { bankReferencesFor, refundReferencesFor } from './keys';
import { nextStep, type Observation, type StateMachinePolicy, type Step } from './state-machine';
import type { Claim, WorkQueue } from './work-queue';

/** Steps one claim may take before it gives the row back; a normal payment needs four. */
export const STEPS_PER_CLAIM_MAX = 12;

/** Longest error text recorded in an event (it may quote the bank); staff read it, clients see only the code. */
export const LAST_ERROR_CHARS_MAX = 500;

export interface ClaimWorkerDeps {
  readonly payments: PaymentsModule;
  /** Settlements reserve their bank transfer too, so no operator can settle another payment on it. */
  readonly reservations: TransferReservations;
  readonly workQueue: WorkQueue;
  readonly bank: BankClient;
  readonly crashPoints: CrashPoints;
  readonly logger: Logger;
  readonly now: () => Date;
  readonly gatewayId: string;
  readonly leaseMs: number;
  readonly policy: StateMachinePolicy;
  readonly backoff: { readonly baseMs: number; readonly maxMs: number };
  readonly isStopping: () => boolean;
}

interface Current {
  readonly state: ExistingPaymentState;
  readonly revision: number;
}

/** The lease was lost (expired and maybe taken over): stop touching this payment. */
class LeaseLostError extends Error {}

/**
 * What differs between a payment's transfer and a refund: which commands
 * record the protocol's facts, and which bank calls execute and find it. The
 * protocol itself (the state machine and the one switch below) is the same.
 */
interface Instruction {
  readonly ref: InstructionRef;
  view(state: ExistingPaymentState): InstructionState | undefined;
  /** The instruction's own status, for its work-queue row. */
  rowStatus(state: ExistingPaymentState): string;
  lastError(state: ExistingPaymentState): string | null;
  intent(gatewayId: string, metadata: CommandMetadata): PaymentCommand;
  attemptFailed(attempt: number, error: string, code: BankErrorCode, metadata: CommandMetadata): PaymentCommand;
  executed(bankId: string, metadata: CommandMetadata): PaymentCommand;
  refused(bankId: string, reason: string, reasonCode: string, metadata: CommandMetadata): PaymentCommand;
  park(lastError: string, code: BankErrorCode, metadata: CommandMetadata): PaymentCommand;
  submit(bank: BankClient, state: ExistingPaymentState, idempotencyKey: string): Promise<SubmitAnswer>;
  lookUp(bank: BankClient, state: ExistingPaymentState): Promise<LookupAnswer>;
}

function transferInstruction(claim: Claim): Instruction {
  const { tenantId, paymentId } = claim.item;
  return {
    ref: { kind: 'transfer' },
    view: (state) => instructionState(state, { kind: 'transfer' }),
    rowStatus: (state) => state.status,
    lastError: (state) => state.bank?.lastError ?? null,
    intent: (gatewayId, metadata) => ({ type: 'StartBankSubmission', data: { ...bankReferencesFor(tenantId, paymentId), gatewayId }, metadata }),
    attemptFailed: (attempt, error, errorCode, metadata) => ({ type: 'RecordBankAttemptFailure', data: { attempt, error, errorCode }, metadata }),
    executed: (bankTransferId, metadata) => ({ type: 'SettlePayment', data: { bankTransferId }, metadata }),
    refused: (bankTransferId, reason, reasonCode, metadata) => ({ type: 'RejectPayment', data: { reason, reasonCode, bankTransferId }, metadata }),
    park: (lastError, errorCode, metadata) => ({ type: 'ParkWithUnknownOutcome', data: { lastError, errorCode }, metadata }),
    submit: (bank, state, key) => bank.submitTransfer(transferRequestOf(state), key),
    lookUp: (bank, state) => bank.findTransfer(transferRequestOf(state)),
  };
}

function refundInstruction(claim: Claim, refundId: RefundId): Instruction {
  const { tenantId, paymentId } = claim.item;
  const ref: InstructionRef = { kind: 'refund', refundId };
  const refundOf = (state: ExistingPaymentState) => {
    const refund = findRefund(state, refundId);
    if (!refund) throw new Error(`payment ${tenantId}/${paymentId} has no refund ${refundId}`);
    return refund;
  };
  return {
    ref,
    view: (state) => instructionState(state, ref),
    rowStatus: (state) => refundOf(state).status,
    lastError: (state) => refundOf(state).bank?.lastError ?? null,
    intent: (gatewayId, metadata) => ({ type: 'StartRefundSubmission', data: { refundId, ...refundReferencesFor(tenantId, paymentId, refundId), gatewayId }, metadata }),
    attemptFailed: (attempt, error, errorCode, metadata) => ({ type: 'RecordRefundAttemptFailure', data: { refundId, attempt, error, errorCode }, metadata }),
    executed: (bankRefundId, metadata) => ({ type: 'SucceedRefund', data: { refundId, bankRefundId }, metadata }),
    refused: (bankRefundId, reason, reasonCode, metadata) => ({ type: 'FailRefund', data: { refundId, reason, reasonCode, bankRefundId }, metadata }),
    park: (lastError, errorCode, metadata) => ({ type: 'ParkRefund', data: { refundId, lastError, errorCode }, metadata }),
    submit: (bank, state, key) => bank.submitRefund(refundRequestOf(state, refundOf(state)), key),
    lookUp: (bank, state) => bank.findRefund(refundRequestOf(state, refundOf(state))),
  };
}

function instructionOf(claim: Claim): Instruction {
  const ref = parseInstructionKey(claim.item.instruction);
  return ref.kind === 'transfer' ? transferInstruction(claim) : refundInstruction(claim, ref.refundId);
}

/** What one step led to: the claim is over, or the next state and observation. */
type StepResult = { readonly kind: 'over' } | { readonly kind: 'next'; readonly current: Current; readonly observation: Observation };

export function createClaimWorker(deps: ClaimWorkerDeps) {
  const { payments, workQueue, bank, logger } = deps;

  function metadata(claim: Claim): CommandMetadata {
    return {
      now: deps.now(),
      principal: { kind: 'system', id: `gateway:${deps.gatewayId}` },
      requestId: randomUUID(),
      correlationId: `bank:${claim.item.tenantId}:${claim.item.paymentId}:${claim.item.instruction}`,
      causationId: claim.token,
    };
  }

  const where = (claim: Claim) => ({ tenantId: claim.item.tenantId, paymentId: claim.item.paymentId, instruction: claim.item.instruction });

  /** The one read of the payment's stream per claim (and once more after a lost race). */
  async function load(claim: Claim): Promise<Current> {
    const found = await payments.getPayment(claim.item.tenantId, claim.item.paymentId);
    if (!found) throw new Error(`work row for a payment that does not exist: ${claim.item.tenantId}/${claim.item.paymentId}`);
    return { state: found.state, revision: found.revision };
  }

  /** Decided on the state this worker holds, appended with its revision: the intent and the park lose cleanly to anyone who wrote first. */
  async function appendOn(claim: Claim, current: Current, command: PaymentCommand): Promise<Current> {
    const result = await payments.executeOn(claim.item.tenantId, claim.item.paymentId, command, current);
    return { state: result.state, revision: result.revision };
  }

  /**
   * A bank fact (an outcome, a failed attempt) is recorded whatever else
   * changed meanwhile: on a lost race the command is decided again on a fresh
   * read (bounded), rather than asking the bank again. Rationale: other
   * instructions of the same payment (its refunds) append to the same stream.
   */
  async function appendFact(claim: Claim, current: Current, command: PaymentCommand): Promise<Current> {
    try {
      return await appendOn(claim, current, command);
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
      const result = await payments.execute(claim.item.tenantId, claim.item.paymentId, command);
      return { state: result.state, revision: result.revision };
    }
  }

  /** Renewed right before each bank call, so a gateway paused past its lease finds out before it calls. */
  async function ensureLease(claim: Claim): Promise<void> {
    if (!(await workQueue.renew(claim, deps.leaseMs))) throw new LeaseLostError('lease lost before the bank call');
  }

  /**
   * Before a payment's transfer is recorded as executed, the transfer is
   * reserved for this payment (no_stream). The bank matched the transfer to
   * this payment's instruction, so its answer is recorded even when another
   * payment holds the transfer: that one was settled on it by people (approved
   * while the bank could not tell), and it is the one to put right, hence the alarm.
   */
  async function reserveSettledTransfer(claim: Claim, bankTransferId: string, meta: CommandMetadata): Promise<void> {
    const reserved = await deps.reservations.reserve(bankTransferId, { tenantId: claim.item.tenantId, paymentId: claim.item.paymentId }, meta);
    if (reserved.kind === 'reserved') return;
    logger.error(
      { ...where(claim), bankTransferId, heldBy: { tenantId: reserved.tenantId, paymentId: reserved.paymentId }, alarm: 'bank_transfer_reserved_by_another_payment' },
      'ALARM: the bank settled this payment on a transfer an operator resolution had reserved for another payment; reconcile that payment',
    );
  }

  function outcome(claim: Claim, instruction: Instruction, after: Current): StepResult {
    deps.crashPoints.reach('after-outcome-before-checkpoint');
    logger.info({ ...where(claim), status: instruction.rowStatus(after.state) }, 'bank outcome recorded');
    return { kind: 'next', current: after, observation: NOTHING };
  }

  function logPark(claim: Claim, step: Extract<Step, { kind: 'park' }>, lastError: string): void {
    const fields = { ...where(claim), errorCode: step.code, lastError };
    // A bank answering for another transfer may have moved money wrongly: an alarm, not a routine warning.
    if (step.code === 'bank_answer_conflicting') logger.error({ ...fields, alarm: 'bank_answer_conflicting' }, 'ALARM: the bank answered with an instruction that contradicts ours; parked, never recorded as an outcome');
    else logger.warn(fields, 'instruction parked: bank outcome unknown');
  }

  /** The one switch over the steps, exhaustive: a new step is a compile error here until it is handled. */
  async function doStep(claim: Claim, instruction: Instruction, current: Current, step: Step): Promise<StepResult> {
    const meta = () => metadata(claim);
    switch (step.kind) {
      case 'complete':
        await workQueue.settle(claim, 'done', instruction.rowStatus(current.state), current.revision);
        return { kind: 'over' };
      case 'leave-parked':
        await workQueue.settle(claim, 'parked', instruction.rowStatus(current.state), current.revision, instruction.lastError(current.state));
        return { kind: 'over' };
      case 'wait':
        await workQueue.release(claim, step.until.getTime() - deps.now().getTime(), step.reason);
        return { kind: 'over' };
      case 'look-up': {
        await ensureLease(claim);
        return { kind: 'next', current, observation: { kind: 'looked-up', answer: await instruction.lookUp(bank, current.state) } };
      }
      case 'submit': {
        await ensureLease(claim);
        deps.crashPoints.reach('before-bank-call');
        const answer = await instruction.submit(bank, current.state, step.idempotencyKey);
        deps.crashPoints.reach('after-bank-call-before-outcome');
        logger.info({ ...where(claim), attempt: step.attempt, answer: answer.kind }, 'bank answered the submission');
        return { kind: 'next', current, observation: { kind: 'submitted', attempt: step.attempt, answer } };
      }
      case 'record-intent': {
        // The expected revision is what makes a concurrent cancel or a second gateway lose cleanly.
        const after = await appendOn(claim, current, instruction.intent(deps.gatewayId, meta()));
        const view = instruction.view(after.state);
        const attempt = view?.phase === 'submitted' ? view.bank.attempts : 0;
        return { kind: 'next', current: after, observation: { kind: 'intent-recorded', attempt } };
      }
      case 'settle':
        if (instruction.ref.kind === 'transfer') await reserveSettledTransfer(claim, step.bankTransferId, meta());
        return outcome(claim, instruction, await appendFact(claim, current, instruction.executed(step.bankTransferId, meta())));
      case 'reject':
        return outcome(claim, instruction, await appendFact(claim, current, instruction.refused(step.bankTransferId, step.reason, step.reasonCode, meta())));
      case 'record-attempt-failure': {
        const error = step.error.slice(0, LAST_ERROR_CHARS_MAX);
        const after = await appendFact(claim, current, instruction.attemptFailed(step.attempt, error, step.code, meta()));
        return { kind: 'next', current: after, observation: { kind: 'failure-recorded', error, code: step.code } };
      }
      case 'park': {
        const lastError = step.lastError.slice(0, LAST_ERROR_CHARS_MAX);
        logPark(claim, step, lastError);
        return { kind: 'next', current: await appendOn(claim, current, instruction.park(lastError, step.code, meta())), observation: NOTHING };
      }
      default:
        return assertNever(step, 'gateway step');
    }
  }

  async function runSteps(claim: Claim): Promise<void> {
    const instruction = instructionOf(claim);
    let current = await load(claim);
    let observation: Observation = NOTHING;
    for (let stepCount = 0; stepCount < STEPS_PER_CLAIM_MAX; stepCount += 1) {
      const view = instruction.view(current.state);
      if (!view) throw new Error(`work row for an instruction the payment does not have: ${claim.item.instruction}`);
      const step = nextStep({
        instruction: view,
        observation,
        now: deps.now(),
        windowStartedAt: claim.item.windowStartedAt ?? claim.claimedAt,
        retryDelayMs: backoffDelayMs(claim.item.claimsInWindow, deps.backoff.baseMs, deps.backoff.maxMs),
        policy: deps.policy,
      });
      if ((step.kind === 'look-up' || step.kind === 'submit') && deps.isStopping()) break;
      try {
        const result = await doStep(claim, instruction, current, step);
        if (result.kind === 'over') return;
        ({ current, observation } = result);
      } catch (error) {
        if (isConflictingBankOutcome(error)) {
          logger.error({ ...where(claim), details: error.details }, 'the bank holds a second execution for a final instruction: an operator must have it reversed');
        } else if (!isLostRace(error)) throw error;
        // Someone else (a cancel, another gateway, an operator, a refund) wrote first: start over from the stream.
        logger.info({ ...where(claim), step: step.kind, reason: String(error) }, 'lost a race on the payment; reloading');
        current = await load(claim);
        observation = NOTHING;
      }
    }
    await workQueue.release(claim, 0);
  }

  return {
    /** Never throws: a failure gives the row back with a delay, or leaves it to lease expiry. */
    async work(claim: Claim): Promise<void> {
      try {
        await runSteps(claim);
      } catch (error) {
        if (error instanceof LeaseLostError) {
          logger.warn(where(claim), 'lease lost; leaving the instruction to its new owner');
          return;
        }
        logger.error({ err: error, ...where(claim) }, 'working an instruction failed; retrying later');
        const delay = backoffDelayMs(claim.item.claimsInWindow, deps.backoff.baseMs, deps.backoff.maxMs);
        await workQueue.release(claim, delay, `gateway error: ${String(error)}`).catch(() => undefined);
      }
    },
  };
}

const NOTHING: Observation = { kind: 'nothing-yet' };

function isConflictingBankOutcome(error: unknown): error is DomainError {
  return error instanceof DomainError && error.code === 'conflicting_bank_outcome';
}

function isLostRace(error: unknown): boolean {
  if (error instanceof PreconditionFailedError) return true;
  // A changed idempotency key is a conflict too, but a bug, never a race: it must surface.
  return error instanceof DomainError && (error.code === 'stale_bank_attempt' || error.kind === 'illegal_state');
}

/** A refund as the bank is asked for it: on the transfer that settled the payment, under the refund's own reference. */
export function refundRequestOf(state: ExistingPaymentState, refund: RefundState): RefundRequest {
  if (state.status !== 'settled') throw new Error('only a settled payment has refunds');
  if (!refund.bank) throw new Error('a refund request needs the recorded bank references');
  return { bankTransferId: state.bankTransferId, amountMinor: refund.instruction.amountMinor, currency: refund.instruction.currency, endToEndId: refund.bank.endToEndId };
}

export function transferRequestOf(state: ExistingPaymentState): TransferRequest {
  if (!state.bank) throw new Error('a transfer request needs the recorded bank references');
  const { instruction } = state;
  return {
    amountMinor: instruction.amountMinor,
    currency: instruction.currency,
    debtor: instruction.debtor,
    creditor: instruction.creditor,
    endToEndId: state.bank.endToEndId,
    remittanceInformation: instruction.reference,
  };
}

/** Claims beyond this add nothing: the delay is at its maximum long before. */
const BACKOFF_STEPS_MAX = 32;

/** The delay before the `claimNumber`-th claim's retry: exponential, capped, with cockatiel's decorrelated jitter. */
export function backoffDelayMs(claimNumber: number, baseMs: number, maxMs: number): number {
  let backoff = new ExponentialBackoff({ initialDelay: baseMs, maxDelay: maxMs }).next();
  for (let step = 1; step < Math.min(Math.max(claimNumber, 1), BACKOFF_STEPS_MAX); step += 1) backoff = backoff.next(undefined);
  return Math.min(maxMs, Math.max(0, Math.round(backoff.duration)));
}
