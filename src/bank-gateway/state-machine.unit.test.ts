import type { PaymentId, TenantId } from '../domain/ids';
import type { CurrencyCode } from '../domain/money';
import { foldPayment, type ExistingPaymentState, type PaymentEvent } from '../domain/payment';
import type { RefundId } from '../domain/ids';
import { instructionKey, instructionState, parseInstructionKey, type InstructionRef } from './instructions';
import { nextStep, type Observation, type Step } from './state-machine';

const T0 = new Date('2026-01-01T10:00:00.000Z');
const KEY = 'ps1-key';
const E2E = 'PS1REF';
const policy = { retryWindowMs: 60_000, inFlightWaitMs: 2_000 };

const requested: PaymentEvent = {
  type: 'PaymentRequested',
  data: {
    paymentId: 'p-1' as PaymentId,
    tenantId: 'acme' as TenantId,
    amountMinor: 12_550,
    currency: 'EUR' as CurrencyCode,
    debtor: { name: 'Acme', iban: 'DE89370400440532013000' },
    creditor: { name: 'Bob', iban: 'GB82WEST12345698765432' },
    reference: null,
    metadata: {},
    requestedAt: T0.toISOString(),
  },
};
const started = (attempt: number): PaymentEvent => ({
  type: 'BankSubmissionStarted',
  data: { attempt, idempotencyKey: KEY, endToEndId: E2E, gatewayId: 'g1', startedAt: T0.toISOString() },
});
const failed = (attempt: number): PaymentEvent => ({ type: 'BankAttemptFailed', data: { attempt, error: 'timeout', failedAt: T0.toISOString() } });
const settled: PaymentEvent = { type: 'PaymentSettled', data: { bankTransferId: 'tr-1', settledAt: T0.toISOString() } };
const rejected: PaymentEvent = { type: 'PaymentRejected', data: { reason: 'insufficient funds', bankTransferId: 'tr-1', rejectedAt: T0.toISOString() } };
const cancelled: PaymentEvent = { type: 'PaymentCancelled', data: { reason: 'changed mind', cancelledBy: 'client', cancelledAt: T0.toISOString() } };
const unknown: PaymentEvent = { type: 'BankOutcomeUnknown', data: { attempts: 1, lastError: 'timeout', parkedAt: T0.toISOString() } };
const operatorRetry: PaymentEvent = { type: 'OperatorRetryRequested', data: { operator: 'olga', reason: 'bank back', requestedAt: T0.toISOString() } };

/** given(events) / when(observation, ms since the window began) / then(step) */
function given(...events: PaymentEvent[]) {
  return givenInstruction({ kind: 'transfer' }, ...events);
}

function givenInstruction(ref: InstructionRef, ...events: PaymentEvent[]) {
  const payment = foldPayment(events) as ExistingPaymentState;
  const instruction = instructionState(payment, ref)!;
  return {
    when(observation: Observation, elapsedMs = 0) {
      const step = nextStep({ instruction, observation, now: new Date(T0.getTime() + elapsedMs), windowStartedAt: T0, retryDelayMs: 500, policy });
      return { then: (expected: Step) => expect(step).toEqual(expected) };
    },
  };
}

const nothing: Observation = { kind: 'nothing-yet' };
const at = (ms: number) => new Date(T0.getTime() + ms);

describe('gateway state machine', () => {
  describe('a payment that never reached the bank', () => {
    it('when a requested payment is claimed, then the intent is recorded first', () => {
      given(requested).when(nothing).then({ kind: 'record-intent' });
    });

    it('when this worker just recorded the intent, then it submits that attempt with the stored key (no lookup needed)', () => {
      given(requested, started(1)).when({ kind: 'intent-recorded', attempt: 1 }).then({ kind: 'submit', attempt: 1, idempotencyKey: KEY });
    });

    it('when a requested payment comes with a bank observation, then that is a programmer error', () => {
      expect(() => given(requested).when({ kind: 'intent-recorded', attempt: 1 })).toThrow(/not yet at the bank/);
    });

    it('when the recorded intent is not the current attempt, then that is a programmer error', () => {
      expect(() => given(requested, started(1), started(2)).when({ kind: 'intent-recorded', attempt: 1 })).toThrow(/not the current attempt/);
    });
  });

  describe('the bank answers a submission', () => {
    const afterIntent = () => given(requested, started(1));

    it('when it accepts, then the payment settles with its transfer id', () => {
      afterIntent().when({ kind: 'submitted', attempt: 1, answer: { kind: 'accepted', bankTransferId: 'tr-1' } }).then({ kind: 'settle', bankTransferId: 'tr-1' });
    });

    it('when it rejects (a business outcome), then the payment is rejected with the reason', () => {
      afterIntent()
        .when({ kind: 'submitted', attempt: 1, answer: { kind: 'rejected', bankTransferId: 'tr-1', reason: 'AC04 account closed', reasonCode: 'AC04' } })
        .then({ kind: 'reject', bankTransferId: 'tr-1', reason: 'AC04 account closed', reasonCode: 'AC04' });
    });

    it('when it times out or fails with 5xx, then the failed attempt is recorded', () => {
      afterIntent()
        .when({ kind: 'submitted', attempt: 1, answer: { kind: 'retryable', code: 'bank_timeout', error: 'timeout after 1000 ms' } })
        .then({ kind: 'record-attempt-failure', attempt: 1, error: 'timeout after 1000 ms', code: 'bank_timeout' });
    });

    it('when the failure is recorded inside the window, then the worker waits for the backoff delay', () => {
      given(requested, started(1), failed(1))
        .when({ kind: 'failure-recorded', error: 'timeout', code: 'bank_timeout' }, 10_000)
        .then({ kind: 'wait', until: at(10_500), reason: 'bank call failed: timeout' });
    });

    it('when the failure is recorded after the window, then the payment is parked as unknown', () => {
      given(requested, started(1), failed(1))
        .when({ kind: 'failure-recorded', error: 'timeout', code: 'bank_timeout' }, 60_000)
        .then({ kind: 'park', lastError: 'retry window exhausted; bank call failed: timeout', code: 'bank_timeout' });
    });

    it('when it says the first request with this key is still in flight (409), then wait and look up later, never submit again now', () => {
      afterIntent()
        .when({ kind: 'submitted', attempt: 1, answer: { kind: 'in-flight' } }, 1_000)
        .then({ kind: 'wait', until: at(3_000), reason: 'the bank is still executing an earlier request with this key' });
    });

    it('when it is still in flight after the window, then the payment is parked', () => {
      afterIntent()
        .when({ kind: 'submitted', attempt: 1, answer: { kind: 'in-flight' } }, 60_000)
        .then({ kind: 'park', lastError: 'the bank still reports the first request in flight after the retry window', code: 'bank_still_processing' });
    });

    it('when it answers something unreadable, then the payment is parked at once', () => {
      afterIntent()
        .when({ kind: 'submitted', attempt: 1, answer: { kind: 'uninterpretable', error: 'status 422' } })
        .then({ kind: 'park', lastError: 'submission answer not understood: status 422', code: 'bank_answer_unreadable' });
    });

    it('when it answers for a transfer that contradicts the instruction, then the payment is parked as conflicting, never settled', () => {
      afterIntent()
        .when({ kind: 'submitted', attempt: 1, answer: { kind: 'conflicting', error: 'bank transfer tr-1 differs from the instruction in amountMinor' } })
        .then({ kind: 'park', lastError: 'submission answer contradicts the instruction: bank transfer tr-1 differs from the instruction in amountMinor', code: 'bank_answer_conflicting' });
    });
  });

  describe('recovery: an intent without an outcome', () => {
    it('when a worker finds an intent it did not record (crash, restart, timeout, lease taken over), then it looks the transfer up first', () => {
      given(requested, started(1)).when(nothing).then({ kind: 'look-up', endToEndId: E2E });
    });

    it('when an earlier attempt failed, then the next claim still looks up before anything else', () => {
      given(requested, started(1), failed(1)).when(nothing).then({ kind: 'look-up', endToEndId: E2E });
    });

    it('when an operator asked for a retry, then the gateway looks up first', () => {
      given(requested, started(1), unknown, operatorRetry).when(nothing).then({ kind: 'look-up', endToEndId: E2E });
    });

    it('when the lookup finds an accepted transfer, then the payment settles without submitting again', () => {
      given(requested, started(1)).when({ kind: 'looked-up', answer: { kind: 'accepted', bankTransferId: 'tr-9' } }).then({ kind: 'settle', bankTransferId: 'tr-9' });
    });

    it('when the lookup finds a rejected transfer, then the payment is rejected', () => {
      given(requested, started(1))
        .when({ kind: 'looked-up', answer: { kind: 'rejected', bankTransferId: 'tr-9', reason: 'insufficient funds', reasonCode: 'NARR' } })
        .then({ kind: 'reject', bankTransferId: 'tr-9', reason: 'insufficient funds', reasonCode: 'NARR' });
    });

    it('when the lookup finds nothing inside the window, then a new intent is recorded (and the same key will be submitted)', () => {
      given(requested, started(1), failed(1)).when({ kind: 'looked-up', answer: { kind: 'not-found' } }, 5_000).then({ kind: 'record-intent' });
    });

    it('when the new intent is recorded, then the submission reuses the key of the first attempt', () => {
      given(requested, started(1), failed(1), started(2)).when({ kind: 'intent-recorded', attempt: 2 }).then({ kind: 'submit', attempt: 2, idempotencyKey: KEY });
    });

    it('when the lookup finds nothing after the window, then the payment is parked', () => {
      given(requested, started(1), failed(1))
        .when({ kind: 'looked-up', answer: { kind: 'not-found' } }, 61_000)
        .then({ kind: 'park', lastError: 'not found at the bank after the retry window; last error: timeout', code: 'bank_transfer_not_found' });
    });

    it('when the lookup itself fails inside the window, then wait for the backoff delay', () => {
      given(requested, started(1)).when({ kind: 'looked-up', answer: { kind: 'retryable', code: 'bank_unavailable', error: 'circuit open' } }, 1_000).then({ kind: 'wait', until: at(1_500), reason: 'lookup failed: circuit open' });
    });

    it('when the lookup itself fails after the window, then the payment is parked', () => {
      given(requested, started(1))
        .when({ kind: 'looked-up', answer: { kind: 'retryable', code: 'bank_unavailable', error: 'status 503' } }, 60_000)
        .then({ kind: 'park', lastError: 'retry window exhausted; lookup failed: status 503', code: 'bank_unavailable' });
    });

    it('when the lookup answer cannot be read, then the payment is parked', () => {
      given(requested, started(1))
        .when({ kind: 'looked-up', answer: { kind: 'uninterpretable', error: 'two transfers for one reference' } })
        .then({ kind: 'park', lastError: 'lookup answer not understood: two transfers for one reference', code: 'bank_answer_unreadable' });
    });

    it('when the lookup finds a transfer that contradicts the instruction, then the payment is parked as conflicting', () => {
      given(requested, started(1))
        .when({ kind: 'looked-up', answer: { kind: 'conflicting', error: 'bank transfer tr-9 differs from the instruction in creditor.iban' } })
        .then({ kind: 'park', lastError: 'lookup answer contradicts the instruction: bank transfer tr-9 differs from the instruction in creditor.iban', code: 'bank_answer_conflicting' });
    });
  });

  describe('payments the gateway has nothing to do for', () => {
    it.each([
      ['settled', [requested, started(1), settled]],
      ['rejected', [requested, started(1), rejected]],
      ['cancelled', [requested, cancelled]],
    ] as const)('when the payment is %s, then the work is complete whatever was observed', (_status, events) => {
      given(...events).when(nothing).then({ kind: 'complete' });
      given(...events).when({ kind: 'submitted', attempt: 1, answer: { kind: 'accepted', bankTransferId: 'tr-2' } }).then({ kind: 'complete' });
    });

    it('when the payment is unknown, then it stays parked for an operator', () => {
      given(requested, started(1), unknown).when(nothing).then({ kind: 'leave-parked' });
    });
  });

  describe('a refund is an instruction like the transfer', () => {
    const refundId = 'r-1' as RefundId;
    const ref: InstructionRef = { kind: 'refund', refundId };
    const refundRequested: PaymentEvent = {
      type: 'RefundRequested',
      data: { refundId, amountMinor: 100, currency: 'EUR' as never, reason: null, metadata: {}, requestedBy: 'client', requestedAt: T0.toISOString() },
    };
    const refundStarted = (attempt: number): PaymentEvent => ({
      type: 'RefundSubmissionStarted',
      data: { refundId, attempt, idempotencyKey: 'rf1-key', endToEndId: 'RF1REF', gatewayId: 'gw', startedAt: T0.toISOString() },
    });
    const paid = [requested, started(1), settled];

    it('when a refund is requested, then its intent is recorded first, while the transfer is complete', () => {
      givenInstruction(ref, ...paid, refundRequested).when(nothing).then({ kind: 'record-intent' });
      given(...paid, refundRequested).when(nothing).then({ kind: 'complete' });
    });

    it('when its intent was recorded, then it is submitted under its own key; after a crash it is looked up by its own reference', () => {
      givenInstruction(ref, ...paid, refundRequested, refundStarted(1)).when({ kind: 'intent-recorded', attempt: 1 }).then({ kind: 'submit', attempt: 1, idempotencyKey: 'rf1-key' });
      givenInstruction(ref, ...paid, refundRequested, refundStarted(1)).when(nothing).then({ kind: 'look-up', endToEndId: 'RF1REF' });
    });

    it('when the bank executed it, then it is recorded; once final it is complete, once unknown it is left parked', () => {
      givenInstruction(ref, ...paid, refundRequested, refundStarted(1)).when({ kind: 'submitted', attempt: 1, answer: { kind: 'accepted', bankTransferId: 'rf_1' } }).then({ kind: 'settle', bankTransferId: 'rf_1' });
      const succeeded: PaymentEvent = { type: 'RefundSucceeded', data: { refundId, bankRefundId: 'rf_1', amountMinor: 100, currency: 'EUR' as never, succeededAt: T0.toISOString() } };
      givenInstruction(ref, ...paid, refundRequested, refundStarted(1), succeeded).when(nothing).then({ kind: 'complete' });
      const parked: PaymentEvent = { type: 'RefundOutcomeUnknown', data: { refundId, attempts: 1, lastError: 'timeout', errorCode: 'bank_timeout', parkedAt: T0.toISOString() } };
      givenInstruction(ref, ...paid, refundRequested, refundStarted(1), parked).when(nothing).then({ kind: 'leave-parked' });
    });

    it('names instructions in the work queue unambiguously, and a refund the payment lacks is no instruction', () => {
      expect(parseInstructionKey(instructionKey(ref))).toEqual(ref);
      expect(parseInstructionKey(instructionKey({ kind: 'transfer' }))).toEqual({ kind: 'transfer' });
      expect(() => parseInstructionKey('refund:')).toThrow();
      expect(instructionState(foldPayment(paid) as ExistingPaymentState, ref)).toBeUndefined();
    });
  });
});
