/**
 * The Idempotency-Key header (draft-ietf-httpapi-idempotency-key-header) as
 * express middleware, for any POST. Put it after authentication and the role
 * check and before anything that writes:
 *
 *   router.post('/ops/…', requireRole('operator'), idempotencyKey({ records, now, required: true }), handler)
 *
 * - No header: `required` answers 400 /problems/idempotency-key-missing; else the request runs unkeyed.
 * - `"abc"` (the draft's quoted string) and `abc` name the same key; 1 to 255 printable ASCII characters.
 * - Same principal, key and request (method, path, If-Match, canonical body): the stored answer, with
 *   `Idempotent-Replayed: true`. Another request under the key: 422 /problems/idempotency-key-reuse.
 *   The first still running: 409 /problems/idempotency-key-in-flight with Retry-After.
 * - The handler's answer (status, body, ETag/Location/X-Log-Position) is stored before it is sent;
 *   a 5xx or 429 releases the key instead, so the same request may be sent again.
 * - `idempotencyClaimIdOf(res)` gives the handler an id stable across retries of the key (a ULID).
 *
 * OpenAPI: give the operation `request.headers: [idempotencyKeyHeader(required)]`; the document builder
 * then declares Idempotent-Replayed on every answer and the 409/422 (src/http/openapi.ts).
 */
import type { Request, RequestHandler, Response } from 'express';
import type { IdempotencyRecords, StoredResponse } from '../application/idempotency';
import { idempotencyFingerprint } from '../application/idempotency';
import { IDEMPOTENCY_KEY_LENGTH_MAX, isReplayableStatus } from '../domain/idempotency';
import { commandMetadata, principalFrom } from './auth';
import { z } from 'zod';
// For its side effect: zod schemas gain .openapi().
import './openapi';
import { HttpProblem } from './problem';

export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';
export const IDEMPOTENT_REPLAYED_HEADER = 'Idempotent-Replayed';

/** Headers of an answer replayed with it; the rest (rate limits, request id) belong to the new request. */
const REPLAYED_HEADERS = ['etag', 'location', 'x-log-position'] as const;

/** Answers bigger than this are not stored (none of ours comes close); the key is released. */
export const STORED_RESPONSE_CHARS_MAX = 256 * 1024;

const UNQUOTED = new RegExp(`^[\\x21\\x23-\\x7e][\\x21-\\x7e]{0,${IDEMPOTENCY_KEY_LENGTH_MAX - 1}}$`);
const QUOTED = new RegExp(`^"([\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]{1,${IDEMPOTENCY_KEY_LENGTH_MAX}})"$`);

export interface IdempotencyKeyOptions {
  readonly records: IdempotencyRecords;
  readonly now: () => Date;
  readonly required: boolean;
}

/** The key as sent, or a problem naming what is wrong with it; undefined when absent. */
export function parseIdempotencyKey(rawHeaders: readonly string[]): string | HttpProblem | undefined {
  const values: string[] = [];
  for (let index = 0; index < rawHeaders.length; index += 2) if (rawHeaders[index]!.toLowerCase() === 'idempotency-key') values.push(rawHeaders[index + 1]!);
  if (values.length === 0) return undefined;
  const invalid = (detail: string) =>
    new HttpProblem(400, 'validation-failed', 'The request is invalid', '1 problem(s) with the request', { errors: [{ pointer: '#/header/idempotency-key', detail }] });
  if (values.length > 1) return invalid('send one Idempotency-Key header');
  const value = values[0]!.trim();
  const quoted = QUOTED.exec(value);
  if (quoted) return quoted[1]!;
  if (UNQUOTED.test(value)) return value;
  return invalid(`1 to ${IDEMPOTENCY_KEY_LENGTH_MAX} printable ASCII characters, as "abc" or abc (no quote or backslash inside)`);
}

export function idempotencyKey(options: IdempotencyKeyOptions): RequestHandler {
  return async (req, res, next) => {
    const key = parseIdempotencyKey(req.rawHeaders);
    if (key instanceof HttpProblem) return next(key);
    if (key === undefined) {
      if (!options.required) return next();
      return next(new HttpProblem(400, 'idempotency-key-missing', 'Idempotency-Key required', 'send an Idempotency-Key header (a new random value per action, the same one when you retry it)'));
    }
    const metadata = commandMetadata(req, res, options.now);
    const request = { method: req.method, path: canonicalPath(req), fingerprint: fingerprintOf(req) };
    const begun = await options.records.begin({ principalId: principalFrom(res).id, key }, request, metadata);
    switch (begun.kind) {
      case 'replay':
        return replay(res, begun.response);
      case 'reused':
        return next(new HttpProblem(422, 'idempotency-key-reuse', 'Idempotency-Key already used', 'this key was used for another request (method, path or body differ); use a new key for a new request'));
      case 'in-flight':
        return next(
          new HttpProblem(409, 'idempotency-key-in-flight', 'Request with this key still in progress', 'the first request with this key has not answered yet; retry after Retry-After seconds', {}, {
            'Retry-After': String(Math.max(1, Math.ceil(begun.retryAfterMs / 1000))),
          }),
        );
      case 'execute':
        res.locals['idempotencyClaimId'] = begun.claimId;
        captureAnswer(req, res, begun);
        return next();
      default:
        return assertNeverBegun(begun);
    }
  };
}

/** The id stable across every retry of the request's key, when it has one. */
export function idempotencyClaimIdOf(res: Response): string | undefined {
  const claimId = res.locals['idempotencyClaimId'];
  return typeof claimId === 'string' ? claimId : undefined;
}

/** For the operation's `request.headers` in the OpenAPI document. */
export function idempotencyKeyHeader(required: boolean) {
  const description = required
    ? 'Required. A new random value per action, the same one when you retry it: the same key and request replays the stored answer (Idempotent-Replayed: true); another request under the key is 422; while the first runs, 409. Keys are per API key, kept at least REPLAY_WINDOW_MS.'
    : 'Optional. Makes the POST safe to retry: the same key and request replays the stored answer (Idempotent-Replayed: true); another request under the key is 422; while the first runs, 409. Keys are per API key, kept at least REPLAY_WINDOW_MS.';
  // The quoted form is two characters longer than the key.
  const value = z.string().min(1).max(IDEMPOTENCY_KEY_LENGTH_MAX + 2);
  return (required ? value : value.optional()).openapi({ param: { name: IDEMPOTENCY_KEY_HEADER, in: 'header', required, description } });
}

/**
 * Wraps res.send so the answer is stored before it leaves. res.json ends in
 * res.send with the body as text, and so does every problem (sendProblem).
 */
function captureAnswer(req: Request, res: Response, begun: Extract<Awaited<ReturnType<IdempotencyRecords['begin']>>, { kind: 'execute' }>): void {
  const send = res.send.bind(res);
  let captured = false;
  res.send = ((body?: unknown) => {
    // An object goes through res.json, which comes back here with its text.
    if (captured || (body !== null && typeof body === 'object' && !Buffer.isBuffer(body))) return send(body);
    captured = true;
    const text = body === undefined ? '' : Buffer.isBuffer(body) ? body.toString('utf8') : String(body);
    const status = res.statusCode;
    const stored = isReplayableStatus(status) && text.length <= STORED_RESPONSE_CHARS_MAX;
    const response: StoredResponse = { status, contentType: String(res.getHeader('content-type') ?? 'application/json'), headers: replayedHeadersOf(res), body: text };
    (stored ? begun.complete(response) : begun.release(status))
      .then((kept) => {
        if (!kept) req.log.warn({ status }, 'idempotency claim was taken over before this answer was stored; the other answer stands');
      })
      .catch((error: unknown) => {
        // The effect is durable; only the record is missing, and the claim is taken over after the in-flight bound.
        req.log.warn({ err: error, status }, 'idempotency answer not stored');
      })
      .finally(() => send(body));
    return res;
  }) as Response['send'];
}

function replay(res: Response, response: StoredResponse): void {
  for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
  res.setHeader(IDEMPOTENT_REPLAYED_HEADER, 'true');
  res.locals['idempotency'] = 'replayed';
  res.status(response.status).type(response.contentType).send(response.body);
}

function replayedHeadersOf(res: Response): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of REPLAYED_HEADERS) {
    const value = res.getHeader(name);
    if (value !== undefined) headers[name] = String(value);
  }
  return headers;
}

function fingerprintOf(req: Request): string {
  return idempotencyFingerprint({ method: req.method, path: canonicalPath(req), headers: { 'if-match': req.get('if-match') }, body: req.body });
}

/** The path with each segment decoded and encoded again, so `p%2D1` and `p-1` are one request. */
function canonicalPath(req: Request): string {
  return `${req.baseUrl}${req.path}`
    .split('/')
    .map((segment) => {
      try {
        return encodeURIComponent(decodeURIComponent(segment));
      } catch {
        return segment;
      }
    })
    .join('/');
}

function assertNeverBegun(begun: never): never {
  throw new Error(`unexpected idempotency decision: ${JSON.stringify(begun)}`);
}
