/**
 * The payment decider as given (past events) / when (a command) / then (new
 * events or a refusal). No I/O: each case folds its history with evolve.
 */
import { DomainError } from '../errors';
import type { PaymentId, TenantId } from '../ids';
import type { CurrencyCode } from '../money';
import type { CommandMetadata, Principal } from '../principal';
import { decide, evolve, initialState, type PaymentCommand, type PaymentEvent, type PaymentInstruction, type PaymentState } from '.';

const NOW = new Date('2026-03-01T09:30:00.000Z');
const client: Principal = { kind: 'client', id: 'key:acme', tenantId: 'acme' as TenantId };
const operator: Principal = { kind: 'staff', id: 'olga', role: 'operator' };
const analyst: Principal = { kind: 'staff', id: 'ana', role: 'analyst' };
const gateway: Principal = { kind: 'system', id: 'gateway-1' };

const meta = (principal: Principal = client): CommandMetadata => ({ now: NOW, principal, requestId: 'req-1', correlationId: 'corr-1', causationId: 'cause-1' });

const instruction: PaymentInstruction = {
  amountMinor: 12_550,
  currency: 'EUR' as CurrencyCode,
  debtor: { name: 'Acme Ltd', iban: 'DE89370400440532013000' },
  creditor: { name: 'Bob', iban: 'GB82WEST12345698765432' },
  reference: 'invoice 42',
  metadata: { order: '42', channel: 'web' },
};

const request = (overrides: Partial<PaymentInstruction> = {}): PaymentCommand => ({
  type: 'RequestPayment',
  data: { paymentId: 'p-1' as PaymentId, tenantId: 'acme' as TenantId, instruction: { ...instruction, ...overrides } },
  metadata: meta(),
});
const cancel: PaymentCommand = { type: 'CancelPayment', data: { reason: 'ordered twice' }, metadata: meta() };
const start = (key = 'ps1-key', endToEndId = 'PS1REF'): PaymentCommand => ({
  type: 'StartBankSubmission',
  data: { idempotencyKey: key, endToEndId, gatewayId: 'gateway-1' },
  metadata: meta(gateway),
});
const settle = (bankTransferId = 'tr-1'): PaymentCommand => ({ type: 'SettlePayment', data: { bankTransferId }, metadata: meta(gateway) });
const reject: PaymentCommand = { type: 'RejectPayment', data: { reason: 'insufficient funds', reasonCode: 'AM04', bankTransferId: 'tr-9' }, metadata: meta(gateway) };
const failAttempt = (attempt: number): PaymentCommand => ({ type: 'RecordBankAttemptFailure', data: { attempt, error: 'timeout', errorCode: 'bank_timeout' }, metadata: meta(gateway) });
const park: PaymentCommand = { type: 'ParkWithUnknownOutcome', data: { lastError: 'retry window exhausted', errorCode: 'bank_timeout' }, metadata: meta(gateway) };
const retryBy = (principal: Principal): PaymentCommand => ({ type: 'RequestOperatorRetry', data: { reason: 'bank is back', replayWindowMs: 7 * 24 * 3600 * 1000 }, metadata: meta(principal) });
const resolveBy = (principal: Principal, outcome: 'settled' | 'rejected', bankTransferId: string | null): PaymentCommand => ({
  type: 'ResolveManually',
  data: { outcome, bankTransferId, reason: 'reconciled', evidence: 'bank statement 2026-03-01 line 7' },
  metadata: meta(principal),
});

/*
 * The history is written as the events the store would hold, built by the
 * factories below and folded with evolve alone: a case's past never depends on
 * decide, so a decide bug cannot hide in both the history and the outcome.
 */
const AT = NOW.toISOString();
const requested = (overrides: Partial<PaymentInstruction> = {}): PaymentEvent => ({
  type: 'PaymentRequested',
  data: { paymentId: 'p-1' as PaymentId, tenantId: 'acme' as TenantId, ...instruction, ...overrides, requestedAt: AT },
});
const cancelled: PaymentEvent = { type: 'PaymentCancelled', data: { reason: 'ordered twice', cancelledBy: 'key:acme', cancelledAt: AT } };
const started = (attempt: number, key = 'ps1-key', endToEndId = 'PS1REF'): PaymentEvent => ({
  type: 'BankSubmissionStarted',
  data: { attempt, idempotencyKey: key, endToEndId, gatewayId: 'gateway-1', startedAt: AT },
});
const attemptFailed = (attempt: number): PaymentEvent => ({ type: 'BankAttemptFailed', data: { attempt, error: 'timeout', errorCode: 'bank_timeout', failedAt: AT } });
const settled = (bankTransferId = 'tr-1'): PaymentEvent => ({ type: 'PaymentSettled', data: { bankTransferId, settledAt: AT } });
const parked = (attempts: number): PaymentEvent => ({ type: 'BankOutcomeUnknown', data: { attempts, lastError: 'retry window exhausted', errorCode: 'bank_timeout', parkedAt: AT } });
const retryRequested = (operatorId = 'olga'): PaymentEvent => ({ type: 'OperatorRetryRequested', data: { operator: operatorId, reason: 'bank is back', requestedAt: AT } });
const resolved = (outcome: 'settled' | 'rejected', bankTransferId: string | null, operatorId = 'olga'): PaymentEvent => ({
  type: 'PaymentResolvedByOperator',
  data: { outcome, bankTransferId, reason: 'reconciled', evidence: 'bank statement 2026-03-01 line 7', operator: operatorId, resolvedAt: AT },
});

/** given(past events) folded with evolve, exactly as the store replays them / when(command) / then(new events). */
function given(...history: PaymentEvent[]) {
  const state: PaymentState = history.reduce<PaymentState>(evolve, initialState);
  return {
    state,
    when: (command: PaymentCommand) => ({
      then: (expected: ReadonlyArray<Pick<PaymentEvent, 'type'> & { data?: object }>) => {
        const produced = decide(command, state);
        expect(produced.map((event) => event.type)).toEqual(expected.map((event) => event.type));
        produced.forEach((event, index) => {
          if (expected[index]?.data) expect(event.data).toMatchObject(expected[index]!.data!);
        });
      },
      thenRefused: (code: string, kind?: DomainError['kind']) => {
        let thrown: unknown;
        try {
          decide(command, state);
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeInstanceOf(DomainError);
        expect((thrown as DomainError).code).toBe(code);
        if (kind) expect((thrown as DomainError).kind).toBe(kind);
      },
    }),
  };
}

describe('requesting a payment', () => {
  it('records the instruction with the time it was requested', () => {
    given().when(request()).then([{ type: 'PaymentRequested', data: { paymentId: 'p-1', tenantId: 'acme', amountMinor: 12_550, requestedAt: NOW.toISOString() } }]);
  });

  it('answers a retry with the same details by recording nothing', () => {
    given(requested()).when(request()).then([]);
  });

  it('treats metadata in another key order as the same request', () => {
    given(requested()).when(request({ metadata: { channel: 'web', order: '42' } })).then([]);
  });

  it('refuses the same id with other details, naming every differing field', () => {
    const { state } = given(requested());
    let thrown: DomainError | undefined;
    try {
      decide(request({ amountMinor: 99, creditor: { name: 'Eve', iban: instruction.creditor.iban }, reference: null }), state);
    } catch (error) {
      thrown = error as DomainError;
    }
    expect(thrown?.code).toBe('payment_id_conflict');
    expect(thrown?.details).toEqual({ differingFields: ['amount', 'creditor.name', 'reference'] });
  });
});

describe('cancelling a payment', () => {
  it('cancels a payment the bank has not been asked about yet', () => {
    given(requested()).when(cancel).then([{ type: 'PaymentCancelled', data: { reason: 'ordered twice', cancelledBy: 'key:acme' } }]);
  });

  it('is idempotent once cancelled', () => {
    given(requested(), cancelled).when(cancel).then([]);
  });

  it('refuses once the gateway has recorded its intent to call the bank', () => {
    given(requested(), started(1)).when(cancel).thenRefused('payment_not_cancellable', 'illegal_state');
  });

  it('refuses an unknown payment', () => {
    given().when(cancel).thenRefused('payment_not_found', 'not_found');
  });
});

describe('submitting to the bank', () => {
  it('numbers each attempt and keeps the idempotency key', () => {
    given(requested()).when(start()).then([{ type: 'BankSubmissionStarted', data: { attempt: 1, idempotencyKey: 'ps1-key' } }]);
    given(requested(), started(1), attemptFailed(1)).when(start()).then([{ type: 'BankSubmissionStarted', data: { attempt: 2, idempotencyKey: 'ps1-key' } }]);
  });

  it('refuses a new idempotency key or reference: that is the one way to pay twice', () => {
    given(requested(), started(1)).when(start('another-key')).thenRefused('idempotency_key_changed', 'conflict');
    given(requested(), started(1)).when(start('ps1-key', 'OTHERREF')).thenRefused('idempotency_key_changed', 'conflict');
  });

  it('never submits a cancelled or settled payment', () => {
    given(requested(), cancelled).when(start()).thenRefused('payment_not_submittable');
    given(requested(), started(1), settled()).when(start()).thenRefused('payment_not_submittable');
  });

  it('refuses a failure report for an attempt that is not the current one', () => {
    given(requested(), started(1), attemptFailed(1), started(2)).when(failAttempt(1)).thenRefused('stale_bank_attempt');
  });
});

describe('recording the bank outcome', () => {
  it('settles a submitted payment with the bank transfer id', () => {
    given(requested(), started(1)).when(settle()).then([{ type: 'PaymentSettled', data: { bankTransferId: 'tr-1' } }]);
  });

  it('answers a repeated settlement of the same transfer with nothing', () => {
    given(requested(), started(1), settled()).when(settle()).then([]);
  });

  it('refuses to settle a payment never submitted', () => {
    given(requested()).when(settle()).thenRefused('payment_not_submitted');
  });

  it('refuses a settlement with another transfer id once settled, naming both: the bank moved the money twice', () => {
    given(requested(), started(1), settled()).when(settle('tr-2')).thenRefused('conflicting_bank_outcome', 'conflict');
  });

  it('records a late answer from the bank after the payment was parked as unknown', () => {
    given(requested(), started(1), parked(1)).when(settle('tr-late')).then([{ type: 'PaymentSettled', data: { bankTransferId: 'tr-late' } }]);
    given(requested(), started(1), parked(1)).when(reject).then([{ type: 'PaymentRejected', data: { reason: 'insufficient funds', reasonCode: 'AM04', bankTransferId: 'tr-9' } }]);
  });

  it('records a business rejection as a fact, not an error', () => {
    given(requested(), started(1)).when(reject).then([{ type: 'PaymentRejected', data: { reason: 'insufficient funds', reasonCode: 'AM04', bankTransferId: 'tr-9' } }]);
  });

  it('parks a payment whose outcome stays unknown, with its attempts', () => {
    given(requested(), started(1), attemptFailed(1), started(2)).when(park).then([{ type: 'BankOutcomeUnknown', data: { attempts: 2, lastError: 'retry window exhausted', errorCode: 'bank_timeout' } }]);
    given(requested(), started(1), parked(1)).when(park).then([]);
  });
});

describe('operator actions on a parked payment', () => {
  const parkedHistory = [requested(), started(1), parked(1)];

  it('lets an operator ask for a retry, naming the operator', () => {
    given(...parkedHistory).when(retryBy(operator)).then([{ type: 'OperatorRetryRequested', data: { operator: 'olga', reason: 'bank is back' } }]);
  });

  it('answers a repeated retry request with nothing while the retry is pending', () => {
    given(...parkedHistory, retryRequested()).when(retryBy(operator)).then([]);
  });

  it('refuses staff without the operator role, and clients', () => {
    given(...parkedHistory).when(retryBy(analyst)).thenRefused('operator_required', 'forbidden');
    given(...parkedHistory).when(resolveBy(client, 'settled', 'tr-1')).thenRefused('operator_required', 'forbidden');
  });

  it('refuses a retry past the replay window, counted from the first submission on the events\' clock', () => {
    const late: PaymentCommand = { type: 'RequestOperatorRetry', data: { reason: 'bank is back', replayWindowMs: 60_000 }, metadata: { ...meta(operator), now: new Date(NOW.getTime() + 60_001) } };
    given(...parkedHistory).when(late).thenRefused('replay_window_expired', 'conflict');
    const justInside: PaymentCommand = { ...late, metadata: { ...meta(operator), now: new Date(NOW.getTime() + 60_000) } };
    given(...parkedHistory).when(justInside).then([{ type: 'OperatorRetryRequested' }]);
  });

  it('records the bank lookup made before the retry with it', () => {
    const bankLookup = { result: 'not-found', bankTransferId: null, detail: null, lookedUpAt: NOW.toISOString() } as const;
    const withLookup: PaymentCommand = { type: 'RequestOperatorRetry', data: { reason: 'bank is back', bankLookup, replayWindowMs: 60_000 }, metadata: meta(operator) };
    given(...parkedHistory).when(withLookup).then([{ type: 'OperatorRetryRequested', data: { bankLookup } }]);
  });

  it('refuses a retry of a payment that is not parked', () => {
    given(requested(), started(1)).when(retryBy(operator)).thenRefused('payment_not_parked');
  });

  it('resolves with the outcome found by reconciliation, with the evidence', () => {
    given(...parkedHistory)
      .when(resolveBy(operator, 'settled', 'tr-7'))
      .then([{ type: 'PaymentResolvedByOperator', data: { outcome: 'settled', bankTransferId: 'tr-7', operator: 'olga', evidence: 'bank statement 2026-03-01 line 7' } }]);
    given(...parkedHistory).when(resolveBy(operator, 'rejected', null)).then([{ type: 'PaymentResolvedByOperator', data: { outcome: 'rejected' } }]);
  });

  it('requires the bank transfer id for a settled resolution', () => {
    given(...parkedHistory).when(resolveBy(operator, 'settled', null)).thenRefused('bank_transfer_id_required', 'validation');
  });

  it('answers the same resolution again with nothing, and refuses a different one', () => {
    given(...parkedHistory, resolved('settled', 'tr-7')).when(resolveBy(operator, 'settled', 'tr-7')).then([]);
    given(...parkedHistory, resolved('settled', 'tr-7')).when(resolveBy(operator, 'rejected', null)).thenRefused('payment_not_parked');
  });
});

describe('evolving the state', () => {
  it('follows a payment from request to settlement', () => {
    const { state } = given(requested(), started(1), attemptFailed(1), started(2), settled('tr-3'));
    expect(state).toMatchObject({ status: 'settled', bankTransferId: 'tr-3', bank: { attempts: 2, idempotencyKey: 'ps1-key' } });
  });

  it('records who resolved a parked payment', () => {
    const { state } = given(requested(), started(1), parked(1), resolved('rejected', null));
    expect(state).toMatchObject({ status: 'rejected', resolvedBy: 'olga' });
  });

  it('refuses to fold an event before the payment exists', () => {
    expect(() => evolve(initialState, { type: 'PaymentSettled', data: { bankTransferId: 'tr-1', settledAt: NOW.toISOString() } })).toThrow(/before PaymentRequested/);
  });
});
