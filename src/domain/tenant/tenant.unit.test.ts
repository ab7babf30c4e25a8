/**
 * The tenant's rules as given / when / then: the policy checks of a new payment,
 * and the daily total's decider (given past reservations, when a reservation is
 * asked, then a new reservation or a refusal naming the limit and what remains).
 */
import { DomainError } from '../errors';
import type { PaymentId, TenantId } from '../ids';
import type { CurrencyCode } from '../money';
import type { PaymentInstruction } from '../payment';
import type { CommandMetadata } from '../principal';
import {
  checkNewPayment,
  decideDailyLimit,
  evolveDailyLimit,
  initialDailyLimitState,
  utcDayOf,
  type DailyLimitEvent,
  type DailyLimitState,
  type ReserveDailyAmount,
  type TenantPolicy,
} from '.';

const NOW = new Date('2026-03-01T23:59:59.999Z');
const EUR = 'EUR' as CurrencyCode;
const JPY = 'JPY' as CurrencyCode;
const meta: CommandMetadata = { now: NOW, principal: { kind: 'client', id: 'key:acme', tenantId: 'acme' as TenantId }, requestId: 'r', correlationId: 'c', causationId: 'c' };

const instruction = (overrides: Partial<PaymentInstruction> = {}): PaymentInstruction => ({
  amountMinor: 12_550,
  currency: EUR,
  debtor: { name: 'Acme Ltd', iban: 'DE89370400440532013000' },
  creditor: { name: 'Bob', iban: 'GB82WEST12345698765432' },
  reference: null,
  metadata: {},
  ...overrides,
});

const policy = (limits?: TenantPolicy['limits']): TenantPolicy => ({ tenantId: 'acme' as TenantId, debitAccounts: new Set(['DE89370400440532013000']), limits });
const eurLimits = new Map([[EUR, { paymentAmountMinorMax: 100_000, dailyAmountMinorMax: 250_000 }]]);

function refusal(run: () => unknown): DomainError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    return error as DomainError;
  }
  throw new Error('expected a refusal');
}

describe('a new payment against its tenant policy', () => {
  it('when the debtor is a registered account and the tenant has no limits, then it passes with no daily limit to reserve', () => {
    expect(checkNewPayment(policy(), instruction())).toBeUndefined();
  });

  it('when the debtor is not one of the tenant accounts, then it is refused pointing at the debtor IBAN', () => {
    const error = refusal(() => checkNewPayment(policy(), instruction({ debtor: { name: 'Eve', iban: 'GB29NWBK60161331926819' } })));
    expect(error).toMatchObject({ kind: 'unprocessable', code: 'debtor_account_not_registered' });
    expect(error.details).toEqual({ errors: [{ pointer: '/debtor/iban', detail: 'not a debit account registered for your tenant' }] });
  });

  it('when the tenant is not registered at all, then every debtor is refused', () => {
    expect(refusal(() => checkNewPayment(undefined, instruction())).code).toBe('debtor_account_not_registered');
  });

  it('when the amount is at the per-payment maximum, then it passes and the currency limits are returned', () => {
    expect(checkNewPayment(policy(eurLimits), instruction({ amountMinor: 100_000 }))).toEqual({ paymentAmountMinorMax: 100_000, dailyAmountMinorMax: 250_000 });
  });

  it('when the amount is one minor unit above the per-payment maximum, then it is refused naming the limit', () => {
    const error = refusal(() => checkNewPayment(policy(eurLimits), instruction({ amountMinor: 100_001 })));
    expect(error).toMatchObject({ kind: 'unprocessable', code: 'payment_amount_limit_exceeded' });
    expect(error.details).toEqual({ limit: 'paymentAmountMax', currency: 'EUR', limitAmount: '1000.00', requestedAmount: '1000.01', remainingAmount: '1000.00' });
  });

  it('when the tenant has limits but none in the currency, then it is refused listing the currencies it may use', () => {
    const error = refusal(() => checkNewPayment(policy(eurLimits), instruction({ currency: JPY, amountMinor: 5 })));
    expect(error).toMatchObject({ kind: 'unprocessable', code: 'currency_not_enabled' });
    expect(error.details).toEqual({ currency: 'JPY', enabledCurrencies: ['EUR'] });
  });
});

const reserve = (paymentId: string, amountMinor: number, payloadSha256 = `sha-${paymentId}`): ReserveDailyAmount => ({
  type: 'ReserveDailyAmount',
  data: { tenantId: 'acme' as TenantId, currency: EUR, day: '2026-03-01', paymentId: paymentId as PaymentId, payloadSha256, amountMinor, dailyAmountMinorMax: 250_000 },
  metadata: meta,
});

function given(...history: ReserveDailyAmount[]) {
  let state: DailyLimitState = initialDailyLimitState;
  for (const command of history) for (const event of decideDailyLimit(command, state)) state = evolveDailyLimit(state, event);
  return {
    state,
    when: (command: ReserveDailyAmount) => ({
      then: (expected: Array<Partial<DailyLimitEvent['data']>>) => {
        const events = decideDailyLimit(command, state);
        expect(events.map((event) => event.type)).toEqual(expected.map(() => 'DailyAmountReserved'));
        events.forEach((event, index) => expect(event.data).toMatchObject(expected[index]!));
      },
      thenRefused: () => refusal(() => decideDailyLimit(command, state)),
    }),
  };
}

describe('the daily total', () => {
  it('when the first payment of the day is reserved, then the reservation records the total after it and the limit', () => {
    given().when(reserve('p-1', 100_000)).then([{ paymentId: 'p-1' as PaymentId, amountMinor: 100_000, reservedMinorAfter: 100_000, dailyAmountMinorMax: 250_000, day: '2026-03-01', reservedAt: NOW.toISOString() }]);
  });

  it('when a payment brings the total exactly to the limit, then it is reserved', () => {
    given(reserve('p-1', 100_000), reserve('p-2', 100_000)).when(reserve('p-3', 50_000)).then([{ reservedMinorAfter: 250_000 }]);
  });

  it('when a payment would pass the limit by one minor unit, then it is refused naming the limit, the day, what is used and what remains', () => {
    const error = given(reserve('p-1', 100_000), reserve('p-2', 100_000)).when(reserve('p-3', 50_001)).thenRefused();
    expect(error).toMatchObject({ kind: 'unprocessable', code: 'daily_limit_exceeded' });
    expect(error.details).toEqual({ limit: 'dailyAmountMax', currency: 'EUR', day: '2026-03-01', limitAmount: '2500.00', usedAmount: '2000.00', remainingAmount: '500.00', requestedAmount: '500.01' });
  });

  it('when a refused payment is followed by a smaller one, then the refused amount was not counted', () => {
    const history = given(reserve('p-1', 200_000));
    expect(history.when(reserve('p-big', 60_000)).thenRefused().code).toBe('daily_limit_exceeded');
    // A refusal decides no event, so the state the next payment meets is the one before it.
    history.when(reserve('p-2', 50_000)).then([{ reservedMinorAfter: 250_000 }]);
  });

  it('when the same request is reserved again (a retry after a crash), then nothing new is reserved', () => {
    given(reserve('p-1', 100_000)).when(reserve('p-1', 100_000)).then([]);
  });

  it('when the same id comes with other details, then it is a separate reservation (an over-count is the safe direction)', () => {
    given(reserve('p-1', 100_000)).when(reserve('p-1', 100_000, 'sha-other')).then([{ reservedMinorAfter: 200_000 }]);
  });

  it('counts the day in UTC: the last millisecond of a day and the first of the next are two days', () => {
    expect(utcDayOf(new Date('2026-03-01T23:59:59.999Z'))).toBe('2026-03-01');
    expect(utcDayOf(new Date('2026-03-02T00:00:00.000Z'))).toBe('2026-03-02');
    expect(utcDayOf(new Date('2026-03-02T00:30:00.000+01:00'))).toBe('2026-03-01');
  });
});
