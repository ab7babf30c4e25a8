/**
 * Works one claimed payment: asks the state machine for the next step, does it
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
import { DomainError } from '../domain/errors';
import type { ExistingPaymentState, PaymentCommand } from '../domain/payment';
import type { CommandMetadata } from '../domain/principal';
import type { Logger } from '../logging';
import type { BankClient, TransferRequest } from './bank-client';
import type { CrashPoints } from './crash-points';
import { bankReferencesFor } from './keys';
import { nextStep, type Observation, type StateMachinePolicy, type Step } from './state-machine';
import type { Claim, WorkQueue } from './work-queue';

/** Steps one claim may take before it gives the row back; a normal payment needs four. */
export const STEPS_PER_CLAIM_MAX = 12;

/** Longest error text recorded in an event (it may quote the bank); staff read it, clients see only the code. */
export const LAST_ERROR_CHARS_MAX = 500;

export interface ClaimWorkerDeps {
  readonly payments: PaymentsModule;
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

export function createClaimWorker(deps: ClaimWorkerDeps) {
  const { payments, workQueue, bank, logger } = deps;

  function metadata(claim: Claim): CommandMetadata {
    return {
      now: deps.now(),
      principal: { kind: 'system', id: `gateway:${deps.gatewayId}` },
      requestId: randomUUID(),
      correlationId: `bank:${claim.item.tenantId}:${claim.item.paymentId}`,
      causationId: claim.token,
    };
  }

  async function load(claim: Claim): Promise<Current | undefined> {
    const found = await payments.getPayment(claim.item.tenantId, claim.item.paymentId);
    return found && { state: found.state, revision: found.revision };
  }

  async function execute(claim: Claim, command: PaymentCommand, expectedRevision?: number): Promise<Current> {
    const result = await payments.execute(claim.item.tenantId, claim.item.paymentId, command, expectedRevision === undefined ? {} : { expectedRevision });
    return { state: result.state, revision: result.revision };
  }

  /** Renewed right before each bank call, so a gateway paused past its lease finds out before it calls. */
  async function ensureLease(claim: Claim): Promise<void> {
    if (!(await workQueue.renew(claim, deps.leaseMs))) throw new LeaseLostError('lease lost before the bank call');
  }

  async function callBank(claim: Claim, current: Current, step: Extract<Step, { kind: 'look-up' | 'submit' }>): Promise<Observation> {
    await ensureLease(claim);
    if (step.kind === 'look-up') return { kind: 'looked-up', answer: await bank.findTransfer(transferRequestOf(current.state)) };
    deps.crashPoints.reach('before-bank-call');
    const answer = await bank.submitTransfer(transferRequestOf(current.state), step.idempotencyKey);
    deps.crashPoints.reach('after-bank-call-before-outcome');
    logger.info({ tenantId: claim.item.tenantId, paymentId: claim.item.paymentId, attempt: step.attempt, answer: answer.kind }, 'bank answered the submission');
    return { kind: 'submitted', attempt: step.attempt, answer };
  }

  /** Does an append step; returns the state after it and what to observe next. */
  async function record(claim: Claim, current: Current, step: Extract<Step, { kind: 'record-intent' | 'settle' | 'reject' | 'record-attempt-failure' | 'park' }>) {
    const meta = metadata(claim);
    switch (step.kind) {
      case 'record-intent': {
        const references = bankReferencesFor(claim.item.tenantId, claim.item.paymentId);
        const command: PaymentCommand = { type: 'StartBankSubmission', data: { ...references, gatewayId: deps.gatewayId }, metadata: meta };
        // The expected revision is what makes a concurrent cancel or a second gateway lose cleanly.
        const after = await execute(claim, command, current.revision);
        const attempt = after.state.bank?.attempts ?? 0;
        return { current: after, observation: { kind: 'intent-recorded', attempt } as Observation };
      }
      case 'settle':
        return outcome(claim, await execute(claim, { type: 'SettlePayment', data: { bankTransferId: step.bankTransferId }, metadata: meta }));
      case 'reject':
        return outcome(claim, await execute(claim, { type: 'RejectPayment', data: { reason: step.reason, reasonCode: step.reasonCode, bankTransferId: step.bankTransferId }, metadata: meta }));
      case 'record-attempt-failure': {
        const error = step.error.slice(0, LAST_ERROR_CHARS_MAX);
        const after = await execute(claim, { type: 'RecordBankAttemptFailure', data: { attempt: step.attempt, error, errorCode: step.code }, metadata: meta });
        return { current: after, observation: { kind: 'failure-recorded', error, code: step.code } as Observation };
      }
      case 'park': {
        const lastError = step.lastError.slice(0, LAST_ERROR_CHARS_MAX);
        const where = { tenantId: claim.item.tenantId, paymentId: claim.item.paymentId, errorCode: step.code, lastError };
        // A bank answering for another transfer may have moved money wrongly: an alarm, not a routine warning.
        if (step.code === 'bank_answer_conflicting') logger.error({ ...where, alarm: 'bank_answer_conflicting' }, 'ALARM: the bank answered with a transfer that contradicts the instruction; payment parked, never settled');
        else logger.warn(where, 'payment parked: bank outcome unknown');
        return { current: await execute(claim, { type: 'ParkWithUnknownOutcome', data: { lastError, errorCode: step.code }, metadata: meta }, current.revision), observation: NOTHING };
      }
    }
  }

  function outcome(claim: Claim, after: Current) {
    deps.crashPoints.reach('after-outcome-before-checkpoint');
    logger.info({ tenantId: claim.item.tenantId, paymentId: claim.item.paymentId, status: after.state.status }, 'bank outcome recorded');
    return { current: after, observation: NOTHING };
  }

  /** Final steps: hand the row back to the queue. True when the claim is over. */
  async function finish(claim: Claim, current: Current, step: Step): Promise<boolean> {
    switch (step.kind) {
      case 'complete':
        await workQueue.settle(claim, 'done', current.state.status, current.revision);
        return true;
      case 'leave-parked':
        await workQueue.settle(claim, 'parked', current.state.status, current.revision, current.state.bank?.lastError ?? null);
        return true;
      case 'wait':
        await workQueue.release(claim, step.until.getTime() - deps.now().getTime(), step.reason);
        return true;
      default:
        return false;
    }
  }

  async function runSteps(claim: Claim): Promise<void> {
    let current = await load(claim);
    if (!current) throw new Error(`work row for a payment that does not exist: ${claim.item.tenantId}/${claim.item.paymentId}`);
    let observation: Observation = NOTHING;
    for (let stepCount = 0; stepCount < STEPS_PER_CLAIM_MAX; stepCount += 1) {
      const step = nextStep({
        payment: current.state,
        observation,
        now: deps.now(),
        windowStartedAt: claim.item.windowStartedAt ?? claim.claimedAt,
        retryDelayMs: backoffDelayMs(claim.item.claimsInWindow, deps.backoff.baseMs, deps.backoff.maxMs),
        policy: deps.policy,
      });
      if (await finish(claim, current, step)) return;
      if (step.kind === 'look-up' || step.kind === 'submit') {
        if (deps.isStopping()) break;
        observation = await callBank(claim, current, step as Extract<Step, { kind: 'look-up' | 'submit' }>);
        continue;
      }
      try {
        ({ current, observation } = await record(claim, current, step as Parameters<typeof record>[2]));
      } catch (error) {
        if (isConflictingBankOutcome(error)) {
          logger.error(
            { tenantId: claim.item.tenantId, paymentId: claim.item.paymentId, details: error.details },
            'the bank holds a second transfer for a final payment: an operator must have it reversed',
          );
        } else if (!isLostRace(error)) throw error;
        // Someone else (a cancel, another gateway, an operator) wrote first: start over from the stream.
        logger.info({ tenantId: claim.item.tenantId, paymentId: claim.item.paymentId, step: step.kind, reason: String(error) }, 'lost a race on the payment; reloading');
        current = (await load(claim))!;
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
          logger.warn({ tenantId: claim.item.tenantId, paymentId: claim.item.paymentId }, 'lease lost; leaving the payment to its new owner');
          return;
        }
        logger.error({ err: error, tenantId: claim.item.tenantId, paymentId: claim.item.paymentId }, 'working a payment failed; retrying later');
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
