/**
 * RFC 9457 problem details for the sandbox's answers. Its own small copy, not
 * the API's: the sandbox stands in for somebody else's bank and shares no code
 * with paystream's HTTP layer.
 */
import type { ErrorRequestHandler, Response } from 'express';
import type { z } from 'zod';
import type { Logger } from '../logging';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface FieldProblem {
  /** JSON Pointer into the body, or `#/query/…`, `#/header/…`. */
  readonly pointer: string;
  readonly detail: string;
}

export class SandboxProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    detail?: string,
    readonly extensions: Readonly<Record<string, unknown>> = {},
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(detail ?? title);
    this.name = 'SandboxProblem';
  }
}

export function validationProblem(errors: readonly FieldProblem[]): SandboxProblem {
  return new SandboxProblem(400, 'validation-failed', 'The request is invalid', `${errors.length} problem(s) with the request`, { errors });
}

export function fieldProblems(location: 'body' | 'query' | 'header', error: z.ZodError): FieldProblem[] {
  const pointer = (path: readonly PropertyKey[]) => `${location === 'body' ? '' : `#/${location}`}/${path.map((part) => String(part).replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`;
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((name) => ({ pointer: pointer([...issue.path, name]), detail: 'unknown field' }))
      : [{ pointer: pointer(issue.path), detail: issue.message }],
  );
}

export function sendProblem(res: Response, problem: SandboxProblem): void {
  const requestId = res.locals['requestId'] as string | undefined;
  const body = {
    type: `/problems/${problem.code}`,
    title: problem.title,
    status: problem.status,
    detail: problem.message,
    ...(requestId ? { requestId } : {}),
    ...problem.extensions,
  };
  for (const [name, value] of Object.entries(problem.headers)) res.setHeader(name, value);
  res.status(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
}

/** body-parser marks its errors with a `type`; they are the client's fault, never a 500. */
function bodyParserProblem(error: unknown): SandboxProblem | undefined {
  const type = (error as { type?: unknown } | null)?.type;
  if (type === 'entity.too.large') return new SandboxProblem(413, 'body-too-large', 'Request body too large', 'the body exceeds the size limit');
  if (type === 'entity.parse.failed') return new SandboxProblem(400, 'malformed-json', 'Malformed JSON', 'the body is not valid JSON');
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') return new SandboxProblem(415, 'unsupported-media-type', 'Unsupported media type', 'only UTF-8 JSON is accepted');
  if (type === 'request.aborted' || type === 'request.size.invalid') return new SandboxProblem(400, 'bad-request', 'Bad request', 'the body was not received whole');
  return undefined;
}

export function problemErrorHandler(logger: Logger): ErrorRequestHandler {
  return (error, _req, res, next) => {
    if (res.headersSent) return next(error);
    const problem = error instanceof SandboxProblem ? error : bodyParserProblem(error);
    if (problem) return sendProblem(res, problem);
    logger.error({ err: error, requestId: res.locals['requestId'] }, 'sandbox bank: unexpected error');
    sendProblem(res, new SandboxProblem(500, 'internal-error', 'Internal error', 'something went wrong in the sandbox; quote the request id'));
  };
}
