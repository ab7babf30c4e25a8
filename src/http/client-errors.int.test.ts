/**
 * The answers Node's HTTP server gives before express runs, sent as raw bytes
 * over node:net (fetch would refuse to send most of them): each is an RFC 9457
 * problem with its status, and the connection is closed.
 */
import { connect } from 'node:net';
import { startTestApi, type TestApi } from '../../test/support/api';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi('pglite');
});
afterAll(() => api.close());

/** Sends the bytes as they are and reads the whole answer until the server closes. */
function rawExchange(request: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const { port } = new URL(api.url);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(request));
    socket.setTimeout(5_000, () => socket.destroy(new Error('no answer within 5 s')));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', body = ''] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body });
    });
  });
}

async function expectRawProblem(request: string, status: number, code: string) {
  const answer = await rawExchange(request);
  expect(answer.status).toBe(status);
  expect(answer.headers['content-type']).toContain('application/problem+json');
  expect(answer.headers['connection']).toBe('close');
  const problem = JSON.parse(answer.body);
  expect(problem).toMatchObject({ type: `/problems/${code}`, status, title: expect.any(String), detail: expect.any(String), requestId: answer.headers['x-request-id'] });
  expect(problem.requestId).toMatch(/^[0-9A-Z]{26}$/);
}

describe("Node's own error answers", () => {
  it('when the method is unknown, then a 400 problem', async () => {
    await expectRawProblem('FROB /payments/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 400, 'bad-request');
  });

  it('when the request line is not HTTP, then a 400 problem', async () => {
    await expectRawProblem('hello there\r\n\r\n', 400, 'bad-request');
  });

  it('when an HTTP/1.1 request has no Host, then a 400 problem naming it', async () => {
    await expectRawProblem('GET /health/live HTTP/1.1\r\n\r\n', 400, 'missing-host');
  });

  it('when the headers exceed 16 KiB, then a 431 problem', async () => {
    await expectRawProblem(`GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'headers-too-large');
  });

  it('when Expect is not 100-continue, then a 417 problem and the route never runs', async () => {
    const body = JSON.stringify({ reason: 'x' });
    await expectRawProblem(
      `POST /payments/expect-1/cancel HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: something-else\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      417,
      'expectation-failed',
    );
  });

  it('when Host is present, then the same server answers normally (the check is not too eager)', async () => {
    const answer = await rawExchange('GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ status: 'ok' });
    const http10 = await rawExchange('GET /health/live HTTP/1.0\r\n\r\n');
    expect(http10.status).toBe(200);
  });
});
