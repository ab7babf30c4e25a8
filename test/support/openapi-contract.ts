/**
 * Every answer an HTTP test receives is checked against the OpenAPI document
 * the server under test serves (GET /openapi.json), so the document and the
 * code cannot drift apart: an undeclared status, header or body shape fails the
 * test that caused it. See docs/api-contract.md for how a new route joins.
 *
 * What is checked, per answer:
 * - the path and method are an operation of the document (a path it does not
 *   know may only answer a 404 problem; a known path with another method only a
 *   405 problem whose Allow lists exactly the documented methods);
 * - the status is declared explicitly (`default` covers only 500: leaning on it
 *   would let any undeclared status through);
 * - the media type is declared for that status, and a JSON body matches its
 *   schema (ajv, JSON Schema 2020-12, formats checked);
 * - every required response header is present, every declared header that is
 *   present matches its schema, and the API's own headers (ETag, Location, …)
 *   are never sent where the document does not declare them.
 */
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

type Schema = Record<string, unknown>;
type HeaderObject = { required?: boolean; schema?: Schema; $ref?: string };
type ResponseObject = { headers?: Record<string, HeaderObject>; content?: Record<string, { schema?: Schema }> };
type Operation = { responses?: Record<string, ResponseObject> };
type Document = { paths?: Record<string, Record<string, Operation>>; components?: { headers?: Record<string, HeaderObject> } };

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'trace'] as const;

/** Headers this API sets itself: sending one where the document is silent is drift. */
const API_HEADERS = ['etag', 'location', 'retry-after', 'x-log-position', 'allow', 'ratelimit', 'ratelimit-policy', 'www-authenticate', 'accept-post', 'idempotent-replayed'];

/**
 * Pages for people, not API operations: the docs page (Swagger UI) and the
 * analysts' dashboard, with their scripts and styles. Answered, not described.
 */
const NOT_API_PATHS = [/^\/docs(\/|$)/, /^\/dashboard(\/|$)/, /^\/ops$/, /^\/ops\/portal\//];

export interface ObservedResponse {
  readonly method: string;
  /** The request path as sent (percent-encoded), without the query. */
  readonly path: string;
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

export interface ResponseContract {
  /** Every way the answer breaks the document; empty when it keeps it. */
  check(response: ObservedResponse): string[];
}

interface PathTemplate {
  readonly template: string;
  readonly pattern: RegExp;
  readonly literalSegments: number;
}

const escapePointerToken = (token: string) => encodeURIComponent(token.replace(/~/g, '~0').replace(/\//g, '~1'));

function pathTemplates(document: Document): PathTemplate[] {
  return Object.keys(document.paths ?? {})
    .map((template) => {
      const segments = template.split('/');
      const pattern = segments.map((segment) => (/^\{[^}]+\}$/.test(segment) ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/');
      return { template, pattern: new RegExp(`^${pattern}$`), literalSegments: segments.filter((segment) => !segment.startsWith('{')).length };
    })
    .sort((a, b) => b.literalSegments - a.literalSegments);
}

const mediaTypeOf = (contentType: string | null) => (contentType ?? '').split(';')[0]!.trim().toLowerCase();
const isJson = (mediaType: string) => mediaType === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(mediaType);

export function createResponseContract(document: Document): ResponseContract {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  addFormats(ajv);
  ajv.addSchema(document as Schema, 'openapi.json');
  const compiled = new Map<string, ValidateFunction>();
  const validatorAt = (pointer: string[]) => {
    const ref = `openapi.json#/${pointer.map(escapePointerToken).join('/')}`;
    let validate = compiled.get(ref);
    if (!validate) compiled.set(ref, (validate = ajv.compile({ $ref: ref })));
    return validate;
  };
  const templates = pathTemplates(document);
  const resolveHeader = (header: HeaderObject): HeaderObject =>
    header.$ref ? (document.components?.headers?.[header.$ref.replace('#/components/headers/', '')] ?? {}) : header;

  function checkHeaders(observed: ObservedResponse, declared: Record<string, HeaderObject>, pointer: string[]): string[] {
    const problems: string[] = [];
    const declaredNames = new Map(Object.keys(declared).map((name) => [name.toLowerCase(), name]));
    for (const [lower, name] of declaredNames) {
      const header = resolveHeader(declared[name]!);
      const value = observed.headers.get(lower);
      if (value === null) {
        if (header.required) problems.push(`the required header ${name} is missing`);
        continue;
      }
      if (!header.schema) continue;
      const validate = declared[name]!.$ref ? validatorAt(['components', 'headers', name, 'schema']) : validatorAt([...pointer, 'headers', name, 'schema']);
      if (!validate(value)) problems.push(`header ${name}: ${JSON.stringify(value)} ${ajv.errorsText(validate.errors)}`);
    }
    for (const lower of API_HEADERS) {
      if (observed.headers.get(lower) !== null && !declaredNames.has(lower)) problems.push(`the header ${lower} is sent but not declared for this status`);
    }
    return problems;
  }

  function checkBody(observed: ObservedResponse, response: ResponseObject, pointer: string[]): string[] {
    const hasBody = observed.body.length > 0;
    const content = response.content ?? {};
    if (observed.method === 'HEAD' || observed.status === 204 || observed.status === 304) {
      return hasBody ? [`a ${observed.status} to ${observed.method} must have no body`] : [];
    }
    if (!hasBody) return Object.keys(content).length > 0 ? ['the body is empty but the document declares one'] : [];
    const mediaType = mediaTypeOf(observed.headers.get('content-type'));
    if (!(mediaType in content)) return [`the media type ${mediaType || '(none)'} is not declared (declared: ${Object.keys(content).join(', ') || 'no body'})`];
    if (!isJson(mediaType) || !content[mediaType]!.schema) return [];
    let body: unknown;
    try {
      body = JSON.parse(observed.body);
    } catch {
      return [`the ${mediaType} body is not JSON`];
    }
    const validate = validatorAt([...pointer, 'content', mediaType, 'schema']);
    return validate(body) ? [] : [`body: ${ajv.errorsText(validate.errors, { separator: '; ' })}`];
  }

  function checkUndocumented(observed: ObservedResponse, template: PathTemplate | undefined): string[] {
    const mediaType = mediaTypeOf(observed.headers.get('content-type'));
    const isProblem = mediaType === 'application/problem+json';
    const problemValid = () => {
      const validate = validatorAt(['components', 'schemas', 'Problem']);
      return observed.method === 'HEAD' || validate(JSON.parse(observed.body || 'null')) ? [] : [`problem body: ${ajv.errorsText(validate.errors)}`];
    };
    if (!template) {
      if (NOT_API_PATHS.some((pattern) => pattern.test(observed.path))) return [];
      if (observed.status === 404 && (isProblem || observed.method === 'HEAD')) return problemValid();
      return [`the path is not in the document (answered ${observed.status})`];
    }
    const documented = METHODS.filter((method) => document.paths![template.template]![method]).map((method) => method.toUpperCase());
    if (documented.includes('GET')) documented.push('HEAD');
    if (observed.status !== 405 || (!isProblem && observed.method !== 'HEAD')) return [`${observed.method} is not an operation of ${template.template} (answered ${observed.status})`];
    const allow = (observed.headers.get('allow') ?? '').split(',').map((method) => method.trim()).filter(Boolean);
    const problems = problemValid();
    if ([...allow].sort().join(',') !== [...documented].sort().join(',')) problems.push(`Allow says ${allow.join(', ')} but the document has ${documented.join(', ')}`);
    return problems;
  }

  return {
    check(observed) {
      const template = templates.find((candidate) => candidate.pattern.test(observed.path));
      const method = observed.method === 'HEAD' ? 'get' : observed.method.toLowerCase();
      const operation = template ? document.paths![template.template]![method] : undefined;
      if (!template || !operation) return checkUndocumented(observed, template);
      const responses = operation.responses ?? {};
      const status = String(observed.status);
      // `default` stands for the unexpected only: every status the API means to send is declared.
      const key = status in responses ? status : observed.status === 500 && 'default' in responses ? 'default' : undefined;
      if (key === undefined) return [`status ${status} is not declared (declared: ${Object.keys(responses).join(', ')})`];
      const response = responses[key]!;
      const pointer = ['paths', template.template, method, 'responses', key];
      return [...checkHeaders(observed, response.headers ?? {}, pointer), ...checkBody(observed, response, pointer)];
    },
  };
}

export class ContractViolationError extends Error {
  constructor(observed: ObservedResponse, problems: readonly string[]) {
    super(`${observed.method} ${observed.path} answered ${observed.status}, which the OpenAPI document does not describe:\n- ${problems.join('\n- ')}\nbody: ${observed.body.slice(0, 500)}`);
    this.name = 'ContractViolationError';
  }
}

/** The contract of the server at baseUrl, read from its own /openapi.json. */
export async function contractOf(baseUrl: string): Promise<ResponseContract> {
  const response = await fetch(`${baseUrl}/openapi.json`);
  if (response.status !== 200) throw new Error(`${baseUrl}/openapi.json answered ${response.status}`);
  return createResponseContract((await response.json()) as Document);
}

/**
 * fetch for tests of the API: the same answer, after checking it against the
 * document. A streamed body is read whole on a copy first (the test reads the
 * original); a body that breaks off mid-transfer cannot be checked and is
 * returned as it is, for the test to see the break.
 */
export function contractFetch(baseUrl: string): typeof fetch {
  // Read once, on the first call: the server's routers are all mounted by then.
  let contract: Promise<ResponseContract> | undefined;
  return async (input, init) => {
    const request = new Request(input, init);
    const response = await fetch(request);
    const url = new URL(request.url);
    if (url.origin !== new URL(baseUrl).origin) return response;
    let body: string;
    try {
      body = await response.clone().text();
    } catch {
      return response;
    }
    const observed: ObservedResponse = { method: request.method, path: url.pathname, status: response.status, headers: response.headers, body };
    const problems = (await (contract ??= contractOf(baseUrl))).check(observed);
    if (problems.length > 0) throw new ContractViolationError(observed, problems);
    return response;
  };
}
