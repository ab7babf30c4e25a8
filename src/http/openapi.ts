/**
 * The OpenAPI 3.1 document, generated from the same zod schemas that validate
 * requests, so the document cannot drift from the code. Each route module
 * registers its paths on the registry it is given, with what only it knows
 * (its statuses, bodies and headers); `buildOpenApiDocument` then adds what
 * every operation of a kind answers (see `completeOperation`), so a new route
 * cannot forget the 413 of its body or the 429 of its key.
 */
import { extendZodWithOpenApi, OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

extendZodWithOpenApi(z);

export { OpenAPIRegistry };

export const ProblemSchema = z
  .object({
    type: z.string().describe('URI reference naming the kind of problem, e.g. /problems/validation-failed'),
    title: z.string(),
    status: z.number().int().min(100).max(599),
    detail: z.string().optional(),
    instance: z.string().optional().describe('urn:paystream:request:<request id>'),
    requestId: z.string().optional().describe('Quote it to support'),
    errors: z
      .array(z.object({ pointer: z.string().describe('JSON Pointer into the body, or #/query/…, #/path/…, #/header/…'), detail: z.string() }))
      .optional()
      .describe('Every problem of the request (400)'),
  })
  .describe('RFC 9457 problem details; further members may follow (e.g. currentRevision on a 412)')
  .openapi('Problem');

/** The names of the response headers under components/headers; routes point at them with `headerRef`. */
export const RESPONSE_HEADERS = {
  ETag: { description: 'Strong entity tag: the payment revision, e.g. "3". Send it back in If-Match.', schema: { type: 'string', pattern: '^"[0-9]{1,15}"$' } },
  Location: { description: 'The URL of the created resource', schema: { type: 'string' } },
  'X-Log-Position': {
    description: 'Global log position of the write ("commit/prepare"); send it as X-Wait-For-Position to read your own write from the read models',
    schema: { type: 'string', pattern: '^(-1|[0-9]{1,20})/(-1|[0-9]{1,20})$' },
  },
  'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'string', pattern: '^[0-9]{1,10}$' } },
  RateLimit: { description: 'Remaining quota of the current window (IETF draft-ietf-httpapi-ratelimit-headers-08), when a rate limit is configured', schema: { type: 'string' } },
  'RateLimit-Policy': { description: 'The quota policy (IETF draft-ietf-httpapi-ratelimit-headers-08), when a rate limit is configured', schema: { type: 'string' } },
  Allow: { description: 'The methods this path answers', schema: { type: 'string' } },
  'WWW-Authenticate': { description: 'Bearer realm="paystream"', schema: { type: 'string' } },
  'Accept-Post': { description: 'The media type a body must have', schema: { type: 'string' } },
  'Idempotent-Replayed': { description: 'true: this is the stored answer to an earlier request with the same Idempotency-Key; nothing was done again', schema: { type: 'string', enum: ['true'] } },
  'Cache-Control': { description: 'no-store: no answer of the API is for a cache', schema: { type: 'string', const: 'no-store' } },
  'X-Content-Type-Options': { description: 'nosniff: the Content-Type is the truth', schema: { type: 'string', const: 'nosniff' } },
} as const;

export type ResponseHeaderName = keyof typeof RESPONSE_HEADERS;

type HeaderPresence = Partial<Record<ResponseHeaderName, 'required' | 'optional'>>;

/**
 * Response header objects, each required or not for that response. Inline, not
 * by reference: whether a header is required belongs to the response, and a
 * reference cannot say it.
 */
export function responseHeaders(names: HeaderPresence): Record<string, { description: string; required: boolean; schema: object }> {
  return Object.fromEntries(Object.entries(names).map(([name, presence]) => [name, { ...RESPONSE_HEADERS[name as ResponseHeaderName], required: presence === 'required' }]));
}

/** Request headers shared by several operations, as zod schemas for `request.headers`. */
export const RequestHeaders = {
  ifMatch: z
    .string()
    .optional()
    .openapi({ param: { name: 'If-Match', in: 'header', description: 'Write only if the payment is still at this revision: one strong entity tag such as "3" (a weak one never matches: 412), or *' } }),
  ifNoneMatch: z.string().optional().openapi({ param: { name: 'If-None-Match', in: 'header', description: 'Entity tags you hold ("3", W/"3" or *)' } }),
  waitForPosition: z
    .string()
    .regex(/^(-1|[0-9]{1,20})\/(-1|[0-9]{1,20})$/)
    .optional()
    .openapi({ param: { name: 'X-Wait-For-Position', in: 'header', description: 'Like ?minPosition=: wait (bounded) until the read model has applied this log position (an X-Log-Position of your write)' } }),
  idempotencyKey: z
    .string()
    .min(1)
    .max(255)
    .optional()
    .openapi({ param: { name: 'Idempotency-Key', in: 'header', description: 'Makes a POST safe to retry: the same key and body replays the stored answer; the same key with another body is 422' } }),
} as const;

export const problemResponse = (description: string, headers?: HeaderPresence) => ({
  description,
  ...(headers ? { headers: responseHeaders(headers) } : {}),
  content: { 'application/problem+json': { schema: ProblemSchema } },
});

/** The same, for the generated document (where schemas are JSON, not zod). */
const generatedProblemResponse = (description: string, headers?: HeaderPresence) => ({
  description,
  ...(headers ? { headers: responseHeaders(headers) } : {}),
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});

export const TAGS = [
  { name: 'payments', description: 'Create, read and cancel payments (clients; staff read with ?tenant=)' },
  { name: 'analytics', description: 'Read models for analysts: lists, exports and reports, with their freshness' },
  { name: 'operations', description: "The operator's desk: payments whose bank outcome is unknown" },
  { name: 'service', description: 'Health and this document (no API key)' },
] as const;

export function createOpenApiRegistry(): OpenAPIRegistry {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'apiKey', { type: 'http', scheme: 'bearer', description: 'API key: Authorization: Bearer <key>' });
  registry.register('Problem', ProblemSchema);
  return registry;
}

type Operation = {
  operationId?: string;
  parameters?: readonly { name?: string; in?: string }[];
  security?: unknown[];
  requestBody?: { required?: boolean };
  responses: Record<string, { headers?: Record<string, unknown> }>;
};

const WRITE_METHODS = new Set(['put', 'post', 'patch', 'delete']);
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'] as const;

/**
 * Adds a response the route did not declare itself; when it did, its wording
 * wins and only the headers every such answer carries are added to it.
 */
function declare(operation: Operation, status: string, description: string, headers?: HeaderPresence): void {
  const existing = operation.responses[status];
  if (!existing) {
    operation.responses[status] = generatedProblemResponse(description, headers);
    return;
  }
  if (headers && !('$ref' in existing)) existing.headers = { ...responseHeaders(headers), ...existing.headers };
}

/** `{}` in an operation's security: a key is accepted, not required. */
const isAnonymousAllowed = (requirement: unknown) => typeof requirement === 'object' && requirement !== null && Object.keys(requirement).length === 0;

/**
 * What every operation answers beyond its own statuses, derived from what it
 * is: a body (required; 413, 415), an API key (401, 403, 429 and the
 * RateLimit headers on every answer), a write (503 when the store is busy or
 * away), a path (405 with Allow for other methods) and a `default` problem for
 * the unexpected. Every operation may also answer 400 (a credential in the
 * query string) and 429 (the per-address limits), and every answer carries
 * Cache-Control: no-store and X-Content-Type-Options: nosniff (src/http/edge.ts).
 */
function completeOperation(method: string, operation: Operation): void {
  if (operation.requestBody) {
    operation.requestBody.required = true;
    declare(operation, '413', 'The body is larger than BODY_BYTES_MAX');
    declare(operation, '415', 'The body is not UTF-8 JSON (application/json)', { 'Accept-Post': 'optional' });
  }
  const keyAccepted = operation.security === undefined || operation.security.length > 0;
  const keyRequired = keyAccepted && !(operation.security ?? []).some(isAnonymousAllowed);
  declare(operation, '400', 'The request is malformed, e.g. an API key in the query string (send it only as Authorization: Bearer <key>)');
  if (keyAccepted) declare(operation, '401', 'Missing or unknown API key', { 'WWW-Authenticate': 'required' });
  if (keyRequired) declare(operation, '403', 'The role of this API key may not do this');
  declare(
    operation,
    '429',
    keyRequired
      ? 'Too many requests for this API key, or from this address (requests without a key or refused, failed authentications): wait Retry-After seconds'
      : 'Too many requests from this address (requests without a key or refused, failed authentications): wait Retry-After seconds',
    { 'Retry-After': 'required', ...(keyRequired ? { RateLimit: 'optional', 'RateLimit-Policy': 'optional' } : {}) },
  );
  if (WRITE_METHODS.has(method)) {
    declare(operation, '503', 'The store is busy or unreachable; nothing was written. Retry after Retry-After seconds with the same request', { 'Retry-After': 'required' });
  } else if (keyRequired) {
    declare(operation, '503', 'The store is unreachable; retry after Retry-After seconds', { 'Retry-After': 'required' });
  }
  declare(operation, '405', 'This path does not answer that method', { Allow: 'required' });
  declare(operation, 'default', 'Unexpected error; quote the request id to support');
  if (acceptsIdempotencyKey(operation)) completeIdempotentOperation(operation);
  const everywhere: HeaderPresence = { 'Cache-Control': 'required', 'X-Content-Type-Options': 'required', ...(keyRequired ? { RateLimit: 'optional', 'RateLimit-Policy': 'optional' } : {}) };
  for (const response of Object.values(operation.responses)) {
    if ('$ref' in response) continue;
    response.headers = { ...responseHeaders(everywhere), ...response.headers };
  }
}

const acceptsIdempotencyKey = (operation: Operation) => (operation.parameters ?? []).some((parameter) => parameter.in === 'header' && parameter.name?.toLowerCase() === 'idempotency-key');

/**
 * An operation with Idempotency-Key (src/http/idempotency.ts): any stored
 * answer may come back replayed, so every response declares
 * Idempotent-Replayed; the key's own refusals are declared too.
 */
function completeIdempotentOperation(operation: Operation): void {
  declare(operation, '409', 'A request with this Idempotency-Key is still in progress (idempotency-key-in-flight): retry after Retry-After seconds', { 'Retry-After': 'optional' });
  declare(operation, '422', 'This Idempotency-Key was used for another request (idempotency-key-reuse): use a new key');
  for (const [status, response] of Object.entries(operation.responses)) {
    if ('$ref' in response || status === 'default' || status.startsWith('5') || status === '429') continue;
    response.headers = { ...responseHeaders({ 'Idempotent-Replayed': 'optional' }), ...response.headers };
  }
}

export function buildOpenApiDocument(registry: OpenAPIRegistry, version: string) {
  const document = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'paystream',
      version,
      description:
        'Payments that are never charged twice and never lost. Create a payment with your own id (PUT is idempotent), read it, cancel it before the bank has it. ' +
        'Errors are RFC 9457 problem details (application/problem+json) listing every problem of the request.',
      license: { name: 'UNLICENSED', identifier: 'LicenseRef-paystream-proprietary' },
    },
    servers: [{ url: '/', description: 'This server' }],
    tags: [...TAGS],
    security: [{ apiKey: [] }],
  });
  for (const pathItem of Object.values(document.paths ?? {})) {
    for (const method of HTTP_METHODS) {
      const operation = (pathItem as Record<string, Operation | undefined>)[method];
      if (operation) completeOperation(method, operation);
    }
  }
  return document;
}
