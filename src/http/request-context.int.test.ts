import { Writable } from 'node:stream';
import pino from 'pino';
import { KEYS, startTestApi, validPayment, type TestApi } from '../../test/support/api';
import { loggableUrl } from './request-context';

/** Every line the API logs, parsed. */
function captureLogs() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString('utf8').split('\n')) if (text) lines.push(JSON.parse(text) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: pino({ level: 'info' }, destination) };
}

const until = async (condition: () => boolean) => {
  for (let waited = 0; !condition() && waited < 2_000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
};

describe('request ids and the request log line', () => {
  let api: TestApi;
  let logs: ReturnType<typeof captureLogs>;
  beforeAll(async () => {
    logs = captureLogs();
    api = await startTestApi('pglite', { logger: logs.logger });
  });
  afterAll(() => api.close());
  beforeEach(() => void logs.lines.splice(0));

  it('when a payment is created, then exactly one line is logged, with the ids, the status and no IBAN or key', async () => {
    const response = await api.call('PUT', '/payments/log-1', { key: KEYS.acme, body: validPayment(), headers: { 'x-correlation-id': 'order-77' } });
    expect(response.status).toBe(201);
    const requestId = response.headers.get('x-request-id');
    expect(requestId).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(response.headers.get('x-correlation-id')).toBe('order-77');
    // Only this request's lines: the test harness may fetch the OpenAPI document on its own.
    const own = () => logs.lines.filter((line) => line['requestId'] === requestId);
    await until(() => own().length > 0);
    expect(own()).toHaveLength(1);
    expect(own()[0]).toMatchObject({ msg: 'request completed', level: 30, requestId, correlationId: 'order-77', method: 'PUT', url: '/payments/log-1', status: 201 });
    expect(own()[0]!['durationMs']).toEqual(expect.any(Number));
    const text = JSON.stringify(logs.lines);
    expect(text).not.toContain(KEYS.acme);
    expect(text).not.toContain('GB82WEST12345698765432');
  });

  it('when a request is refused, then its one line names the problem', async () => {
    const response = await api.call('PUT', '/payments/log-2', { key: KEYS.acme, body: { amount: 'x' } });
    expect(response.status).toBe(400);
    const own = () => logs.lines.filter((line) => line['requestId'] === response.headers.get('x-request-id'));
    await until(() => own().length > 0);
    expect(own()).toHaveLength(1);
    expect(own()[0]).toMatchObject({ status: 400, problem: 'validation-failed', method: 'PUT' });
  });

  it('when the client sends a request id, then it is kept; an unsafe one is replaced', async () => {
    const kept = await api.call('GET', '/payments/none', { key: KEYS.acme, headers: { 'x-request-id': 'client-req.1' } });
    expect(kept.headers.get('x-request-id')).toBe('client-req.1');
    const replaced = await api.call('GET', '/payments/none', { key: KEYS.acme, headers: { 'x-request-id': 'bad id with spaces' } });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  it('when ids are made for concurrent requests, then they are distinct', async () => {
    const responses = await Promise.all(Array.from({ length: 50 }, () => api.call('GET', '/health/live')));
    const ids = responses.map((response) => response.headers.get('x-request-id'));
    expect(new Set(ids).size).toBe(50);
  });

  it('when a URL holds something IBAN-shaped, then the logged URL keeps only its last four characters', () => {
    expect(loggableUrl('/payments/x?creditor=GB82WEST12345698765432&b=1')).toBe('/payments/x?creditor=****5432&b=1');
    expect(loggableUrl('/payments/inv-2026-11-001')).toBe('/payments/inv-2026-11-001');
  });
});
