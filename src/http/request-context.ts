/**
 * Request, correlation and causation ids. A client may send X-Request-Id and
 * X-Correlation-Id (safe characters, bounded length); otherwise they are made
 * here. Both are echoed, logged on every line of the request, and stored in the
 * metadata of every event the request writes.
 */
import type { RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import { ulid } from 'ulid';
import type { Logger } from '../logging';

const ID_PATTERN = /^[A-Za-z0-9._:~-]{1,128}$/;

function acceptedId(value: string | undefined): string | undefined {
  return value !== undefined && ID_PATTERN.test(value) ? value : undefined;
}

export function requestIds(): RequestHandler {
  return (req, res, next) => {
    const requestId = acceptedId(req.get('x-request-id')) ?? ulid();
    const correlationId = acceptedId(req.get('x-correlation-id')) ?? requestId;
    res.locals['requestId'] = requestId;
    res.locals['correlationId'] = correlationId;
    res.setHeader('X-Request-Id', requestId);
    res.setHeader('X-Correlation-Id', correlationId);
    next();
  };
}

export function requestLogging(logger: Logger): RequestHandler {
  return pinoHttp({
    logger,
    genReqId: (_req, res) => (res as unknown as { locals: Record<string, string> }).locals['requestId'] ?? ulid(),
    customProps: (_req, res) => ({ correlationId: (res as unknown as { locals: Record<string, string> }).locals['correlationId'] }),
    serializers: {
      req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : 'info'),
  });
}
