/**
 * The served OpenAPI document: Redocly's recommended rules find no error and
 * no warning, and the response validator every HTTP suite uses
 * (test/support/openapi-contract.ts) refuses answers the document does not
 * describe, so a passing suite means the document is true.
 */
import { startTestApi, type TestApi } from '../../test/support/api';
import { contractOf, createResponseContract, type ObservedResponse } from '../../test/support/openapi-contract';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi('pglite');
});
afterAll(() => api.close());

async function servedDocument() {
  const response = await api.call('GET', '/openapi.json');
  expect(response.status).toBe(200);
  return response.text();
}

describe('the served OpenAPI document', () => {
  it("when linted with Redocly's recommended rules, then there is no error and no warning", async () => {
    // An ES module: jest loads it through import(), not require().
    const { createConfig, lintFromString } = await import('@redocly/openapi-core');
    const config = await createConfig({ extends: ['recommended'] });
    const problems = await lintFromString({ source: await servedDocument(), absoluteRef: 'openapi.json', config });
    expect(problems.map((problem) => `${problem.severity} ${problem.ruleId}: ${problem.message} at ${problem.location[0]?.pointer ?? ''}`)).toEqual([]);
  });

  it('when read, then every operation has an operationId, a tag, a summary, the default problem and a 405 with Allow', async () => {
    const document = JSON.parse(await servedDocument());
    const operations = Object.entries(document.paths as Record<string, Record<string, { operationId?: string; tags?: string[]; summary?: string; responses: Record<string, { headers?: Record<string, unknown> }> }>>).flatMap(
      ([path, item]) => Object.entries(item).map(([method, operation]) => ({ name: `${method} ${path}`, operation })),
    );
    expect(operations.length).toBeGreaterThan(5);
    for (const { name, operation } of operations) {
      expect({ name, operationId: typeof operation.operationId, tags: operation.tags?.length, summary: typeof operation.summary }).toEqual({ name, operationId: 'string', tags: 1, summary: 'string' });
      expect({ name, has: Object.keys(operation.responses) }).toEqual({ name, has: expect.arrayContaining(['405', 'default']) });
      expect(operation.responses['405']!.headers).toHaveProperty('Allow');
    }
    expect(new Set(operations.map(({ operation }) => operation.operationId)).size).toBe(operations.length);
  });

  it('when an operation takes a body or a key or writes, then it declares 413 and 415, 401 and 429 with Retry-After, and 503', async () => {
    const document = JSON.parse(await servedDocument());
    const put = document.paths['/payments/{id}'].put;
    expect(put.operationId).toBe('createPayment');
    expect(put.requestBody.required).toBe(true);
    expect(Object.keys(put.responses)).toEqual(expect.arrayContaining(['200', '201', '400', '401', '403', '409', '412', '413', '415', '429', '503', '405', 'default']));
    expect(put.responses['429'].headers['Retry-After'].required).toBe(true);
    expect(put.responses['429'].headers).toHaveProperty('RateLimit');
    expect(put.responses['201'].headers).toEqual(expect.objectContaining({ ETag: expect.anything(), Location: expect.anything(), 'X-Log-Position': expect.anything() }));
    expect(put.parameters.map((parameter: { name: string }) => parameter.name)).toEqual(expect.arrayContaining(['id', 'If-None-Match']));
    expect(document.paths['/payments/{id}/cancel'].post.parameters.map((parameter: { name: string }) => parameter.name)).toContain('If-Match');
    expect(document.paths['/health/live'].get.security).toEqual([]);
    // Public operations answer the per-address limits (429, no RateLimit headers: those are the key's) and a credential in the query (400).
    const live = document.paths['/health/live'].get.responses;
    expect(Object.keys(live)).toEqual(expect.arrayContaining(['400', '429']));
    expect(Object.keys(live)).not.toContain('401');
    expect(live['429'].headers['Retry-After'].required).toBe(true);
    expect(live['429'].headers).not.toHaveProperty('RateLimit');
    for (const response of [live['200'], put.responses['201'], put.responses['401'], put.responses.default]) {
      expect(response.headers['Cache-Control']).toMatchObject({ required: true, schema: { const: 'no-store' } });
      expect(response.headers['X-Content-Type-Options']).toMatchObject({ required: true, schema: { const: 'nosniff' } });
    }
    expect(document.servers).toEqual([{ url: '/', description: 'This server' }]);
  });

  it("when read, then it carries the server's constraints: enums, patterns, limits, metadata keys, IBAN length, . and ..", async () => {
    const document = JSON.parse(await servedDocument());
    const request = document.components.schemas.PaymentRequest;
    expect(request.properties.currency.enum).toEqual(expect.arrayContaining(['EUR', 'JPY', 'BHD']));
    expect(request.properties.currency.enum).not.toContain('XXX');
    expect(request.properties.amount.pattern).toEqual(expect.any(String));
    expect(request.properties.metadata.maxProperties).toBe(20);
    expect(request.properties.metadata.propertyNames.pattern).toBe('^[A-Za-z0-9_.-]{1,40}$');
    const iban = request.properties.debtor.properties?.iban ?? document.components.schemas[request.properties.debtor.$ref?.split('/').pop()]?.properties.iban;
    expect(iban).toMatchObject({ minLength: 15, maxLength: 64 });
    const id = document.paths['/payments/{id}'].put.parameters.find((parameter: { name: string }) => parameter.name === 'id').schema;
    expect(id).toMatchObject({ pattern: '^[A-Za-z0-9._~-]{1,64}$', not: { enum: ['.', '..'] } });
    expect(document.components.schemas.PaymentStatus.enum).toEqual(['requested', 'submitted', 'settled', 'rejected', 'unknown', 'cancelled']);
  });
});

describe('the response validator of the HTTP suites', () => {
  const answer = (overrides: Partial<ObservedResponse>): ObservedResponse => ({
    method: 'GET',
    path: '/payments/p-1',
    status: 404,
    ...overrides,
    headers: new Headers({ 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...Object.fromEntries(overrides.headers ?? new Headers({ 'content-type': 'application/problem+json' })) }),
    body: overrides.body ?? JSON.stringify({ type: '/problems/payment-not-found', title: 'Payment not found', status: 404 }),
  });

  it('when an answer keeps the document, then it has no problem', async () => {
    expect((await contractOf(api.url)).check(answer({}))).toEqual([]);
  });

  it('when the status is undeclared, the body breaks its schema, a required header is missing or an undeclared API header is sent, then each is named', async () => {
    const contract = await contractOf(api.url);
    expect(contract.check(answer({ status: 418 }))).toEqual([expect.stringContaining('status 418 is not declared')]);
    expect(contract.check(answer({ body: JSON.stringify({ title: 'no type' }) }))).toEqual([expect.stringContaining("must have required property 'type'")]);
    const payment = answer({ status: 200, headers: new Headers({ 'content-type': 'application/json', 'x-log-position': '1/1' }), body: '{}' });
    expect(contract.check(payment)).toEqual(expect.arrayContaining([expect.stringContaining('ETag is missing'), expect.stringContaining('body:')]));
    expect(contract.check(answer({ headers: new Headers({ 'content-type': 'application/problem+json', location: '/x' }) }))).toEqual([expect.stringContaining('location is sent but not declared')]);
    expect(contract.check(answer({ headers: new Headers({ 'content-type': 'text/plain' }), body: 'nope' }))).toEqual([expect.stringContaining('text/plain is not declared')]);
    const cacheable = { ...answer({}), headers: new Headers({ 'content-type': 'application/problem+json', 'cache-control': 'max-age=60' }) };
    expect(contract.check(cacheable)).toEqual([expect.stringContaining('header Cache-Control'), 'the required header X-Content-Type-Options is missing']);
  });

  it('when a path is unknown or a method undocumented, then only a 404 problem or a 405 problem with the documented Allow passes', async () => {
    const contract = await contractOf(api.url);
    expect(contract.check(answer({ path: '/nowhere' }))).toEqual([]);
    expect(contract.check(answer({ path: '/nowhere', status: 200, headers: new Headers({ 'content-type': 'application/json' }), body: '{}' }))).toEqual([expect.stringContaining('not in the document')]);
    const problem = JSON.stringify({ type: '/problems/method-not-allowed', title: 'Method not allowed', status: 405 });
    const wrongMethod = (allow: string) => answer({ method: 'DELETE', status: 405, headers: new Headers({ 'content-type': 'application/problem+json', allow }), body: problem });
    expect(contract.check(wrongMethod('GET, HEAD, PUT'))).toEqual([]);
    expect(contract.check(wrongMethod('GET, PUT'))).toEqual([expect.stringContaining('Allow says GET, PUT')]);
  });

  it('when only `default` would match a status other than 500, then it is undeclared', () => {
    const contract = createResponseContract({ paths: { '/x': { get: { responses: { '200': {}, default: { content: { 'application/json': { schema: { type: 'object' } } } } } } } } });
    expect(contract.check({ method: 'GET', path: '/x', status: 422, headers: new Headers({ 'content-type': 'application/json' }), body: '{}' })).toEqual([expect.stringContaining('status 422 is not declared')]);
    expect(contract.check({ method: 'GET', path: '/x', status: 500, headers: new Headers({ 'content-type': 'application/json' }), body: '{}' })).toEqual([]);
  });
});
