/**
 * Refunds on the payment decider, given (past events, folded with evolve) /
 * when (a command) / then (new events or a refusal). No I/O. The past is built
 * from event factories, never through decide, so a decide bug cannot hide in
 * both the history and the outcome.
 */
import { DomainError } from '../errors';
import type { PaymentId, RefundId, TenantId } from '../ids';
import type { CurrencyCode } from '../money';
import type { CommandMetadata, Principal } from '../principal';
import {
  decide,
  evolve,
  findRefund,
  initialState,
  paymentStatusAfter,
  refundTotals,
  type ExistingPaymentState,
  type PaymentCommand,
  type PaymentEvent,
  type PaymentState,
} from '.';

const NOW = new Date('2026-03-01T09:30:00.000Z');
const client: Principal = { kind: 'client', id: 'key:acme', tenantId: 'acme' as TenantId };
const gateway: Principal = { kind: 'system', id: 'gateway-1' };
const meta = (principal: Principal = client): CommandMetadata => ({ now: NOW, principal, requestId: 'req-1', correlationId: 'corr-1', causationId: 'cause-1' });

const AT = NOW.toISOString();
const paymentRequested: PaymentEvent = {
  type: 'PaymentRequested',
  data: {
    paymentId: 'p-1' as PaymentId,
    tenantId: 'acme' as TenantId,
    amountMinor: 10_000,
    currency: 'EUR' as CurrencyCode,
    debtor: { name: 'Acme Ltd', iban: 'DE89370400440532013000' },
    creditor: { name: 'Bob', iban: 'GB82WEST12345698765432' },
    reference: null,
    metadata: {},
    requestedAt: AT,
  },
};
const paymentStarted: PaymentEvent = { type: 'BankSubmissionStarted', data: { attempt: 1, idempotencyKey: 'k', endToEndId: 'E2E', gatewayId: 'gateway-1', startedAt: AT } };
const paymentSettled: PaymentEvent = { type: 'PaymentSettled', data: { bankTransferId: 'tr-1', settledAt: AT } };
const settled = [paymentRequested, paymentStarted, paymentSettled];

const refundRequested = (refundId: string, amountMinor: number, extra: { reason?: string; metadata?: Record<string, string> } = {}): PaymentEvent => ({
  type: 'RefundRequested',
  data: { refundId: refundId as RefundId, amountMinor, currency: 'EUR' as CurrencyCode, reason: extra.reason ?? null, metadata: extra.metadata ?? {}, requestedBy: 'key:acme', requestedAt: AT },
});
const refundStarted = (refundId: string, attempt: number, key = `rk-${refundId}`, endToEndId = `RE2E-${refundId}`): PaymentEvent => ({
  type: 'RefundSubmissionStarted',
  data: { refundId: refundId as RefundId, attempt, idempotencyKey: key, endToEndId, gatewayId: 'gateway-1', startedAt: AT },
});
const refundSucceeded = (refundId: string, amountMinor: number, bankRefundId = `bank-${refundId}`): PaymentEvent => ({
  type: 'RefundSucceeded',
  data: { refundId: refundId as RefundId, bankRefundId, amountMinor, currency: 'EUR' as CurrencyCode, succeededAt: AT },
});
const refundFailed = (refundId: string): PaymentEvent => ({ type: 'RefundFailed', data: { refundId: refundId as RefundId, reason: 'account closed', reasonCode: 'AC04', bankRefundId: null, failedAt: AT } });
const refundAttemptFailed = (refundId: string, attempt: number): PaymentEvent => ({
  type: 'RefundAttemptFailed',
  data: { refundId: refundId as RefundId, attempt, error: 'timeout', errorCode: 'bank_timeout', failedAt: AT },
});
const refundParked = (refundId: string, attempts: number): PaymentEvent => ({
  type: 'RefundOutcomeUnknown',
  data: { refundId: refundId as RefundId, attempts, lastError: 'window over', errorCode: 'bank_timeout', parkedAt: AT },
});

const refund = (refundId: string, amount: string, extra: { currency?: string; reason?: string; metadata?: Record<string, string> } = {}): PaymentCommand => ({
  type: 'RequestRefund',
  data: { refundId: refundId as RefundId, amount, currency: extra.currency ?? null, reason: extra.reason ?? null, metadata: extra.metadata ?? {}, amountMajorMax: 1_000_000 },
  metadata: meta(),
});
const startRefund = (refundId: string, key = `rk-${refundId}`, endToEndId = `RE2E-${refundId}`): PaymentCommand => ({
  type: 'StartRefundSubmission',
  data: { refundId: refundId as RefundId, idempotencyKey: key, endToEndId, gatewayId: 'gateway-1' },
  metadata: meta(gateway),
});
const succeed = (refundId: string, bankRefundId = `bank-${refundId}`): PaymentCommand => ({ type: 'SucceedRefund', data: { refundId: refundId as RefundId, bankRefundId }, metadata: meta(gateway) });
const fail = (refundId: string): PaymentCommand => ({ type: 'FailRefund', data: { refundId: refundId as RefundId, reason: 'account closed', reasonCode: 'AC04', bankRefundId: null }, metadata: meta(gateway) });
const failAttempt = (refundId: string, attempt: number): PaymentCommand => ({
  type: 'RecordRefundAttemptFailure',
  data: { refundId: refundId as RefundId, attempt, error: 'timeout', errorCode: 'bank_timeout' },
  metadata: meta(gateway),
});
const park = (refundId: string): PaymentCommand => ({ type: 'ParkRefund', data: { refundId: refundId as RefundId, lastError: 'window over', errorCode: 'bank_timeout' }, metadata: meta(gateway) });

/** given(past events) folded with evolve, exactly as the store replays them / when(command) / then(new events). */
function given(...history: PaymentEvent[]) {
  const state: PaymentState = history.reduce<PaymentState>(evolve, initialState);
  const events: readonly PaymentEvent[] = history;
  const existing = () => state as ExistingPaymentState;
  return {
    state: existing,
    events,
    when: (command: PaymentCommand) => ({
      then: (expected: ReadonlyArray<{ type: PaymentEvent['type']; data?: object }>) => {
        const produced = decide(command, state);
        expect(produced.map((event) => event.type)).toEqual(expected.map((event) => event.type));
        produced.forEach((event, index) => {
          if (expected[index]?.data) expect(event.data).toMatchObject(expected[index]!.data!);
        });
      },
      thenRefused: (code: string, kind: DomainError['kind'], details?: object) => {
        let thrown: unknown;
        try {
          decide(command, state);
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeInstanceOf(DomainError);
        expect((thrown as DomainError).code).toBe(code);
        expect((thrown as DomainError).kind).toBe(kind);
        if (details) expect((thrown as DomainError).details).toMatchObject(details);
      },
    }),
  };
}

describe('requesting a refund', () => {
  it('records a refund of a settled payment in minor units of its currency', () => {
    given(...settled)
      .when(refund('r-1', '25.5', { reason: 'damaged', metadata: { ticket: '7' } }))
      .then([{ type: 'RefundRequested', data: { refundId: 'r-1', amountMinor: 2_550, currency: 'EUR', reason: 'damaged', metadata: { ticket: '7' }, requestedBy: 'key:acme', requestedAt: NOW.toISOString() } }]);
  });

  it('answers a retry with the same details by recording nothing, "25.5" and "25.50" being the same amount', () => {
    given(...settled, refundRequested('r-1', 2_550)).when(refund('r-1', '25.50')).then([]);
  });

  it('refuses the same refund id with other details, naming every differing field', () => {
    given(...settled, refundRequested('r-1', 2_550, { reason: 'a' }))
      .when(refund('r-1', '30.00', { reason: 'b', metadata: { x: '1' } }))
      .thenRefused('refund_id_conflict', 'conflict', { differingFields: ['amount', 'reason', 'metadata'] });
  });

  it.each([
    ['requested', [paymentRequested]],
    ['submitted', [paymentRequested, paymentStarted]],
    ['cancelled', [paymentRequested, { type: 'PaymentCancelled', data: { reason: 'no', cancelledBy: 'key:acme', cancelledAt: AT } } as PaymentEvent]],
    ['rejected', [paymentRequested, paymentStarted, { type: 'PaymentRejected', data: { reason: 'no', reasonCode: 'AC04', bankTransferId: null, rejectedAt: AT } } as PaymentEvent]],
  ])('refuses a %s payment, naming its status', (status, history) => {
    given(...history).when(refund('r-1', '1.00')).thenRefused('payment_not_refundable', 'illegal_state', { paymentStatus: status });
  });

  it('refuses more than what is left, naming the refundable amount', () => {
    given(...settled, refundRequested('r-1', 6_000)).when(refund('r-2', '40.01')).thenRefused('refund_exceeds_payment', 'conflict', { refundableAmount: '40.00' });
  });

  it('takes the last cent exactly', () => {
    given(...settled, refundRequested('r-1', 6_000)).when(refund('r-2', '40.00')).then([{ type: 'RefundRequested', data: { amountMinor: 4_000 } }]);
  });

  it('makes a failed refund\'s amount refundable again, but keeps an unknown one reserved', () => {
    const history = given(...settled, refundRequested('r-1', 6_000), refundStarted('r-1', 1), refundFailed('r-1'), refundRequested('r-2', 3_000), refundStarted('r-2', 1), refundParked('r-2', 1));
    expect(refundTotals(history.state())).toEqual({ refundedMinor: 0, reservedMinor: 3_000, refundableMinor: 7_000 });
    history.when(refund('r-3', '70.01')).thenRefused('refund_exceeds_payment', 'conflict', { refundableAmount: '70.00' });
  });

  it('refuses another currency and an amount with too many decimals, listing both', () => {
    given(...settled)
      .when(refund('r-1', '1.001', { currency: 'USD' }))
      .thenRefused('validation_failed', 'validation', { errors: [{ pointer: '/currency' }, { pointer: '/amount' }] });
  });

  it('accepts the payment\'s own currency when it is sent', () => {
    given(...settled).when(refund('r-1', '1.00', { currency: 'EUR' })).then([{ type: 'RefundRequested' }]);
  });
});

describe('a refund at the bank', () => {
  it('numbers each attempt and keeps its idempotency key and reference for life', () => {
    given(...settled, refundRequested('r-1', 1_000)).when(startRefund('r-1')).then([{ type: 'RefundSubmissionStarted', data: { attempt: 1, idempotencyKey: 'rk-r-1' } }]);
    given(...settled, refundRequested('r-1', 1_000), refundStarted('r-1', 1), refundAttemptFailed('r-1', 1)).when(startRefund('r-1')).then([{ type: 'RefundSubmissionStarted', data: { attempt: 2 } }]);
    given(...settled, refundRequested('r-1', 1_000), refundStarted('r-1', 1)).when(startRefund('r-1', 'another-key')).thenRefused('idempotency_key_changed', 'conflict');
  });

  it('records success once, and refuses a second, different bank refund for it', () => {
    given(...settled, refundRequested('r-1', 1_000), refundStarted('r-1', 1)).when(succeed('r-1')).then([{ type: 'RefundSucceeded', data: { bankRefundId: 'bank-r-1' } }]);
    given(...settled, refundRequested('r-1', 1_000), refundStarted('r-1', 1), refundSucceeded('r-1', 1_000)).when(succeed('r-1')).then([]);
    given(...settled, refundRequested('r-1', 1_000), refundStarted('r-1', 1), refundSucceeded('r-1', 1_000)).when(succeed('r-1', 'bank-other')).thenRefused('conflicting_bank_outcome', 'conflict');
  });

  it('records a late answer after the refund was parked', () => {
    given(...settled, refundRequested('r-1', 1_000), refundStarted('r-1', 1), refundParked('r-1', 1)).when(succeed('r-1')).then([{ type: 'RefundSucceeded' }]);
  });

  it('never sends a final refund again, and refuses outcomes for one never submitted', () => {
    given(...settled, refundRequested('r-1', 1_000), refundStarted('r-1', 1), refundSucceeded('r-1', 1_000)).when(startRefund('r-1')).thenRefused('refund_not_submittable', 'illegal_state');
    given(...settled, refundRequested('r-1', 1_000)).when(succeed('r-1')).thenRefused('refund_not_submitted', 'illegal_state');
    given(...settled, refundRequested('r-1', 1_000), refundStarted('r-1', 1)).when(failAttempt('r-1', 2)).thenRefused('stale_bank_attempt', 'conflict');
  });

  it('refuses a refund id the payment does not have', () => {
    given(...settled).when(startRefund('nope')).thenRefused('refund_not_found', 'not_found');
  });

  it('counts only executed refunds as refunded', () => {
    const history = given(...settled, refundRequested('r-1', 1_000), refundStarted('r-1', 1), refundSucceeded('r-1', 1_000), refundRequested('r-2', 500));
    expect(refundTotals(history.state())).toEqual({ refundedMinor: 1_000, reservedMinor: 1_500, refundableMinor: 8_500 });
    expect(findRefund(history.state(), 'r-1')?.status).toBe('succeeded');
    expect(findRefund(history.state(), 'r-2')?.status).toBe('requested');
  });
});

describe('the one status function', () => {
  it('agrees with evolve after every event of a life with refunds', () => {
    const history = given(
      ...settled,
      refundRequested('r-1', 1_000),
      refundStarted('r-1', 1),
      refundAttemptFailed('r-1', 1),
      refundStarted('r-1', 2),
      refundParked('r-1', 2),
      refundSucceeded('r-1', 1_000),
      refundRequested('r-2', 100),
      refundStarted('r-2', 1),
      refundFailed('r-2'),
    );
    let state: PaymentState = initialState;
    for (const event of history.events) {
      state = evolve(state, event);
      expect(paymentStatusAfter(event)).toBe(state.status);
    }
    expect(history.events.length).toBeGreaterThan(10);
  });
});
