/**
 * A tenant's rules over real HTTP on a real store: its registered debit accounts,
 * its per-payment maximum and its daily total per currency (issue 8, items 5 and
 * 11). Every refusal is a 422 problem, and nothing is written: neither the
 * payment's stream nor a reservation. The daily total holds under real parallel
 * requests, through two API servers (each with its own in-process queue) on
 * one database, so only the store's expected revision keeps them apart.
 */
import pino from 'pino';
import { dailyLimitStreamName, paymentStreamName, type PaymentId, type TenantId } from '../../domain/ids';
import { parseTenants, tenantDirectoryFor, type TenantEntry } from '../../config/tenants';
import { createDailyLimits } from '../../application/daily-limits';
import { instructionHash } from '../../application/payments';
import type { CurrencyCode } from '../../domain/money';
import type { PaymentInstruction } from '../../domain/payment';
import { KEYS, startTestApi, validPayment, type TestApi, type TestResponse } from '../../../test/support/api';
import { sqlEngines } from '../../../test/support/databases';
import { contractFetch } from '../../../test/support/openapi-contract';
import { createApiServer, type ApiServer } from '../server';

const PROBLEM = 'application/problem+json';
const GLOBEX_IBAN = 'GB29NWBK60161331926819';

/** Through the same parser as TENANTS, so the test configures what an operator would. */
function tenants(json: object): TenantEntry[] {
  const { entries, problems } = parseTenants(JSON.stringify(json));
  expect(problems).toEqual([]);
  return entries;
}

const TENANTS = tenants({
  acme: { debitAccounts: ['DE89 3704 0044 0532 0130 00'], limits: { EUR: { paymentAmountMax: '1000.00', dailyAmountMax: '2500.00' }, JPY: { paymentAmountMax: '100000', dailyAmountMax: '100000' } } },
  globex: { debitAccounts: [GLOBEX_IBAN] },
});

async function expectTenantProblem(response: TestResponse, code: string, title: string) {
  expect(response.status).toBe(422);
  expect(response.headers.get('content-type')).toContain(PROBLEM);
  const problem = await response.json();
  expect(problem).toMatchObject({ type: `/problems/${code}`, title, status: 422, requestId: response.headers.get('x-request-id') });
  return problem;
}

describe.each(sqlEngines())('tenant debit accounts and limits over HTTP on %s', (engine) => {
  let api: TestApi;
  // Each test pays on its own UTC day of the API's clock, so the days' totals never mix.
  let clock = new Date('2026-03-01T12:00:00.000Z');
  const onDay = (day: string, time = '12:00:00.000') => (clock = new Date(`${day}T${time}Z`));

  beforeAll(async () => {
    api = await startTestApi(engine, { tenants: TENANTS, now: () => clock });
  });
  afterAll(() => api.close());

  const put = (id: string, body: unknown, key: string = KEYS.acme) => api.call('PUT', `/payments/${id}`, { key, body });
  const paymentStream = (tenant: string, id: string) => api.store.readStream(paymentStreamName(tenant as TenantId, id as PaymentId));
  const dayStream = (tenant: string, currency: string, day: string) => api.store.readStream(dailyLimitStreamName(tenant as TenantId, currency, day));

  describe('debit accounts', () => {
    it('when the debtor is one of the tenant accounts (in any spacing), then 201', async () => {
      onDay('2026-03-01');
      expect((await put('own-account', validPayment({ amount: '10.00' }))).status).toBe(201);
      expect((await put('own-account-compact', validPayment({ amount: '10.00', debtor: { name: 'Acme Ltd', iban: 'de89370400440532013000' } }))).status).toBe(201);
    });

    it('when the debtor IBAN is valid but not registered, then 422 debtor-account-not-registered pointing at it, and nothing is written', async () => {
      onDay('2026-03-02');
      const response = await put('foreign-account', validPayment({ debtor: { name: 'Mallory', iban: 'FR14 2004 1010 0505 0001 3M02 606' } }));
      const problem = await expectTenantProblem(response, 'debtor-account-not-registered', 'Debtor account not registered');
      expect(problem.errors).toEqual([{ pointer: '/debtor/iban', detail: 'not a debit account registered for your tenant' }]);
      expect(JSON.stringify(problem)).not.toContain('FR1420041010050500013M02606');
      expect(await paymentStream('acme', 'foreign-account')).toEqual([]);
      expect(await dayStream('acme', 'EUR', '2026-03-02')).toEqual([]);
      expect((await api.call('GET', '/payments/foreign-account', { key: KEYS.acme })).status).toBe(404);
    });

    it("when a tenant names another tenant's account as debtor, then 422 and nothing is written; its own account pays", async () => {
      onDay('2026-03-02');
      await expectTenantProblem(await put('cross-tenant', validPayment(), KEYS.globex), 'debtor-account-not-registered', 'Debtor account not registered');
      expect(await paymentStream('globex', 'cross-tenant')).toEqual([]);
      expect((await put('cross-tenant', validPayment({ debtor: { name: 'Globex', iban: GLOBEX_IBAN } }), KEYS.globex)).status).toBe(201);
    });
  });

  describe('per-payment maximum', () => {
    it('when the amount is exactly the maximum, then 201; one cent more is 422 naming the limit, and nothing is written or counted', async () => {
      onDay('2026-03-03');
      expect((await put('max-exact', validPayment({ amount: '1000.00' }))).status).toBe(201);
      const problem = await expectTenantProblem(await put('max-above', validPayment({ amount: '1000.01' })), 'payment-amount-limit-exceeded', 'Payment amount limit exceeded');
      expect(problem).toMatchObject({ limit: 'paymentAmountMax', currency: 'EUR', limitAmount: '1000.00', requestedAmount: '1000.01', remainingAmount: '1000.00' });
      expect(await paymentStream('acme', 'max-above')).toEqual([]);
      const day = await dayStream('acme', 'EUR', '2026-03-03');
      expect(day.map((event) => event.data['paymentId'])).toEqual(['max-exact']);
    });

    it('when the tenant has limits but none in the currency, then 422 currency-not-enabled listing its currencies', async () => {
      onDay('2026-03-03');
      const problem = await expectTenantProblem(await put('in-gbp', validPayment({ currency: 'GBP' })), 'currency-not-enabled', 'Currency not enabled');
      expect(problem).toMatchObject({ currency: 'GBP', enabledCurrencies: ['EUR', 'JPY'] });
      expect(await paymentStream('acme', 'in-gbp')).toEqual([]);
    });

    it('when a tenant has no limits, then only AMOUNT_MAJOR_MAX bounds it', async () => {
      onDay('2026-03-03');
      const body = validPayment({ amount: '1000000.00', currency: 'GBP', debtor: { name: 'Globex', iban: GLOBEX_IBAN } });
      expect((await put('globex-big', body, KEYS.globex)).status).toBe(201);
    });
  });

  describe('daily total', () => {
    it('when a payment would pass the day total, then 422 naming the limit, the day, what is used and what remains; a payment that fits still passes', async () => {
      onDay('2026-03-04');
      expect((await put('day-1', validPayment({ amount: '1000.00' }))).status).toBe(201);
      expect((await put('day-2', validPayment({ amount: '1000.00' }))).status).toBe(201);
      const problem = await expectTenantProblem(await put('day-3', validPayment({ amount: '600.00' })), 'daily-limit-exceeded', 'Daily limit exceeded');
      expect(problem).toMatchObject({ limit: 'dailyAmountMax', currency: 'EUR', day: '2026-03-04', limitAmount: '2500.00', usedAmount: '2000.00', remainingAmount: '500.00', requestedAmount: '600.00' });
      expect(await paymentStream('acme', 'day-3')).toEqual([]);
      // The refused 600.00 was not counted: exactly the 500.00 that remain still fit.
      expect((await put('day-4', validPayment({ amount: '500.00' }))).status).toBe(201);
      const refusedAgain = await expectTenantProblem(await put('day-5', validPayment({ amount: '0.01' })), 'daily-limit-exceeded', 'Daily limit exceeded');
      expect(refusedAgain).toMatchObject({ usedAmount: '2500.00', remainingAmount: '0.00' });
      const day = await dayStream('acme', 'EUR', '2026-03-04');
      expect(day.map((event) => [event.type, event.data['paymentId'], event.data['reservedMinorAfter']])).toEqual([
        ['DailyAmountReserved', 'day-1', 100_000],
        ['DailyAmountReserved', 'day-2', 200_000],
        ['DailyAmountReserved', 'day-4', 250_000],
      ]);
    });

    it('when the same request is retried, even on a full day, then 200 and it is not counted again', async () => {
      onDay('2026-03-05');
      expect((await put('retry-a', validPayment({ amount: '1000.00' }))).status).toBe(201);
      expect((await put('retry-b', validPayment({ amount: '1000.00' }))).status).toBe(201);
      expect((await put('retry-c', validPayment({ amount: '500.00' }))).status).toBe(201);
      expect((await put('retry-a', validPayment({ amount: '1000.00' }))).status).toBe(200);
      expect((await dayStream('acme', 'EUR', '2026-03-05')).length).toBe(3);
    });

    it('when the UTC day turns, then the total starts again; a currency counts on its own', async () => {
      onDay('2026-03-06', '23:59:59.999');
      expect((await put('late-1', validPayment({ amount: '1000.00' }))).status).toBe(201);
      expect((await put('late-2', validPayment({ amount: '1000.00' }))).status).toBe(201);
      expect((await put('late-3', validPayment({ amount: '1000.00' }))).status).toBe(422);
      expect((await put('late-jpy', validPayment({ amount: '100000', currency: 'JPY' }))).status).toBe(201);
      onDay('2026-03-07', '00:00:00.000');
      expect((await put('early-1', validPayment({ amount: '1000.00' }))).status).toBe(201);
      expect((await dayStream('acme', 'EUR', '2026-03-06')).length).toBe(2);
      expect((await dayStream('acme', 'EUR', '2026-03-07')).length).toBe(1);
    });

    it('when the API died between the reservation and the payment, then the day stays over-counted (the safe side) and the client retry reserves nothing more, though this API had read the day before', async () => {
      onDay('2026-03-10');
      // This API has read (and cached) the day before the other process wrote to it.
      expect((await put('before-crash', validPayment({ amount: '500.00' }))).status).toBe(201);
      // The first of the two appends of a PUT, exactly as requestPayment makes it, and then no payment: a crash between them.
      const instruction: PaymentInstruction = { amountMinor: 100_000, currency: 'EUR' as CurrencyCode, debtor: { name: 'Acme Ltd', iban: 'DE89370400440532013000' }, creditor: { name: 'Bob Supplier', iban: 'GB82WEST12345698765432' }, reference: 'Invoice 2026-11-001', metadata: {} };
      const limits = tenantDirectoryFor(TENANTS, []).policyOf('acme' as TenantId)!.limits!.get('EUR' as CurrencyCode)!;
      const beforeCrash = createDailyLimits({ store: api.store, newEventId: () => crypto.randomUUID(), conflictRetryCountMax: 1, queueLengthMax: 1 });
      const metadata = { now: clock, principal: { kind: 'client' as const, id: 'client:acme', tenantId: 'acme' as TenantId }, requestId: 'crashed', correlationId: 'crashed', causationId: 'crashed' };
      for (const id of ['crashed-retried', 'crashed-abandoned']) {
        await beforeCrash.reserve({ tenantId: 'acme' as TenantId, paymentId: id as PaymentId, instruction, payloadSha256: instructionHash(instruction), limits }, metadata);
      }
      expect(await paymentStream('acme', 'crashed-retried')).toEqual([]);

      // The client retries its request after the crash: the payment is written, its reservation found, not repeated.
      expect((await put('crashed-retried', validPayment({ amount: '1000.00' }))).status).toBe(201);
      // The abandoned one stays counted: 500.00 + 2 × 1000.00 is the whole 2500.00.
      const problem = await expectTenantProblem(await put('after-crash', validPayment({ amount: '0.01' })), 'daily-limit-exceeded', 'Daily limit exceeded');
      expect(problem).toMatchObject({ usedAmount: '2500.00', remainingAmount: '0.00' });
      expect((await dayStream('acme', 'EUR', '2026-03-10')).map((event) => event.data['paymentId'])).toEqual(['before-crash', 'crashed-retried', 'crashed-abandoned']);
    });

    it('when one new id is sent 12 times in parallel, then one payment, reserved once', async () => {
      onDay('2026-03-08');
      const answers = await Promise.all(Array.from({ length: 12 }, () => put('same-id', validPayment({ amount: '800.00' }))));
      const statuses = answers.map((answer) => answer.status).sort();
      expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
      expect((await dayStream('acme', 'EUR', '2026-03-08')).map((event) => event.data['amountMinor'])).toEqual([80_000]);
    });

    it('when 24 different payments race through two API servers on one store, then the accepted never pass the daily total and every refusal wrote nothing', async () => {
      onDay('2026-03-09');
      const second: ApiServer = createApiServer({ store: api.store, logger: pino({ level: 'silent' }), apiKeys: undefined, amountMajorMax: 1_000_000, bodyBytesMax: 65_536, tenants: TENANTS, now: () => clock });
      const { url } = await second.listen(0, '127.0.0.1');
      const secondFetch = contractFetch(url);
      try {
        const ids = Array.from({ length: 24 }, (_, index) => `race-${index}`);
        const answers = await Promise.all(
          ids.map((id, index) => {
            const init = { method: 'PUT', headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json' }, body: JSON.stringify(validPayment({ amount: '150.00' })) };
            return index % 2 === 0 ? api.fetch(`${api.url}/payments/${id}`, init) : secondFetch(`${url}/payments/${id}`, init);
          }),
        );
        const statuses = answers.map((answer) => answer.status);
        // 2500.00 / 150.00: 16 fit (2400.00), the 17th would make 2550.00.
        expect(statuses.filter((status) => status === 201)).toHaveLength(16);
        expect(statuses.filter((status) => status === 422)).toHaveLength(8);
        for (const answer of answers.filter((candidate) => candidate.status === 422)) {
          expect(((await answer.json()) as { type: string }).type).toBe('/problems/daily-limit-exceeded');
        }
        const written = await Promise.all(ids.map((id) => paymentStream('acme', id)));
        ids.forEach((_, index) => expect(written[index]!.length).toBe(statuses[index] === 201 ? 1 : 0));
        const day = await dayStream('acme', 'EUR', '2026-03-09');
        expect(day).toHaveLength(16);
        expect(day.map((event) => event.data['reservedMinorAfter'])).toEqual(Array.from({ length: 16 }, (_, index) => (index + 1) * 15_000));
        expect(new Set(day.map((event) => event.data['paymentId']))).toEqual(new Set(ids.filter((_, index) => statuses[index] === 201)));
      } finally {
        await second.close();
      }
    });
  });
});
