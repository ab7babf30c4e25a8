/**
 * RFC 9457 problem details: every error this API answers is one of these, with
 * the request id a user can quote to support. Typed errors from the domain and
 * application layers carry their meaning; this is the one place that maps them
 * to status codes.
 */
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { DomainError, type DomainErrorKind } from '../domain/errors';
import { BankEvidenceMismatchError, BankTransferAlreadyUsedError, ConcurrencyExhaustedError, PreconditionFailedError } from '../application/errors';
import { StoreUnavailableError } from '../event-store/port';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface FieldProblem {
  /** JSON Pointer (RFC 6901) into the request body, or a `#/query/…`, `#/path/…`, `#/header/…` location. */
  readonly pointer: string;
  readonly detail: string;
}

export interface ProblemBody {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  readonly instance?: string;
  readonly errors?: readonly FieldProblem[];
  readonly [extension: string]: unknown;
}

export const problemType = (code: string) => `/problems/${code}`;

/** Rationale: long enough for a pool to replace its connections, short enough for a failover. */
export const STORE_UNAVAILABLE_RETRY_AFTER_S = 2;

/** An error that already knows its HTTP answer. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    detail?: string,
    readonly extensions: Readonly<Record<string, unknown>> = {},
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(detail ?? title);
    this.name = 'HttpProblem';
  }
}

export function validationProblem(errors: readonly FieldProblem[], title = 'The request is invalid'): HttpProblem {
  return new HttpProblem(400, 'validation-failed', title, `${errors.length} problem(s) with the request`, { errors });
}

const STATUS_BY_DOMAIN_KIND: Record<DomainErrorKind, number> = {
  validation: 400,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  illegal_state: 409,
  unprocessable: 422,
};

/** Where to go next after a refusal: past the replay window, recovery is a compensation (issue 11), never a replay. */
const DOMAIN_PROBLEM_LINKS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  replay_window_expired: { compensationRoute: '/ops/compensations' },
};

export function sendProblem(res: Response, problem: HttpProblem): void {
  const requestId = res.locals['requestId'] as string | undefined;
  // Extensions first: an extension never replaces a member RFC 9457 defines.
  const body: ProblemBody = {
    ...problem.extensions,
    type: problemType(problem.code),
    title: problem.title,
    status: problem.status,
    detail: problem.message,
    ...(requestId ? { instance: `urn:paystream:request:${requestId}`, requestId } : {}),
  };
  for (const [name, value] of Object.entries(problem.headers)) res.setHeader(name, value);
  res.status(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
}

function toHttpProblem(error: unknown): HttpProblem | undefined {
  if (error instanceof HttpProblem) return error;
  if (error instanceof DomainError) {
    return new HttpProblem(STATUS_BY_DOMAIN_KIND[error.kind], error.code.replace(/_/g, '-'), titleOf(error.code), error.message, { ...error.details, ...DOMAIN_PROBLEM_LINKS[error.code] });
  }
  if (error instanceof BankEvidenceMismatchError) {
    return new HttpProblem(409, 'bank-evidence-mismatch', 'The bank contradicts the claim', error.message, { mismatches: error.mismatches, bankAnswer: error.bankAnswer });
  }
  if (error instanceof BankTransferAlreadyUsedError) {
    return new HttpProblem(409, 'bank-transfer-already-used', 'Bank transfer already used', error.message, { bankTransferId: error.bankTransferId });
  }
  if (error instanceof PreconditionFailedError) {
    return new HttpProblem(412, 'precondition-failed', 'Precondition failed', error.message, error.currentRevision === undefined ? {} : { currentRevision: error.currentRevision });
  }
  if (error instanceof ConcurrencyExhaustedError) {
    return new HttpProblem(503, 'write-contention', 'The payment is busy', 'too many concurrent changes; retry shortly', {}, { 'Retry-After': '1' });
  }
  if (error instanceof StoreUnavailableError) {
    // The store's own message stays in the log: it names hosts and codes a client has no use for.
    return new HttpProblem(503, 'store-unavailable', 'The service is unavailable', 'the payment store cannot be reached right now; retry shortly (retrying is safe)', {}, {
      'Retry-After': String(STORE_UNAVAILABLE_RETRY_AFTER_S),
    });
  }
  return bodyParserProblem(error);
}

/** body-parser marks its errors with a `type`; they are the client's fault, never a 500. */
function bodyParserProblem(error: unknown): HttpProblem | undefined {
  const type = (error as { type?: unknown } | null)?.type;
  if (type === 'entity.duplicate.member') {
    const pointers = (error as { pointers?: readonly string[] }).pointers ?? [];
    return validationProblem(pointers.map((pointer) => ({ pointer, detail: 'duplicate member name: each name may appear once in an object (RFC 7493)' })));
  }
  if (type === 'entity.too.large') return new HttpProblem(413, 'body-too-large', 'Request body too large', 'the body exceeds the size limit');
  if (type === 'entity.parse.failed') return new HttpProblem(400, 'malformed-json', 'Malformed JSON', 'the body is not valid JSON');
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
    return new HttpProblem(415, 'unsupported-media-type', 'Unsupported media type', 'only UTF-8 JSON is accepted');
  }
  if (type === 'request.aborted' || type === 'request.size.invalid') return new HttpProblem(400, 'bad-request', 'Bad request', 'the body was not received whole');
  return clientErrorProblem(error);
}

/**
 * Errors that express and its parsers mark as the client's (`expose` and a 4xx
 * status): a path segment that is not valid percent-encoding, a body whose
 * Content-Encoding does not match it. Their own messages are not shown.
 */
function clientErrorProblem(error: unknown): HttpProblem | undefined {
  const { status, expose } = (error ?? {}) as { status?: unknown; expose?: unknown };
  if (typeof status !== 'number' || status < 400 || status > 499) return undefined;
  // The router's decoding error carries its 400 without `expose`.
  if (error instanceof URIError) return new HttpProblem(400, 'bad-request', 'Bad request', 'the path is not valid percent-encoding');
  if (expose !== true) return undefined;
  return new HttpProblem(400, 'bad-request', 'Bad request', 'the request could not be read (check its encoding and Content-Encoding)');
}

function titleOf(code: string): string {
  const words = code.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export const problemErrorHandler: ErrorRequestHandler = (error, req, res, next) => {
  if (res.headersSent) return next(error);
  const problem = toHttpProblem(error);
  if (problem) {
    // The request's own log line reports the code: a refusal costs no line of its own.
    res.locals.problem = problem.code;
    if (error instanceof StoreUnavailableError) req.log.warn({ err: error, problem: problem.code }, 'store unavailable');
    return sendProblem(res, problem);
  }
  res.locals.problem = 'internal-error';
  req.log.error({ err: error }, 'unexpected error');
  sendProblem(res, new HttpProblem(500, 'internal-error', 'Internal error', 'something went wrong on our side; quote the request id to support'));
};

export const notFoundHandler: RequestHandler = (req, res) => {
  sendProblem(res, new HttpProblem(404, 'not-found', 'Not found', `no route for ${req.method} ${req.path}`));
};

/** Answers any other method with 405 and Allow; a path that answers GET answers HEAD too (express does), so Allow says so. */
export function methodNotAllowed(allowed: readonly string[]): RequestHandler {
  const methods = allowed.includes('GET') && !allowed.includes('HEAD') ? allowed.flatMap((method) => (method === 'GET' ? ['GET', 'HEAD'] : [method])) : allowed;
  return (req, res) => {
    sendProblem(res, new HttpProblem(405, 'method-not-allowed', 'Method not allowed', `${req.method} is not allowed here`, {}, { Allow: methods.join(', ') }));
  };
}
