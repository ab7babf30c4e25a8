/**
 * Client refunds through real HTTP against a real store (PGlite, and server
 * PostgreSQL when it runs): every status the routes answer, tenancy, and the
 * race of 20 different refunds on one payment, which must never over-refund.
 * A payment is settled the way the gateway settles it: through the payments
 * module, on the same store.
 */
import { paymentStreamName, refundIdConflictAuditStreamName, type PaymentId, type TenantId } from '../../domain/ids';
import { KEYS, startTestApi, validPayment, type TestApi, type TestResponse } from '../../../test/support/api';
import { sqlEngines } from '../../../test/support/databases';
import { PaymentView } from '../payments/schemas';
import { RefundList, RefundView } from './schemas';

const PROBLEM = 'application/problem+json';
const gatewayMetadata = () => ({ now: new Date(), principal: { kind: 'system' as const, id: 'gateway:test' }, requestId: 'r', correlationId: 'c', causationId: 'c' });

async function expectProblem(response: TestResponse, status: number, code: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toContain(PROBLEM);
  const problem = await response.json();
  expect(problem).toMatchObject({ type: `/problems/${code}`, status });
  return problem;
}

describe.each(sqlEngines())('refunds API over HTTP on %s', (engine) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi(engine);
  });
  afterAll(() => api.close());

  const putRefund = (paymentId: string, refundId: string, body: unknown, key: string = KEYS.acme) => api.call('PUT', `/payments/${paymentId}/refunds/${refundId}`, { key, body });
  const streamOf = (paymentId: string, tenant = 'acme') => api.store.readStream(paymentStreamName(tenant as TenantId, paymentId as PaymentId));

  /** A payment created over HTTP and settled as the gateway settles it. */
  async function settledPayment(paymentId: string, amount = '100.00', key: string = KEYS.acme, tenant = 'acme') {
    expect((await api.call('PUT', `/payments/${paymentId}`, { key, body: validPayment({ amount }) })).status).toBe(201);
    const id = paymentId as PaymentId;
    await api.api.payments.execute(tenant as TenantId, id, { type: 'StartBankSubmission', data: { idempotencyKey: `k-${paymentId}`, endToEndId: `E2E${paymentId}`, gatewayId: 'test' }, metadata: gatewayMetadata() });
    await api.api.payments.execute(tenant as TenantId, id, { type: 'SettlePayment', data: { bankTransferId: `tr-${paymentId}` }, metadata: gatewayMetadata() });
  }

  it('when a refund is new, then 201 with Location, ETag and the representation; a GET answers the same; the payment shows what is left', async () => {
    await settledPayment('rf-new');
    const created = await putRefund('rf-new', 'r-1', { amount: '25.5', reason: 'damaged', metadata: { ticket: '7' } });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/payments/rf-new/refunds/r-1');
    expect(created.headers.get('etag')).toBe('"3"');
    const body = RefundView.strict().parse(await created.json());
    expect(body).toMatchObject({ id: 'r-1', paymentId: 'rf-new', status: 'requested', amount: '25.50', currency: 'EUR', reason: 'damaged', metadata: { ticket: '7' }, bank: null, failureCode: null });
    expect(new Date(body.createdAt).toISOString()).toBe(body.createdAt);

    const read = await api.call('GET', '/payments/rf-new/refunds/r-1', { key: KEYS.acme });
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual(body);

    const payment = PaymentView.strict().parse(await (await api.call('GET', '/payments/rf-new', { key: KEYS.acme })).json());
    expect(payment).toMatchObject({ status: 'settled', refundedAmount: '0.00', refundableAmount: '74.50' });
  });

  it('when the same refund is retried, then 200 with the same refund and nothing written', async () => {
    await settledPayment('rf-retry');
    const first = await putRefund('rf-retry', 'r-1', { amount: '10.00', currency: 'EUR' });
    expect(first.status).toBe(201);
    const retry = await putRefund('rf-retry', 'r-1', { amount: '10', currency: 'EUR' });
    expect(retry.status).toBe(200);
    expect(retry.headers.get('location')).toBeNull();
    expect(await retry.json()).toEqual(await first.json());
    expect(await streamOf('rf-retry')).toHaveLength(4);
  });

  it('when the refund id is reused with other details, then 409 refund-id-conflict with differingFields, audited, and nothing written to the payment', async () => {
    await settledPayment('rf-conflict');
    expect((await putRefund('rf-conflict', 'r-1', { amount: '10.00' })).status).toBe(201);
    const response = await putRefund('rf-conflict', 'r-1', { amount: '11.00', reason: 'other' });
    const problem = await expectProblem(response, 409, 'refund-id-conflict');
    expect(problem.differingFields).toEqual(['amount', 'reason']);
    const audit = await api.store.readStream(refundIdConflictAuditStreamName('acme' as TenantId));
    const entry = audit.find((event) => event.data['paymentId'] === 'rf-conflict');
    expect(entry?.type).toBe('RefundIdConflictRefused');
    expect(entry?.data).toMatchObject({ refundId: 'r-1', differingFields: ['amount', 'reason'], attemptedBy: expect.stringContaining('acme') });
    expect(await streamOf('rf-conflict')).toHaveLength(4);
  });

  it('when the payment is not settled, then 409 payment-not-refundable with its status', async () => {
    expect((await api.call('PUT', '/payments/rf-open', { key: KEYS.acme, body: validPayment() })).status).toBe(201);
    const problem = await expectProblem(await putRefund('rf-open', 'r-1', { amount: '1.00' }), 409, 'payment-not-refundable');
    expect(problem.paymentStatus).toBe('requested');
    expect(await streamOf('rf-open')).toHaveLength(1);
  });

  it('when refunds would exceed the payment, then 409 refund-exceeds-payment with refundableAmount', async () => {
    await settledPayment('rf-exceed', '50.00');
    expect((await putRefund('rf-exceed', 'r-1', { amount: '30.00' })).status).toBe(201);
    const problem = await expectProblem(await putRefund('rf-exceed', 'r-2', { amount: '20.01' }), 409, 'refund-exceeds-payment');
    expect(problem.refundableAmount).toBe('20.00');
    expect((await putRefund('rf-exceed', 'r-2', { amount: '20.00' })).status).toBe(201);
  });

  it('when the currency is another or the amount has too many decimals, or the body is wrong, then 400 listing every problem and nothing written', async () => {
    await settledPayment('rf-bad');
    const mismatch = await expectProblem(await putRefund('rf-bad', 'r-1', { amount: '1.001', currency: 'USD' }), 400, 'validation-failed');
    expect(mismatch.errors.map((error: { pointer: string }) => error.pointer)).toEqual(['/currency', '/amount']);
    const shape = await expectProblem(await putRefund('rf-bad', 'r-1', { amount: 5, reason: '', surprise: 1 }), 400, 'validation-failed');
    expect(shape.errors.map((error: { pointer: string }) => error.pointer).sort()).toEqual(['/amount', '/reason', '/surprise']);
    const badId = await expectProblem(await putRefund('rf-bad', 'r%20bad', { amount: '1.00' }), 400, 'validation-failed');
    expect(badId.errors[0].pointer).toBe('#/path/refundId');
    expect(await streamOf('rf-bad')).toHaveLength(3);
  });

  it("when another tenant asks for the payment or its refunds, then 404; staff read with ?tenant=", async () => {
    await settledPayment('rf-tenant');
    expect((await putRefund('rf-tenant', 'r-1', { amount: '1.00' })).status).toBe(201);
    await expectProblem(await putRefund('rf-tenant', 'r-2', { amount: '1.00' }, KEYS.globex), 404, 'payment-not-found');
    await expectProblem(await api.call('GET', '/payments/rf-tenant/refunds/r-1', { key: KEYS.globex }), 404, 'payment-not-found');
    await expectProblem(await api.call('GET', '/payments/rf-tenant/refunds', { key: KEYS.globex }), 404, 'payment-not-found');
    await expectProblem(await api.call('GET', '/payments/rf-tenant/refunds/nope', { key: KEYS.acme }), 404, 'refund-not-found');
    const staff = await api.call('GET', '/payments/rf-tenant/refunds/r-1?tenant=acme', { key: KEYS.analyst });
    expect(staff.status).toBe(200);
    await expectProblem(await api.call('GET', '/payments/rf-tenant/refunds/r-1', { key: KEYS.analyst }), 400, 'validation-failed');
    // Staff never create refunds for a client.
    expect((await putRefund('rf-tenant', 'r-3', { amount: '1.00' }, KEYS.operator)).status).toBe(403);
    expect(await streamOf('rf-tenant')).toHaveLength(4);
  });

  it('when a payment has refunds, then the list gives them oldest first with the refunded and refundable amounts', async () => {
    await settledPayment('rf-list', '10.00');
    for (const [id, amount] of [['a', '1.00'], ['b', '2.00'], ['c', '3.00']]) expect((await putRefund('rf-list', id!, { amount })).status).toBe(201);
    const list = RefundList.strict().parse(await (await api.call('GET', '/payments/rf-list/refunds', { key: KEYS.acme })).json());
    expect(list.items.map((refund) => [refund.id, refund.amount])).toEqual([['a', '1.00'], ['b', '2.00'], ['c', '3.00']]);
    expect(list).toMatchObject({ paymentId: 'rf-list', currency: 'EUR', refundedAmount: '0.00', refundableAmount: '4.00' });
  });

  it('when 20 different refunds race on one payment over HTTP, then they never add up to more than the payment', async () => {
    await settledPayment('rf-race', '100.00');
    // 20 × 7.00 asks for 140.00 of 100.00: exactly 14 fit.
    const responses = await Promise.all(Array.from({ length: 20 }, (_, index) => putRefund('rf-race', `race-${index}`, { amount: '7.00' })));
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses.filter((status) => status === 201)).toHaveLength(14);
    expect(statuses.filter((status) => status === 409)).toHaveLength(6);
    for (const response of responses.filter((r) => r.status === 409)) expect((await response.json()).refundableAmount).toBe('2.00');

    const stream = await streamOf('rf-race');
    const recorded = stream.filter((event) => event.type === 'RefundRequested').map((event) => Number(event.data['amountMinor']));
    expect(recorded).toHaveLength(14);
    expect(recorded.reduce((sum, amount) => sum + amount, 0)).toBe(9_800);
    const payment = await (await api.call('GET', '/payments/rf-race', { key: KEYS.acme })).json();
    expect(payment.refundableAmount).toBe('2.00');
  });
});
