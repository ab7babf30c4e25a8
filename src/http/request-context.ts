/**
 * Request, correlation and causation ids, and the one log line per request.
 *
 * A client may send X-Request-Id and X-Correlation-Id (safe characters, bounded
 * length); otherwise they are made here. Both are echoed, logged, and stored in
 * the metadata of every event the request writes (the request id is the
 * causation id of those events).
 *
 * Rationale for not using pino-http: it builds a child logger and runs its
 * serializers for every request, about 10% of the API's CPU under load. Here a
 * request costs one flat object of strings and numbers, logged once when the
 * response is done. Code that logs during a request (`req.log`) gets a child
 * logger carrying the ids, made the first time it is asked for, so the usual
 * request that logs nothing else pays nothing for it.
 * See docs/adr/0013-lean-request-path.md.
 */
import type { Express, Request, RequestHandler, Response } from 'express';
import type { Logger } from '../logging';
import type { NewId } from '../random-ids';
import { maskIban } from '../shared/mask-iban';
import { withoutQueryCredentials } from './edge';
import { httpRequestDuration } from '../observability/metrics';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The request's logger: every line carries its request and correlation ids. */
      readonly log: Logger;
    }
    interface Locals {
      requestId?: string;
      correlationId?: string;
      /** Set by the problem handler: the problem code the request line reports. */
      problem?: string;
    }
  }
}

const ID_PATTERN = /^[A-Za-z0-9._:~-]{1,128}$/;
/** IBAN-shaped runs (two letters, two digits, 11 to 30 more): masked in logged URLs. */
const IBAN_IN_TEXT = /[A-Z]{2}\d{2}[A-Z0-9]{11,30}/gi;

function acceptedId(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' && ID_PATTERN.test(value) ? value : undefined;
}

/** A URL fit for a log line: IBAN-shaped parts keep only their last four characters. */
export function loggableUrl(url: string): string {
  return url.replace(IBAN_IN_TEXT, (iban) => maskIban(iban));
}

/**
 * Gives every request of `app` a lazily made `req.log`. Defined once on the
 * app's request prototype, so it costs nothing per request until used.
 */
export function installRequestLogger(app: Express, logger: Logger): void {
  const made = new WeakMap<Request, Logger>();
  Object.defineProperty(app.request, 'log', {
    configurable: true,
    get(this: Request): Logger {
      let child = made.get(this);
      if (!child) {
        const locals = this.res?.locals;
        child = logger.child({ requestId: locals?.requestId, correlationId: locals?.correlationId });
        made.set(this, child);
      }
      return child;
    },
  });
}

export interface RequestContextOptions {
  readonly logger: Logger;
  readonly newId: NewId;
}

/** Ids on the way in, one log line on the way out. Mounted first, so every answer (even a 404) has both. */
export function requestContext(options: RequestContextOptions): RequestHandler {
  const { logger, newId } = options;
  return (req, res, next) => {
    const startedAt = performance.now();
    const requestId = acceptedId(req.headers['x-request-id']) ?? newId();
    const correlationId = acceptedId(req.headers['x-correlation-id']) ?? requestId;
    res.locals.requestId = requestId;
    res.locals.correlationId = correlationId;
    res.setHeader('X-Request-Id', requestId);
    res.setHeader('X-Correlation-Id', correlationId);
    // 'close' comes once, after 'finish' or when the client went away first.
    res.once('close', () => logRequest(logger, req, res, startedAt));
    next();
  };
}

/**
 * The route template the request matched (`/payments/:id`), never the URL
 * itself: ids in a label would make one time series per payment. Requests no
 * route matched (404s, refusals before routing) share one value.
 */
function routeTemplate(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? `${req.baseUrl}${path}` : 'unmatched';
}

function logRequest(logger: Logger, req: Request, res: Response, startedAt: number): void {
  const status = res.statusCode;
  const seconds = (performance.now() - startedAt) / 1000;
  httpRequestDuration.observe({ method: req.method, route: routeTemplate(req), status }, seconds);
  const line = {
    requestId: res.locals.requestId,
    correlationId: res.locals.correlationId,
    method: req.method,
    // A key sent in the query is refused, and its value never reaches the log.
    url: loggableUrl(withoutQueryCredentials(req.originalUrl)),
    status,
    durationMs: Math.round(seconds * 10_000) / 10,
    principal: (res.locals['principal'] as { id?: string } | undefined)?.id,
    problem: res.locals.problem,
    aborted: res.writableFinished ? undefined : true,
  };
  if (status >= 500) logger.error(line, 'request completed');
  else logger.info(line, 'request completed');
}
