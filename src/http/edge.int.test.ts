/**
 * The edge of the API through real HTTP: the key is checked before any body is
 * read; keys in the query string are refused and never logged; every answer
 * says no-store and nosniff; readiness details are for staff; anonymous and
 * refused requests, and failed authentications, are limited per client address.
 *
 * Two client addresses on one machine: Linux routes all of 127.0.0.0/8 to the
 * loopback, so a request bound to 127.0.0.2 reaches the API on 127.0.0.1 from
 * another address.
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createDashboardRouter } from './dashboard/routes';
import { paymentStreamName, type PaymentId, type TenantId } from '../domain/ids';
import { KEYS, startTestApi, validPayment, type TestApi, type TestResponse } from '../../test/support/api';

const BAD_KEY = 'Bearer not-a-key-of-this-api-00000';

async function expectProblem(response: TestResponse, status: number, code: string) {
  expect({ status: response.status, type: response.headers.get('content-type') }).toEqual({ status, type: expect.stringContaining('application/problem+json') });
  const problem = await response.json();
  expect(problem).toMatchObject({ type: `/problems/${code}`, status });
  return problem;
}

/** A request from a chosen local address (fetch cannot bind one). */
function requestFrom(
  localAddress: string,
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers ?? {}, localAddress, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body }));
    });
    request.on('error', reject);
    request.end(options.body);
  });
}

describe('the edge of the API (no limits configured)', () => {
  const logLines: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi('pglite', { logger: pino({ level: 'info' }, logStream), extraRouters: () => ({ publicRouters: [createDashboardRouter()] }) });
  });
  afterAll(() => api.close());

  describe('authentication before any body', () => {
    const big = JSON.stringify(validPayment({ reference: 'x'.repeat(140) })).padEnd(2 * 1024 * 1024, ' ');
    it.each([
      ['a body over BODY_BYTES_MAX', 413, big, 'application/json', 'body-too-large'],
      ['malformed JSON', 400, '{"amount": "1', 'application/json', 'malformed-json'],
      ['duplicate member names', 400, '{"amount":"1.00","amount":"2.00"}', 'application/json', 'validation-failed'],
    ])('when %s comes with a wrong key or none, then 401, not what parsing it would say (with a valid key: %d)', async (_what, parsedStatus, body, type, parsedCode) => {
      for (const authorization of [BAD_KEY, undefined]) {
        const headers: Record<string, string> = { 'content-type': type, ...(authorization ? { authorization } : {}) };
        await expectProblem(await api.call('PUT', '/payments/edge-body-1', { rawBody: body, headers }), 401, 'unauthenticated');
      }
      await expectProblem(await api.call('PUT', '/payments/edge-body-1', { key: KEYS.acme, rawBody: body, headers: { 'content-type': type } }), parsedStatus, parsedCode);
    });

    it('when a request with a wrong key announces a 10 MB body and sends 10 bytes of it, then 401 comes at once: the body is never waited for', async () => {
      const { port } = new URL(api.url);
      const socket = connect(Number(port), '127.0.0.1');
      const answer = await new Promise<string>((resolve, reject) => {
        let received = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => {
          received += chunk;
          if (received.includes('\r\n\r\n')) resolve(received);
        });
        socket.on('error', reject);
        socket.write(`PUT /payments/edge-stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${BAD_KEY}\r\nContent-Type: application/json\r\nContent-Length: ${10 * 1024 * 1024}\r\n\r\n{"amount":`);
        setTimeout(() => reject(new Error(`no answer within 5 s; received: ${received}`)), 5_000).unref();
      });
      socket.destroy();
      expect(answer).toMatch(/^HTTP\/1\.1 401 /);
    });
  });

  describe('API keys in the query string', () => {
    it.each(['api_key', 'apiKey', 'API-KEY', 'access_token', 'token', 'key', '%61pi_key'])('when a key comes as ?%s=, then 400 credentials-in-query, even when it is a valid key', async (name) => {
      const problem = await expectProblem(await api.call('GET', `/payments/edge-query-1?${name}=${KEYS.acme}`), 400, 'credentials-in-query');
      expect(problem.errors).toEqual([{ pointer: `#/query/${decodeURIComponent(name)}`, detail: expect.any(String) }]);
    });

    it('when the request also has a valid Authorization header, or goes to a public route, then still 400: the URL is refused, not the caller', async () => {
      await expectProblem(await api.call('GET', `/payments/edge-query-1?access_token=${KEYS.analyst}&tenant=acme`, { key: KEYS.analyst }), 400, 'credentials-in-query');
      await expectProblem(await api.call('GET', `/health/ready?apiKey=${KEYS.operator}`), 400, 'credentials-in-query');
      await expectProblem(await api.call('PUT', `/payments/edge-query-2?api_key=${KEYS.acme}`, { key: KEYS.acme, body: validPayment() }), 400, 'credentials-in-query');
      expect((await api.call('GET', '/payments/edge-query-2', { key: KEYS.acme })).status).toBe(404);
    });

    it('when other query parameters are sent, then they work as before (?tenant= for staff)', async () => {
      expect((await api.call('PUT', '/payments/edge-query-3', { key: KEYS.acme, body: validPayment() })).status).toBe(201);
      expect((await api.call('GET', '/payments/edge-query-3?tenant=acme', { key: KEYS.analyst })).status).toBe(200);
    });

    it('when a key was sent in the query, then the request log holds its parameter name but never its value', async () => {
      await api.call('GET', `/payments/edge-log-1?api_key=${KEYS.supervisor}&tenant=acme`);
      await api.call('GET', `/payments/edge-log-2?Access_Token=${KEYS.operator2}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const lines = logLines.filter((line) => line.includes('edge-log-'));
      expect(lines).toHaveLength(2);
      expect(lines.map((line) => JSON.parse(line).url)).toEqual(['/payments/edge-log-1?api_key=[redacted]&tenant=acme', '/payments/edge-log-2?Access_Token=[redacted]']);
      for (const key of [KEYS.supervisor, KEYS.operator2]) expect(logLines.join('\n')).not.toContain(key);
    });
  });

  describe('headers of every answer', () => {
    it('when the API answers (2xx, 4xx, health, its document), then Cache-Control: no-store and X-Content-Type-Options: nosniff', async () => {
      const answers = [
        await api.call('PUT', '/payments/edge-headers-1', { key: KEYS.acme, body: validPayment() }),
        await api.call('GET', '/payments/edge-headers-1', { key: KEYS.acme }),
        await api.call('GET', '/payments/edge-headers-1'),
        await api.call('GET', '/nowhere', { key: KEYS.acme }),
        await api.call('DELETE', '/health/live'),
        await api.call('GET', '/health/ready'),
        await api.call('GET', '/openapi.json'),
        await api.call('GET', '/payments/x?api_key=1'),
      ];
      for (const answer of answers) {
        expect({ status: answer.status, cache: answer.headers.get('cache-control'), sniff: answer.headers.get('x-content-type-options') }).toEqual({ status: answer.status, cache: 'no-store', sniff: 'nosniff' });
      }
    });

    it('when a static asset of the docs or the dashboard is served, then nosniff, and it may be cached publicly (it holds no data)', async () => {
      for (const path of ['/docs/assets/swagger-ui.css', '/dashboard/chart.umd.js']) {
        const asset = await api.call('GET', path);
        expect({ path, status: asset.status, sniff: asset.headers.get('x-content-type-options'), cache: asset.headers.get('cache-control') }).toEqual({ path, status: 200, sniff: 'nosniff', cache: 'public, max-age=3600' });
      }
      const page = await api.call('GET', '/dashboard');
      expect({ sniff: page.headers.get('x-content-type-options'), cache: page.headers.get('cache-control') }).toEqual({ sniff: 'nosniff', cache: 'no-store' });
    });
  });

  describe('readiness: the status for anyone, the details for staff', () => {
    it('when asked without a key, or with a client or analyst key, then only the status', async () => {
      for (const key of [undefined, KEYS.acme, KEYS.analyst]) {
        const ready = await api.call('GET', '/health/ready', key ? { key } : {});
        expect(ready.status).toBe(200);
        expect(await ready.json()).toEqual({ status: 'ready' });
      }
    });

    it('when asked with an operator or supervisor key, then the checks with their details', async () => {
      for (const key of [KEYS.operator, KEYS.supervisor]) {
        const ready = await api.call('GET', '/health/ready', { key });
        expect(await ready.json()).toEqual({ status: 'ready', checks: { eventStore: { healthy: true } } });
      }
    });

    it('when a wrong key is presented, then 401: readiness is not a way to test keys', async () => {
      await expectProblem(await api.call('GET', '/health/ready', { headers: { authorization: BAD_KEY } }), 401, 'unauthenticated');
    });
  });
});

describe('limits per client address', () => {
  describe('failed authentications (AUTH_FAILURE_LIMIT_PER_MINUTE=3)', () => {
    let api: TestApi;
    beforeAll(async () => {
      api = await startTestApi('pglite', { authFailureLimitPerMinute: 3 });
    });
    afterAll(() => api.close());

    it('when 40 wrong keys arrive at once from one address, then exactly 3 are answered 401 and the rest 429 with Retry-After', async () => {
      const answers = await Promise.all(Array.from({ length: 40 }, (_, index) => api.call('GET', `/payments/guess-${index}`, { headers: { authorization: `Bearer guess-${index}-000000000000000` } })));
      const statuses = answers.map((answer) => answer.status);
      expect(statuses.filter((status) => status === 401)).toHaveLength(3);
      expect(statuses.filter((status) => status === 429)).toHaveLength(37);
      const throttled = answers.find((answer) => answer.status === 429)!;
      expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(throttled.headers.get('retry-after'))).toBeLessThanOrEqual(60);
      expect((await throttled.json()).type).toBe('/problems/authentication-throttled');
    });

    it('when that address then presents a valid key, then 429 too (a guess that works must not show); another address is unaffected', async () => {
      await expectProblem(await api.call('GET', '/payments/any', { key: KEYS.acme }), 429, 'authentication-throttled');
      await expectProblem(await api.call('GET', '/health/ready', { key: KEYS.operator }), 429, 'authentication-throttled');
      const other = await requestFrom('127.0.0.2', `${api.url}/payments/any`, { headers: { authorization: `Bearer ${KEYS.acme}` } });
      expect(other.status).toBe(404);
      const otherWrong = await requestFrom('127.0.0.2', `${api.url}/payments/any`, { headers: { authorization: BAD_KEY } });
      expect(otherWrong.status).toBe(401);
    });

    it('when the address is throttled, then anonymous health probes and public pages still answer', async () => {
      expect((await api.call('GET', '/health/ready')).status).toBe(200);
      expect((await api.call('GET', '/openapi.json')).status).toBe(200);
    });
  });

  describe('the client address behind a proxy (TRUST_PROXY)', () => {
    const guess = (target: TestApi, forwardedFor: string) =>
      requestFrom('127.0.0.1', `${target.url}/payments/any`, { headers: { authorization: BAD_KEY, 'x-forwarded-for': forwardedFor } }).then((answer) => answer.status);

    it('when TRUST_PROXY=loopback, then each address the proxy names is limited on its own', async () => {
      const api = await startTestApi('pglite', { authFailureLimitPerMinute: 1, trustProxy: 'loopback' });
      try {
        expect([await guess(api, '203.0.113.5'), await guess(api, '203.0.113.5'), await guess(api, '203.0.113.6')]).toEqual([401, 429, 401]);
      } finally {
        await api.close();
      }
    });

    it('when no proxy is trusted (the default), then X-Forwarded-For is ignored: a client cannot escape its limit by naming another address', async () => {
      const api = await startTestApi('pglite', { authFailureLimitPerMinute: 1 });
      try {
        expect([await guess(api, '203.0.113.5'), await guess(api, '203.0.113.6'), await guess(api, '203.0.113.7')]).toEqual([401, 429, 429]);
      } finally {
        await api.close();
      }
    });
  });

  describe('anonymous and refused requests (ADDRESS_RATE_LIMIT_PER_MINUTE=5)', () => {
    let api: TestApi;
    beforeAll(async () => {
      api = await startTestApi('pglite', { addressRateLimitPerMinute: 5 });
    });
    afterAll(() => api.close());

    it('when a client uses its key well, then nothing counts: 20 answered requests in a row', async () => {
      expect((await api.call('PUT', '/payments/counted-1', { key: KEYS.acme, body: validPayment() })).status).toBe(201);
      for (let index = 0; index < 20; index += 1) expect((await api.call('GET', '/payments/counted-1', { key: KEYS.acme })).status).toBe(200);
    });

    it('when requests without a key and refused ones add up to 5, then the 6th request from that address is 429, whatever it carries', async () => {
      // From an address of its own, through plain requests, so nothing else (the contract check's fetch of the document) counts.
      const from = (path: string, options: { method?: string; key?: string; body?: unknown } = {}) =>
        requestFrom('127.0.0.3', `${api.url}${path}`, {
          method: options.method ?? 'GET',
          headers: { ...(options.key ? { authorization: `Bearer ${options.key}` } : {}), ...(options.body ? { 'content-type': 'application/json' } : {}) },
          ...(options.body ? { body: JSON.stringify(options.body) } : {}),
        });
      expect((await from('/payments/counted-1', { key: KEYS.acme })).status).toBe(200);
      expect((await from('/openapi.json')).status).toBe(200);
      expect((await from('/docs')).status).toBe(200);
      expect((await from('/payments/counted-1')).status).toBe(401);
      expect((await from('/payments/missing', { key: KEYS.acme })).status).toBe(404);
      expect((await from('/payments/counted-2', { method: 'PUT', key: KEYS.acme, body: { amount: 'x' } })).status).toBe(400);
      const refused = await from('/payments/counted-1', { key: KEYS.acme });
      expect({ status: refused.status, type: JSON.parse(refused.body).type, retryAfter: Number(refused.headers['retry-after']) }).toEqual({ status: 429, type: '/problems/rate-limited', retryAfter: expect.any(Number) });
      expect(JSON.parse(refused.body).detail).toContain('at most 5');
      expect(await api.store.readStream(paymentStreamName('acme' as TenantId, 'counted-2' as PaymentId))).toEqual([]);
      // The same client through the loopback's first address was never refused.
      expect((await api.call('GET', '/payments/counted-1', { key: KEYS.acme })).status).toBe(200);
    });

    it('when that address is over its limit, then its anonymous health probes still answer', async () => {
      for (let index = 0; index < 10; index += 1) expect((await requestFrom('127.0.0.3', `${api.url}/health/live`)).status).toBe(200);
      expect((await requestFrom('127.0.0.3', `${api.url}/health/ready`)).status).toBe(200);
      expect((await requestFrom('127.0.0.3', `${api.url}/openapi.json`)).status).toBe(429);
    });
  });
});
