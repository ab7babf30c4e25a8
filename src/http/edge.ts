/**
 * The edge of the API: what every request meets before any route, and before
 * any body is read.
 *
 * - Headers on every answer: `Cache-Control: no-store` (payments, problems and
 *   health are never for a shared cache; static assets replace it with their
 *   own public max-age) and `X-Content-Type-Options: nosniff`.
 * - API keys in the query string are refused (400) and never logged: a URL
 *   ends up in proxy logs, browser history and Referer headers.
 * - Per client address: requests without an API key, and refused ones (4xx),
 *   are counted; past the limit the address gets 429 until its minute is over.
 *   Failed authentications have a tighter limit of their own (auth.ts).
 *
 * Counts use express-rate-limit's MemoryStore (per process, fixed one-minute
 * windows) and its IPv6-aware address key (a /56 counts as one client).
 */
import type { Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator, MemoryStore, type Options } from 'express-rate-limit';
import { HttpProblem } from './problem';

export const LIMIT_WINDOW_MS = 60_000;

/** Sets the two headers before anything answers, so even a 404 or a 429 carries them. */
export const edgeHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  next();
};

/**
 * Query parameter names that carry credentials in the conventions clients
 * reach for (api_key, apiKey, access_token, …), compared without case and
 * without separators.
 */
const CREDENTIAL_NAMES = new Set(['apikey', 'key', 'accesstoken', 'token', 'authtoken', 'auth', 'authorization', 'bearer', 'idtoken', 'refreshtoken', 'secret', 'clientsecret', 'password', 'xapikey']);

const normalisedName = (name: string) => decodeLeniently(name).toLowerCase().replace(/[^a-z0-9]/g, '');

function decodeLeniently(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

/** The credential-like parameter names of a URL's query, as sent. */
export function credentialParameters(url: string): string[] {
  const query = url.indexOf('?');
  if (query < 0) return [];
  return url
    .slice(query + 1)
    .split('#')[0]!
    .split('&')
    .map((pair) => pair.split('=')[0]!)
    .filter((name) => CREDENTIAL_NAMES.has(normalisedName(name)));
}

/** The URL for a log line: the value of every credential-like parameter replaced, the rest as sent. */
export function withoutQueryCredentials(url: string): string {
  const query = url.indexOf('?');
  if (query < 0) return url;
  const pairs = url
    .slice(query + 1)
    .split('&')
    .map((pair) => {
      const name = pair.split('=')[0]!;
      return CREDENTIAL_NAMES.has(normalisedName(name)) ? `${name}=[redacted]` : pair;
    });
  return `${url.slice(0, query)}?${pairs.join('&')}`;
}

export const refuseQueryCredentials: RequestHandler = (req, _res, next) => {
  const names = credentialParameters(req.originalUrl);
  if (names.length === 0) return next();
  next(
    new HttpProblem(400, 'credentials-in-query', 'Credentials in the query string', 'API keys are accepted only as "Authorization: Bearer <key>", never in the URL; treat the key you sent as exposed', {
      errors: names.map((name) => ({ pointer: `#/query/${decodeLeniently(name).replace(/~/g, '~0').replace(/\//g, '~1')}`, detail: 'a credential in the query string is refused' })),
    }),
  );
};

/** The client's address as the limits count it: one IPv4 address, or one IPv6 /56. */
export function clientAddressKey(req: Request): string {
  return req.ip ? ipKeyGenerator(req.ip) : 'unknown';
}

/** A fixed-window counter per key, from express-rate-limit's own store. */
export interface WindowCounter {
  /** Seconds until the window ends when `key` has reached `limit`; undefined while it may go on. */
  exhausted(key: string): Promise<number | undefined>;
  count(key: string): Promise<void>;
}

export function createWindowCounter(limit: number): WindowCounter {
  const store = new MemoryStore();
  store.init({ windowMs: LIMIT_WINDOW_MS } as Options);
  return {
    async exhausted(key) {
      const seen = await store.get(key);
      if (!seen || seen.totalHits < limit) return undefined;
      return Math.max(1, Math.ceil(((seen.resetTime?.getTime() ?? Date.now() + LIMIT_WINDOW_MS) - Date.now()) / 1000));
    },
    async count(key) {
      await store.increment(key);
    },
  };
}

export function tooManyRequests(code: string, detail: string, retryAfterSeconds: number): HttpProblem {
  return new HttpProblem(429, code, 'Too many requests', detail, {}, { 'Retry-After': String(retryAfterSeconds) });
}

/** A load balancer's probe, which must never be refused: a throttled probe gets a healthy instance pulled. */
const isAnonymousProbe = (req: Request) => req.headers.authorization === undefined && (req.path === '/health/live' || req.path === '/health/ready');

/**
 * Anonymous requests (no Authorization header) count when they arrive, so a
 * burst of them cannot outrun the count; others count when their answer is a
 * 4xx, so a client using its key well is never counted here (its key has its
 * own limit). 5xx answers are ours, not the client's, and do not count.
 */
export function addressRateLimit(limitPerMinute: number): RequestHandler {
  const counter = createWindowCounter(limitPerMinute);
  return async (req, res, next) => {
    if (isAnonymousProbe(req)) return next();
    const address = clientAddressKey(req);
    const retryAfter = await counter.exhausted(address);
    if (retryAfter !== undefined) {
      return next(tooManyRequests('rate-limited', `at most ${limitPerMinute} requests without an API key, or refused, per minute from one address`, retryAfter));
    }
    if (req.headers.authorization === undefined) await counter.count(address);
    else res.once('finish', () => countIfRefused(counter, address, res));
    next();
  };
}

function countIfRefused(counter: WindowCounter, address: string, res: Response): void {
  if (res.statusCode >= 400 && res.statusCode < 500) void counter.count(address);
}
