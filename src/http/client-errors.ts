/**
 * Answers Node's HTTP server gives before express sees a request (a request it
 * cannot parse, headers over the size limit, an Expect it does not meet, a
 * missing Host), as problem+json like every other answer of the API, instead
 * of Node's bare status lines.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RequestHandler } from 'express';
import { ulid } from 'ulid';
import { HttpProblem, PROBLEM_CONTENT_TYPE, problemType } from './problem';

interface ClientProblem {
  readonly status: number;
  readonly reason: string;
  readonly code: string;
  readonly title: string;
  readonly detail: string;
}

/** Node's own choice of status per parser error (as its default clientError handler makes it), with our words. */
function clientProblemOf(error: NodeJS.ErrnoException): ClientProblem {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, reason: 'Request Header Fields Too Large', code: 'headers-too-large', title: 'Request headers too large', detail: 'the request line and headers exceed the server limit (16 KiB)' };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, reason: 'Payload Too Large', code: 'body-too-large', title: 'Request body too large', detail: 'chunk extensions exceed the server limit' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, reason: 'Request Timeout', code: 'request-timeout', title: 'Request timeout', detail: 'the request was not received in time' };
    default:
      return { status: 400, reason: 'Bad Request', code: 'bad-request', title: 'Bad request', detail: 'the request is not valid HTTP/1.1 (method, request line or headers)' };
  }
}

function problemBody(problem: Omit<ClientProblem, 'reason'>, requestId: string): string {
  return JSON.stringify({ type: problemType(problem.code), title: problem.title, status: problem.status, detail: problem.detail, instance: `urn:paystream:request:${requestId}`, requestId });
}

function onClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  // Nothing can be said on a connection the client already closed.
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const problem = clientProblemOf(error);
  const requestId = ulid();
  const body = problemBody(problem, requestId);
  socket.end(
    `HTTP/1.1 ${problem.status} ${problem.reason}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Request-Id: ${requestId}\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** An Expect other than 100-continue (RFC 9110, 10.1.1). */
function onCheckExpectation(_req: IncomingMessage, res: ServerResponse): void {
  const requestId = ulid();
  const body = problemBody({ status: 417, code: 'expectation-failed', title: 'Expectation failed', detail: 'the only expectation this server meets is Expect: 100-continue' }, requestId);
  res.writeHead(417, { 'Content-Type': PROBLEM_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body), 'X-Request-Id': requestId, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', Connection: 'close' });
  res.end(body);
}

/** Installs the hooks on a server that was created with `requireHostHeader: false` (see `requireHost`). */
export function answerClientErrorsAsProblems(server: Server): void {
  server.on('clientError', onClientError);
  server.on('checkExpectation', onCheckExpectation);
}

/**
 * HTTP/1.1 requires Host (RFC 9112, 3.2). Node's own check answers a bare 400
 * before any hook runs, so the server turns it off and this middleware, first
 * in the app, answers the problem instead.
 */
export function requireHost(): RequestHandler {
  return (req, res, next) => {
    if (req.httpVersion === '1.1' && req.headers.host === undefined) {
      res.setHeader('Connection', 'close');
      return next(new HttpProblem(400, 'missing-host', 'Missing Host header', 'an HTTP/1.1 request must carry a Host header'));
    }
    next();
  };
}
