import { connect } from 'node:net';
import { paymentIdConflictAuditStreamName, paymentStreamName, type PaymentId, type TenantId } from '../../domain/ids';
import { KEYS, startTestApi, validPayment, type TestApi, type TestResponse } from '../../../test/support/api';
import { sqlEngines } from '../../../test/support/databases';
import { PaymentView } from './schemas';

const PROBLEM = 'application/problem+json';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The body is exactly a PaymentView (no field missing, none extra) and its ETag is its revision. */
async function expectPaymentRepresentation(response: TestResponse) {
  const body: unknown = await response.json();
  const parsed = PaymentView.strict().safeParse(body);
  expect(parsed.error?.issues).toBeUndefined();
  const payment = parsed.data!;
  for (const time of [payment.createdAt, payment.updatedAt]) expect(new Date(time).toISOString()).toBe(time);
  expect(response.headers.get('etag')).toBe(`"${payment.revision}"`);
  return payment;
}

/** An RFC 9457 problem with its media type, type, title, status and the request id of the answer. */
async function expectProblem(response: TestResponse, status: number, code: string, title: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toContain(PROBLEM);
  const problem = await response.json();
  expect(problem).toMatchObject({ type: `/problems/${code}`, title, status });
  expect(problem.requestId).toBe(response.headers.get('x-request-id'));
  expect(problem.requestId).toEqual(expect.any(String));
  return problem;
}

const NON_OBJECT_BODIES: Array<[string, string]> = [['null', 'null'], ['an array', '[]'], ['a string', '"x"'], ['a number', '42']];
const systemMetadata = () => ({ now: new Date(), principal: { kind: 'system' as const, id: 'gateway:test' }, requestId: 'r', correlationId: 'c', causationId: 'c' });

describe.each(sqlEngines())('payments API over HTTP on %s', (engine) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi(engine);
  });
  afterAll(() => api.close());

  const put = (id: string, body: unknown, key: string = KEYS.acme, headers: Record<string, string> = {}) => api.call('PUT', `/payments/${id}`, { key, body, headers });

  describe('PUT /payments/{id}', () => {
    it('when the id is new, then 201 with Location, ETag and the representation', async () => {
      const response = await put('create-1', validPayment({ metadata: { order: '42' } }));
      expect(response.status).toBe(201);
      expect(response.headers.get('location')).toBe('/payments/create-1');
      expect(response.headers.get('etag')).toBe('"0"');
      expect(response.headers.get('x-log-position')).toMatch(/^\d+\/\d+$/);
      const body = await response.json();
      expect(body).toMatchObject({
        id: 'create-1',
        status: 'requested',
        amount: '125.50',
        currency: 'EUR',
        debtor: { name: 'Acme Ltd', iban: 'DE89370400440532013000' },
        creditor: { name: 'Bob Supplier', iban: 'GB82WEST12345698765432' },
        reference: 'Invoice 2026-11-001',
        metadata: { order: '42' },
        revision: 0,
      });
    });

    it('when a payment is created and read, then both bodies are exactly the Payment schema with ISO times and the ETag of their revision', async () => {
      const before = Date.now();
      const created = await put('repr-1', validPayment());
      const after = Date.now();
      expect(created.status).toBe(201);
      const body = await expectPaymentRepresentation(created);
      expect(body).toMatchObject({ id: 'repr-1', status: 'requested', revision: 0, cancellationReason: null, rejectionReason: null, bank: null, metadata: {} });
      expect(body.updatedAt).toBe(body.createdAt);
      expect(Date.parse(body.createdAt)).toBeGreaterThanOrEqual(before);
      expect(Date.parse(body.createdAt)).toBeLessThanOrEqual(after);

      const read = await api.call('GET', '/payments/repr-1', { key: KEYS.acme });
      expect(read.status).toBe(200);
      expect(await expectPaymentRepresentation(read)).toEqual(body);
    });

    it('when the same request is retried in another canonical form, then 200 with the same payment and no new event', async () => {
      await put('retry-1', validPayment({ metadata: { a: '1', b: '2' } }));
      const retry = await put('retry-1', { ...validPayment({ amount: '125.5', metadata: { b: '2', a: '1' } }), debtor: { iban: 'de89370400440532013000', name: 'Acme Ltd' } });
      expect(retry.status).toBe(200);
      expect(retry.headers.get('etag')).toBe('"0"');
      expect((await retry.json()).amount).toBe('125.50');
      const events = await api.store.readStream(paymentStreamName('acme' as TenantId, 'retry-1' as PaymentId));
      expect(events).toHaveLength(1);
    });

    it('when the id is reused with other details, then 409 listing the differing fields and the attempt is audited', async () => {
      await put('conflict-1', validPayment());
      const response = await put('conflict-1', validPayment({ amount: '99.00', reference: 'other' }), KEYS.acme, { 'x-request-id': 'conflict-req-1' });
      expect(response.status).toBe(409);
      expect(response.headers.get('content-type')).toContain(PROBLEM);
      const problem = await response.json();
      expect(problem.type).toBe('/problems/payment-id-conflict');
      expect(problem.differingFields).toEqual(['amount', 'reference']);
      expect(problem.requestId).toBe('conflict-req-1');
      const audit = await api.store.readStream(paymentIdConflictAuditStreamName('acme' as TenantId));
      const entry = audit.find((event) => event.data['paymentId'] === 'conflict-1');
      expect(entry?.type).toBe('PaymentIdConflictRefused');
      expect(entry?.data).toMatchObject({ differingFields: ['amount', 'reference'], attemptedBy: expect.stringContaining('client:acme') });
      expect(entry?.data['payloadSha256']).toMatch(/^[0-9a-f]{64}$/);
      expect(entry?.metadata['requestId']).toBe('conflict-req-1');
      const stream = await api.store.readStream(paymentStreamName('acme' as TenantId, 'conflict-1' as PaymentId));
      expect(stream).toHaveLength(1);
    });

    it('when If-None-Match: * and the payment exists, then 412; when it is new, then 201', async () => {
      expect((await put('create-only', validPayment(), KEYS.acme, { 'if-none-match': '*' })).status).toBe(201);
      const again = await put('create-only', validPayment(), KEYS.acme, { 'if-none-match': '*' });
      expect(again.status).toBe(412);
      expect(again.headers.get('content-type')).toContain(PROBLEM);
    });

    it('when two tenants use the same id, then they get two different payments and never see each other', async () => {
      expect((await put('shared-id', validPayment({ amount: '1.00' }), KEYS.acme)).status).toBe(201);
      // Each demo tenant debits its own registered account (src/config/tenants.ts).
      expect((await put('shared-id', validPayment({ amount: '2.00', debtor: { name: 'Globex Corp', iban: 'GB29NWBK60161331926819' } }), KEYS.globex)).status).toBe(201);
      expect((await (await api.call('GET', '/payments/shared-id', { key: KEYS.globex })).json()).amount).toBe('2.00');
      expect((await (await api.call('GET', '/payments/shared-id', { key: KEYS.acme })).json()).amount).toBe('1.00');
      expect((await api.call('GET', '/payments/only-acme', { key: KEYS.globex })).status).toBe(404);
    });

    it('when every field is wrong, then 400 listing each problem and nothing is written', async () => {
      const response = await put('bad-body', {
        amount: 12.5,
        currency: 'eur',
        debtor: { name: '', iban: 'DE00 0000' },
        creditor: { iban: 'GB82WEST12345698765432' },
        reference: 'x'.repeat(141),
        metadata: { 'bad key!': 'v' },
        surprise: true,
      });
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toContain(PROBLEM);
      const problem = await response.json();
      const pointers = problem.errors.map((error: { pointer: string }) => error.pointer).sort();
      expect(pointers).toEqual(
        expect.arrayContaining(['/amount', '/currency', '/debtor/name', '/debtor/iban', '/creditor/name', '/reference', '/surprise']),
      );
      expect(pointers.some((pointer: string) => pointer.startsWith('/metadata'))).toBe(true);
      expect(await api.store.readStream(paymentStreamName('acme' as TenantId, 'bad-body' as PaymentId))).toEqual([]);
    });

    it.each(NON_OBJECT_BODIES)('when the JSON body is %s, then 400 problem naming the body and nothing is written', async (_name, rawBody) => {
      const id = `non-object-${rawBody.length}-${rawBody.charCodeAt(0)}`;
      const response = await api.call('PUT', `/payments/${id}`, { key: KEYS.acme, rawBody, headers: { 'content-type': 'application/json' } });
      const problem = await expectProblem(response, 400, 'validation-failed', 'The request is invalid');
      expect(problem.errors).toEqual([expect.objectContaining({ pointer: '/' })]);
      expect(await api.store.readStream(paymentStreamName('acme' as TenantId, id as PaymentId))).toEqual([]);
      expect((await api.call('GET', `/payments/${id}`, { key: KEYS.acme })).status).toBe(404);
    });

    it.each([
      ['more decimals than EUR allows', { amount: '1.001' }, '/amount'],
      ['decimals on JPY', { amount: '100.5', currency: 'JPY' }, '/amount'],
      ['zero', { amount: '0.00' }, '/amount'],
      ['above the maximum', { amount: '1000000.01' }, '/amount'],
      ['an unknown currency', { currency: 'XXX' }, '/currency'],
    ])('when the amount is %s, then 400 naming the field', async (_name, override, pointer) => {
      const response = await put('bad-amount', validPayment(override));
      expect(response.status).toBe(400);
      expect((await response.json()).errors).toEqual([expect.objectContaining({ pointer })]);
    });

    it('when the payment id has characters outside the alphabet or is too long, then 400 naming the path parameter', async () => {
      for (const id of ['has%20space', 'x'.repeat(65), 'slash%2Fid']) {
        const response = await put(id, validPayment());
        expect(response.status).toBe(400);
        expect((await response.json()).errors[0].pointer).toBe('#/path/id');
      }
    });

    it('when the body is not JSON, malformed or too large, then 415, 400 and 413 problems', async () => {
      const text = await api.call('PUT', '/payments/media', { key: KEYS.acme, rawBody: 'amount=1', headers: { 'content-type': 'text/plain' } });
      expect(text.status).toBe(415);
      const malformed = await api.call('PUT', '/payments/media', { key: KEYS.acme, rawBody: '{"amount": ', headers: { 'content-type': 'application/json' } });
      expect(malformed.status).toBe(400);
      expect((await malformed.json()).type).toBe('/problems/malformed-json');
      const huge = await api.call('PUT', '/payments/media', { key: KEYS.acme, body: validPayment({ reference: 'x'.repeat(70_000) }) });
      expect(huge.status).toBe(413);
      for (const response of [text, huge]) expect(response.headers.get('content-type')).toContain(PROBLEM);
    });

    it('when 50 identical PUTs for a new id race, then exactly one 201, the rest 200, and one event', async () => {
      const responses = await Promise.all(Array.from({ length: 50 }, () => put('race-same', validPayment())));
      const statuses = responses.map((response) => response.status);
      expect(statuses.filter((status) => status === 201)).toHaveLength(1);
      expect(statuses.filter((status) => status === 200)).toHaveLength(49);
      expect(await api.store.readStream(paymentStreamName('acme' as TenantId, 'race-same' as PaymentId))).toHaveLength(1);
    });

    it('when 20 PUTs with different amounts race for one id, then one winner and 409 for every other', async () => {
      const responses = await Promise.all(Array.from({ length: 20 }, (_, index) => put('race-different', validPayment({ amount: `${index + 1}.00` }))));
      const statuses = responses.map((response) => response.status);
      expect(statuses.filter((status) => status === 201)).toHaveLength(1);
      expect(statuses.filter((status) => status === 409)).toHaveLength(19);
      const stream = await api.store.readStream(paymentStreamName('acme' as TenantId, 'race-different' as PaymentId));
      expect(stream).toHaveLength(1);
      const winner = responses[statuses.indexOf(201)]!;
      expect((await winner.json()).amount).toBe(`${(stream[0]!.data['amountMinor'] as number) / 100}.00`);
    });
  });

  describe('input PostgreSQL cannot store, and requests that cannot be read', () => {
    it.each([
      ['a NUL character in a name', { debtor: { name: 'Acme\u0000Ltd', iban: 'DE89370400440532013000' } }, '/debtor/name'],
      ['an unpaired surrogate in the reference', { reference: 'Invoice \ud800' }, '/reference'],
      ['a NUL character in a metadata value', { metadata: { order: '4\u00002' } }, '/metadata/order'],
    ])('when the body holds %s, then 400 naming the field and nothing is written', async (_case, override, pointer) => {
      const id = `unstorable-${pointer.replace(/\//g, '-')}`;
      const problem = await expectProblem(await put(id, validPayment(override)), 400, 'validation-failed', 'The request is invalid');
      expect(problem.errors).toEqual([expect.objectContaining({ pointer })]);
      expect(await api.store.readStream(paymentStreamName('acme' as TenantId, id as PaymentId))).toEqual([]);
    });

    it('when a cancel reason holds a NUL character, then 400 and the payment is unchanged', async () => {
      expect((await put('unstorable-cancel', validPayment())).status).toBe(201);
      const response = await api.call('POST', '/payments/unstorable-cancel/cancel', { key: KEYS.acme, body: { reason: 'no\u0000thanks' } });
      const problem = await expectProblem(response, 400, 'validation-failed', 'The request is invalid');
      expect(problem.errors).toEqual([expect.objectContaining({ pointer: '/reason' })]);
      expect(await api.store.readStream(paymentStreamName('acme' as TenantId, 'unstorable-cancel' as PaymentId))).toHaveLength(1);
    });

    it('when another field has the wrong type, then the amount problems are listed as well', async () => {
      const problem = await expectProblem(await put('every-problem', validPayment({ amount: '-1', reference: 5 })), 400, 'validation-failed', 'The request is invalid');
      expect(problem.errors.map((error: { pointer: string }) => error.pointer).sort()).toEqual(['/amount', '/reference']);
      const unknownCurrency = await expectProblem(await put('every-problem-2', { ...validPayment({ amount: '1', currency: 'XXX' }), creditor: undefined }), 400, 'validation-failed', 'The request is invalid');
      expect(unknownCurrency.errors.map((error: { pointer: string }) => error.pointer).sort()).toEqual(['/creditor', '/currency']);
    });

    it('when the amount is no decimal and the currency unknown, then both are listed with the other missing fields, and nothing is written', async () => {
      const problem = await expectProblem(await put('amount-and-currency', { amount: 'x', currency: 'nope' }), 400, 'validation-failed', 'The request is invalid');
      expect(problem.errors.map((error: { pointer: string }) => error.pointer).sort()).toEqual(['/amount', '/creditor', '/currency', '/debtor']);
      const wellFormed = await expectProblem(await put('amount-and-currency', { amount: '1.234', currency: 'EUR' }), 400, 'validation-failed', 'The request is invalid');
      expect(wellFormed.errors).toEqual(expect.arrayContaining([{ pointer: '/amount', detail: 'EUR allows at most 2 decimals' }]));
      expect(await api.store.readStream(paymentStreamName('acme' as TenantId, 'amount-and-currency' as PaymentId))).toEqual([]);
    });

    it('when a member name repeats (the amount twice, a debtor name twice), then 400 pointing at each repeat and nothing is written', async () => {
      const rawBody = JSON.stringify(validPayment()).replace('"amount":"125.50"', '"amount":"125.50","debtor":{"name":"A","name":"B","iban":"DE89370400440532013000"}').replace(/}$/, ',"amount":"999999.99"}');
      const response = await api.call('PUT', '/payments/duplicate-member', { key: KEYS.acme, rawBody, headers: { 'content-type': 'application/json' } });
      const problem = await expectProblem(response, 400, 'validation-failed', 'The request is invalid');
      expect(problem.errors.map((error: { pointer: string }) => error.pointer).sort()).toEqual(['/amount', '/debtor', '/debtor/name']);
      expect(await api.store.readStream(paymentStreamName('acme' as TenantId, 'duplicate-member' as PaymentId))).toEqual([]);
      const escaped = await api.call('PUT', '/payments/duplicate-member', { key: KEYS.acme, rawBody: JSON.stringify(validPayment()).replace(/}$/, ',"\\u0061mount":"1.00"}'), headers: { 'content-type': 'application/json' } });
      expect((await expectProblem(escaped, 400, 'validation-failed', 'The request is invalid')).errors).toEqual([expect.objectContaining({ pointer: '/amount' })]);
      const cancel = await api.call('POST', '/payments/duplicate-member/cancel', { key: KEYS.acme, rawBody: '{"reason":"a","reason":"b"}', headers: { 'content-type': 'application/json' } });
      expect((await expectProblem(cancel, 400, 'validation-failed', 'The request is invalid')).errors).toEqual([expect.objectContaining({ pointer: '/reason' })]);
    });

    it('when metadata uses the key __proto__, then 400 rather than a silently dropped entry', async () => {
      const rawBody = JSON.stringify(validPayment()).replace(/}$/, ',"metadata":{"__proto__":"x"}}');
      const response = await api.call('PUT', '/payments/proto-key', { key: KEYS.acme, rawBody, headers: { 'content-type': 'application/json' } });
      const problem = await expectProblem(response, 400, 'validation-failed', 'The request is invalid');
      expect(problem.errors).toEqual([expect.objectContaining({ pointer: '/metadata/__proto__' })]);
    });

    it.each(['.', '..'])('when the payment id is "%s", then 400: URLs drop such segments, so it could never be read back', async (id) => {
      // Sent as typed (curl --path-as-is): fetch would remove the segment before sending.
      const { port } = new URL(api.url);
      const body = JSON.stringify(validPayment());
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () => {
          socket.end(
            `PUT /payments/${id} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${KEYS.acme}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
          );
        });
        let received = '';
        socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
        socket.on('end', () => resolve(received));
        socket.on('error', reject);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer).toContain('"pointer":"#/path/id"');
    });

    it.each(['GET', 'PUT'])('when the path is not valid percent-encoding (%s), then 400, not 500', async (method) => {
      const response = await api.call(method, '/payments/%zz', { key: KEYS.acme, ...(method === 'PUT' ? { body: validPayment() } : {}) });
      await expectProblem(response, 400, 'bad-request', 'Bad request');
    });

    it('when Content-Encoding says gzip but the body is not, then 400 and nothing is written', async () => {
      const response = await api.call('PUT', '/payments/not-gzip', { key: KEYS.acme, rawBody: JSON.stringify(validPayment()), headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } });
      await expectProblem(response, 400, 'bad-request', 'Bad request');
      expect(await api.store.readStream(paymentStreamName('acme' as TenantId, 'not-gzip' as PaymentId))).toEqual([]);
    });
  });

  describe('GET /payments/{id}', () => {
    it('when If-None-Match carries the current ETag, then 304; when stale, then 200', async () => {
      await put('etag-1', validPayment());
      const first = await api.call('GET', '/payments/etag-1', { key: KEYS.acme });
      expect(first.status).toBe(200);
      const etag = first.headers.get('etag')!;
      expect((await api.call('GET', '/payments/etag-1', { key: KEYS.acme, headers: { 'if-none-match': etag } })).status).toBe(304);
      expect((await api.call('GET', '/payments/etag-1', { key: KEYS.acme, headers: { 'if-none-match': '"7"' } })).status).toBe(200);
    });

    it('when staff read a payment, then they name the tenant; without it, 400', async () => {
      await put('staff-read', validPayment());
      expect((await api.call('GET', '/payments/staff-read?tenant=acme', { key: KEYS.operator })).status).toBe(200);
      expect((await api.call('GET', '/payments/staff-read', { key: KEYS.analyst })).status).toBe(400);
    });

    it('when an analyst reads a payment, then both IBANs are masked to their last four; the client and operators see them whole', async () => {
      await put('masked-read', validPayment());
      const full = { debtor: 'DE89370400440532013000', creditor: 'GB82WEST12345698765432' };
      const analyst = await api.call('GET', '/payments/masked-read?tenant=acme', { key: KEYS.analyst });
      expect(analyst.status).toBe(200);
      const text = await analyst.text();
      expect(JSON.parse(text)).toMatchObject({ debtor: { name: 'Acme Ltd', iban: '****3000' }, creditor: { name: 'Bob Supplier', iban: '****5432' } });
      expect(text).not.toContain(full.debtor);
      expect(text).not.toContain(full.creditor);
      // The same revision, so the same ETag: a 304 holds nothing the analyst may not see.
      expect((await api.call('GET', '/payments/masked-read?tenant=acme', { key: KEYS.analyst, headers: { 'if-none-match': analyst.headers.get('etag')! } })).status).toBe(304);
      for (const key of [KEYS.acme, KEYS.operator, KEYS.supervisor]) {
        const body = await (await api.call('GET', '/payments/masked-read?tenant=acme', { key })).json();
        expect([body.debtor.iban, body.creditor.iban]).toEqual([full.debtor, full.creditor]);
      }
    });
  });

  describe('POST /payments/{id}/cancel', () => {
    it('when a requested payment is cancelled twice, then both answer 200 with the cancelled payment and one event is written', async () => {
      await put('cancel-1', validPayment());
      const first = await api.call('POST', '/payments/cancel-1/cancel', { key: KEYS.acme, body: { reason: 'customer changed mind' } });
      const second = await api.call('POST', '/payments/cancel-1/cancel', { key: KEYS.acme, body: { reason: 'again' } });
      expect([first.status, second.status]).toEqual([200, 200]);
      expect(await second.json()).toMatchObject({ status: 'cancelled', cancellationReason: 'customer changed mind', revision: 1 });
      expect(await api.store.readStream(paymentStreamName('acme' as TenantId, 'cancel-1' as PaymentId))).toHaveLength(2);
    });

    it('when a payment is cancelled, then the body is the Payment schema at revision 1 with a later updatedAt and the same createdAt', async () => {
      const created = await expectPaymentRepresentation(await put('cancel-repr', validPayment()));
      await sleep(5);
      const before = Date.now();
      const response = await api.call('POST', '/payments/cancel-repr/cancel', { key: KEYS.acme, body: { reason: 'duplicate order' } });
      const after = Date.now();
      expect(response.status).toBe(200);
      const cancelled = await expectPaymentRepresentation(response);
      expect(cancelled).toMatchObject({ status: 'cancelled', revision: 1, cancellationReason: 'duplicate order', createdAt: created.createdAt });
      expect(cancelled.updatedAt).not.toBe(created.updatedAt);
      expect(Date.parse(cancelled.updatedAt)).toBeGreaterThanOrEqual(before);
      expect(Date.parse(cancelled.updatedAt)).toBeLessThanOrEqual(after);
      const read = await api.call('GET', '/payments/cancel-repr', { key: KEYS.acme });
      expect(await expectPaymentRepresentation(read)).toEqual(cancelled);
    });

    it('when If-Match carries a weak ETag, even of the current revision, then 412 and nothing is written (strong comparison)', async () => {
      expect((await put('cancel-weak', validPayment())).status).toBe(201);
      const response = await api.call('POST', '/payments/cancel-weak/cancel', { key: KEYS.acme, body: { reason: 'r' }, headers: { 'if-match': 'W/"0"' } });
      await expectProblem(response, 412, 'precondition-failed', 'Precondition failed');
      expect(await api.store.readStream(paymentStreamName('acme' as TenantId, 'cancel-weak' as PaymentId))).toHaveLength(1);
    });

    it('when If-Match carries a stale ETag, then 412 and nothing is written', async () => {
      await put('cancel-stale', validPayment());
      const response = await api.call('POST', '/payments/cancel-stale/cancel', { key: KEYS.acme, body: { reason: 'r' }, headers: { 'if-match': '"5"' } });
      await expectProblem(response, 412, 'precondition-failed', 'Precondition failed');
      expect(await api.store.readStream(paymentStreamName('acme' as TenantId, 'cancel-stale' as PaymentId))).toHaveLength(1);
      expect((await api.call('POST', '/payments/cancel-stale/cancel', { key: KEYS.acme, body: { reason: 'r' }, headers: { 'if-match': '"0"' } })).status).toBe(200);
    });

    it('when the gateway already recorded its intent, then cancel answers 409', async () => {
      await put('cancel-late', validPayment());
      await api.api.payments.execute('acme' as TenantId, 'cancel-late' as PaymentId, {
        type: 'StartBankSubmission',
        data: { idempotencyKey: 'key-1', endToEndId: 'e2e-1', gatewayId: 'g1' },
        metadata: systemMetadata(),
      });
      const response = await api.call('POST', '/payments/cancel-late/cancel', { key: KEYS.acme, body: { reason: 'too late' } });
      const problem = await expectProblem(response, 409, 'payment-not-cancellable', 'Payment not cancellable');
      // The payment's state is an extension of its own: RFC 9457's `status` stays the HTTP status.
      expect(problem.paymentStatus).toBe('submitted');
    });

    it('when the payment does not exist or the reason is missing, then 404 and 400', async () => {
      expect((await api.call('POST', '/payments/nope/cancel', { key: KEYS.acme, body: { reason: 'r' } })).status).toBe(404);
      await put('cancel-bad', validPayment());
      const response = await api.call('POST', '/payments/cancel-bad/cancel', { key: KEYS.acme, body: {} });
      expect(response.status).toBe(400);
      expect((await response.json()).errors[0].pointer).toBe('/reason');
    });

    it.each(NON_OBJECT_BODIES)('when the JSON body is %s, then 400 problem naming the body and the payment is unchanged', async (_name, rawBody) => {
      const id = `cancel-non-object-${rawBody.length}-${rawBody.charCodeAt(0)}`;
      expect((await put(id, validPayment())).status).toBe(201);
      const response = await api.call('POST', `/payments/${id}/cancel`, { key: KEYS.acme, rawBody, headers: { 'content-type': 'application/json' } });
      const problem = await expectProblem(response, 400, 'validation-failed', 'The request is invalid');
      expect(problem.errors).toEqual([expect.objectContaining({ pointer: '/' })]);
      expect(await api.store.readStream(paymentStreamName('acme' as TenantId, id as PaymentId))).toHaveLength(1);
      expect((await (await api.call('GET', `/payments/${id}`, { key: KEYS.acme })).json()).status).toBe('requested');
    });

    it.each(NON_OBJECT_BODIES)('when the JSON body is %s and the payment does not exist, then 400 problem and no stream is started', async (_name, rawBody) => {
      const id = `cancel-none-${rawBody.length}-${rawBody.charCodeAt(0)}`;
      const response = await api.call('POST', `/payments/${id}/cancel`, { key: KEYS.acme, rawBody, headers: { 'content-type': 'application/json' } });
      await expectProblem(response, 400, 'validation-failed', 'The request is invalid');
      expect(await api.store.readStream(paymentStreamName('acme' as TenantId, id as PaymentId))).toEqual([]);
      expect((await api.call('GET', `/payments/${id}`, { key: KEYS.acme })).status).toBe(404);
    });
  });

  describe('auth, routing and request ids', () => {
    it('when the key is missing or unknown, then 401 problems with a Bearer challenge; when the role is wrong, then a 403 problem; nothing is written', async () => {
      for (const key of [undefined, 'not-a-key-at-all-000000']) {
        const response = await api.call('PUT', '/payments/auth-1', { ...(key ? { key } : {}), body: validPayment() });
        await expectProblem(response, 401, 'unauthenticated', 'Unauthenticated');
        expect(response.headers.get('www-authenticate')).toBe('Bearer realm="paystream"');
      }
      const forbidden = await api.call('PUT', '/payments/auth-1', { key: KEYS.analyst, body: validPayment(), headers: { 'x-request-id': 'forbidden-req-1' } });
      const problem = await expectProblem(forbidden, 403, 'forbidden', 'Forbidden');
      expect(problem.requestId).toBe('forbidden-req-1');
      expect(await api.store.readStream(paymentStreamName('acme' as TenantId, 'auth-1' as PaymentId))).toEqual([]);
    });

    it('when the scheme is written in lower case, then the key is accepted (schemes are case-insensitive)', async () => {
      const response = await api.call('GET', '/payments/nope-lower', { headers: { authorization: `bearer ${KEYS.acme}` } });
      await expectProblem(response, 404, 'payment-not-found', 'Payment not found');
    });

    it('when two Authorization headers are sent, then 401: which key was meant cannot be known', async () => {
      // A raw request: fetch and http.request fold repeated headers into one.
      const { port } = new URL(api.url);
      const head = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () => {
          socket.end(`GET /payments/two-keys HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${KEYS.globex}\r\nAuthorization: Bearer ${KEYS.acme}\r\nConnection: close\r\n\r\n`);
        });
        let received = '';
        socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
        socket.on('end', () => resolve(received));
        socket.on('error', reject);
      });
      expect(head).toMatch(/^HTTP\/1\.1 401 /);
      expect(head.toLowerCase()).toContain(`content-type: ${PROBLEM}`);
    });

    it.each([
      ['POST', '/health/live'],
      ['DELETE', '/openapi.json'],
      ['POST', '/docs'],
    ])('when a public route gets the wrong method (%s %s), then 405 with Allow, without asking for a key', async (method, path) => {
      const response = await api.call(method, path);
      await expectProblem(response, 405, 'method-not-allowed', 'Method not allowed');
      expect(response.headers.get('allow')).toBe('GET, HEAD');
    });

    it('when a route is unknown or the method wrong, then 404 and 405 problems, the 405 with Allow', async () => {
      await expectProblem(await api.call('GET', '/nowhere', { key: KEYS.acme }), 404, 'not-found', 'Not found');
      const wrongMethod = await api.call('DELETE', '/payments/x', { key: KEYS.acme });
      await expectProblem(wrongMethod, 405, 'method-not-allowed', 'Method not allowed');
      expect(wrongMethod.headers.get('allow')).toBe('GET, HEAD, PUT');
      const wrongCancelMethod = await api.call('GET', '/payments/x/cancel', { key: KEYS.acme });
      await expectProblem(wrongCancelMethod, 405, 'method-not-allowed', 'Method not allowed');
      expect(wrongCancelMethod.headers.get('allow')).toBe('POST');
    });

    it('when a client sends X-Request-Id, then it is echoed and stored in the event metadata; otherwise one is made', async () => {
      const response = await put('rid-1', validPayment(), KEYS.acme, { 'x-request-id': 'client-req-123', 'x-correlation-id': 'flow-9' });
      expect(response.headers.get('x-request-id')).toBe('client-req-123');
      const [event] = await api.store.readStream(paymentStreamName('acme' as TenantId, 'rid-1' as PaymentId));
      expect(event?.metadata).toMatchObject({ requestId: 'client-req-123', correlationId: 'flow-9', causationId: 'client-req-123', schemaVersion: 1 });
      expect(event?.id).toMatch(/^[0-9a-f-]{36}$/);
      const generated = await api.call('GET', '/payments/rid-1', { key: KEYS.acme });
      expect(generated.headers.get('x-request-id')).toMatch(/^[0-9A-Z]{26}$/);
    });
  });

  describe('health and documentation', () => {
    it('when the store answers, then live and ready are 200 (the checks for an operator)', async () => {
      expect((await api.call('GET', '/health/live')).status).toBe(200);
      const ready = await api.call('GET', '/health/ready', { key: KEYS.operator });
      expect(ready.status).toBe(200);
      expect((await ready.json()).checks.eventStore.healthy).toBe(true);
    });

    it('when the OpenAPI document is fetched, then it is 3.1 and describes the payment routes from the zod schemas', async () => {
      const document = await (await api.call('GET', '/openapi.json')).json();
      expect(document.openapi).toBe('3.1.0');
      expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(['/payments/{id}', '/payments/{id}/cancel']));
      expect(document.components.schemas.PaymentRequest.required).toEqual(expect.arrayContaining(['amount', 'currency', 'debtor', 'creditor']));
      const page = await api.call('GET', '/docs');
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('swagger-ui-bundle.js');
      expect((await api.call('GET', '/docs/assets/swagger-ui-bundle.js')).status).toBe(200);
    });
  });
});

describe('rate limiting per API key', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi('pglite', { rateLimitPerMinute: 3 });
  });
  afterAll(() => api.close());

  it('when a key exceeds its requests per minute, then 429 problem with Retry-After, and other keys are unaffected', async () => {
    const statuses: number[] = [];
    for (let index = 0; index < 4; index += 1) statuses.push((await api.call('GET', '/payments/none', { key: KEYS.acme })).status);
    expect(statuses).toEqual([404, 404, 404, 429]);
    const limited = await api.call('GET', '/payments/none', { key: KEYS.acme });
    expect(limited.headers.get('content-type')).toContain(PROBLEM);
    expect(limited.headers.get('retry-after')).toBe('60');
    expect((await api.call('GET', '/payments/none', { key: KEYS.globex })).status).toBe(404);
  });
});
