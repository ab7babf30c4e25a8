/**
 * Bearer API keys. Each key maps to a principal: a client of one tenant, or a
 * staff role. Keys are compared through their SHA-256 digests with a constant
 * time comparison against every configured key, so neither the match nor its
 * position in the list leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { ApiKeysRequired, type ApiKeyEntry, type ApiKeysSetting } from '../config/core';
import { ConfigError } from '../config/env';
import type { TenantId } from '../domain/ids';
import type { Principal, Role } from '../domain/principal';
import { clientAddressKey, createWindowCounter, tooManyRequests, type WindowCounter } from './edge';
import { HttpProblem } from './problem';

/**
 * Documented in the README. The configuration leaves API_KEYS undefined (these
 * keys) only on the embedded pglite store outside production; tests that build
 * the API directly pass undefined to get them on any store.
 */
export const DEMO_API_KEYS: readonly ApiKeyEntry[] = [
  { key: 'demo-client-acme-0000000001', role: 'client', tenant: 'acme', name: 'Acme Ltd (demo client)' },
  { key: 'demo-client-globex-000000002', role: 'client', tenant: 'globex', name: 'Globex Corp (demo client)' },
  { key: 'demo-analyst-00000000000003', role: 'analyst', name: 'Ana Lyst (demo analyst)' },
  { key: 'demo-operator-0000000000004', role: 'operator', name: 'Olga Operator (demo operator)' },
  { key: 'demo-operator-0000000000005', role: 'operator', name: 'Oscar Operator (demo operator)' },
  { key: 'demo-supervisor-00000000006', role: 'supervisor', name: 'Sue Pervisor (demo supervisor)' },
];

/** The keys the API accepts; a server store without API_KEYS refuses to start, naming API_KEYS. */
export function acceptedApiKeys(setting: ApiKeysSetting): readonly ApiKeyEntry[] {
  if (setting instanceof ApiKeysRequired) throw new ConfigError([setting.problem]);
  return setting ?? DEMO_API_KEYS;
}

interface KeyRecord {
  readonly digest: Buffer;
  readonly principal: Principal;
}

const digest = (key: string) => createHash('sha256').update(key, 'utf8').digest();

/** A principal's id is derived from its key, never the key itself, so logs and events never hold a key. */
function principalOf(entry: ApiKeyEntry, index: number): Principal {
  const id = `${entry.role}:${entry.name ? entry.name.replace(/\s*\(.*\)$/, '').toLowerCase().replace(/[^a-z0-9]+/g, '-') : `key-${index}`}:${digest(entry.key).toString('hex').slice(0, 8)}`;
  if (entry.role === 'client') return { kind: 'client', id, tenantId: entry.tenant as TenantId };
  return { kind: 'staff', id, role: entry.role };
}

export interface Authenticator {
  authenticate(authorization: string | undefined): Principal | undefined;
}

export function createAuthenticator(entries: readonly ApiKeyEntry[]): Authenticator {
  const records: KeyRecord[] = entries.map((entry, index) => ({ digest: digest(entry.key), principal: principalOf(entry, index) }));
  // The configuration refuses duplicates at start-up; this guards keys handed in any other way.
  if (new Set(records.map((record) => record.digest.toString('hex'))).size !== records.length) {
    throw new ConfigError(['API_KEYS: a key is listed more than once; each key must be listed once']);
  }
  return {
    authenticate(authorization) {
      // The scheme name is case-insensitive (RFC 9110, section 11.1).
      const match = /^bearer ([\x21-\x7e]{1,512})$/i.exec(authorization ?? '');
      if (!match) return undefined;
      const presented = digest(match[1]!);
      let found: Principal | undefined;
      for (const record of records) {
        if (timingSafeEqual(record.digest, presented)) found = record.principal;
      }
      return found;
    },
  };
}

export function roleOf(principal: Principal): Role | 'system' {
  if (principal.kind === 'client') return 'client';
  if (principal.kind === 'staff') return principal.role;
  return 'system';
}

/**
 * Failed authentications per client address. Past the limit, every request from
 * that address is 429 until its minute is over, a valid key included: letting a
 * valid key through would tell a guesser which of its guesses was right.
 */
export interface AuthFailureThrottle {
  /** Seconds to wait when the address is over its limit. */
  refused(req: Request): Promise<number | undefined>;
  failed(req: Request): Promise<void>;
}

export function createAuthFailureThrottle(limitPerMinute: number): AuthFailureThrottle {
  if (limitPerMinute <= 0) return { refused: async () => undefined, failed: async () => undefined };
  const counter: WindowCounter = createWindowCounter(limitPerMinute);
  return {
    refused: (req) => counter.exhausted(clientAddressKey(req)),
    failed: (req) => counter.count(clientAddressKey(req)),
  };
}

const unauthenticated = () =>
  new HttpProblem(401, 'unauthenticated', 'Unauthenticated', 'send a valid API key as "Authorization: Bearer <key>"', {}, { 'WWW-Authenticate': 'Bearer realm="paystream"' });

/** The principal of the request's key, or the problem to answer; every failure is counted. */
async function principalOrProblem(req: Request, authenticator: Authenticator, throttle: AuthFailureThrottle): Promise<Principal | HttpProblem> {
  const retryAfter = await throttle.refused(req);
  if (retryAfter !== undefined) return tooManyRequests('authentication-throttled', 'too many failed authentications from this address', retryAfter);
  // Node keeps the first of several Authorization headers; which key was meant is unknowable.
  const principal = authorizationHeaderCount(req.rawHeaders) > 1 ? undefined : authenticator.authenticate(req.get('authorization'));
  if (principal) return principal;
  await throttle.failed(req);
  return unauthenticated();
}

/** Every request past this point has a principal; mounted before any body is read. */
export function authenticate(authenticator: Authenticator, throttle: AuthFailureThrottle = createAuthFailureThrottle(0)): RequestHandler {
  return async (req, res, next) => {
    const outcome = await principalOrProblem(req, authenticator, throttle);
    if (outcome instanceof HttpProblem) return next(outcome);
    res.locals['principal'] = outcome;
    next();
  };
}

/**
 * For public routes that tell staff more (readiness): no Authorization header
 * is an anonymous request; a header is checked like anywhere else, so a wrong
 * key is 401 and counts as a failed authentication.
 */
export function authenticateIfPresented(authenticator: Authenticator, throttle: AuthFailureThrottle): RequestHandler {
  return async (req, res, next) => {
    if (req.headers.authorization === undefined) return next();
    const outcome = await principalOrProblem(req, authenticator, throttle);
    if (outcome instanceof HttpProblem) return next(outcome);
    res.locals['principal'] = outcome;
    next();
  };
}

/** The request's principal if it presented a valid key (optional authentication), else undefined. */
export function presentedPrincipal(res: Response): Principal | undefined {
  return res.locals['principal'] as Principal | undefined;
}

export function requireRole(...roles: Array<Role>): RequestHandler {
  return (_req, res, next) => {
    const principal = principalFrom(res);
    const role = roleOf(principal);
    if (role === 'system' || !roles.includes(role)) {
      return next(new HttpProblem(403, 'forbidden', 'Forbidden', `this route needs one of the roles: ${roles.join(', ')}`));
    }
    next();
  };
}

export function principalFrom(res: Response): Principal {
  const principal = res.locals['principal'] as Principal | undefined;
  if (!principal) throw new Error('route reached without authentication');
  return principal;
}

export function commandMetadata(req: Request, res: Response, now: () => Date) {
  const requestId = res.locals['requestId'] as string;
  return {
    now: now(),
    principal: principalFrom(res),
    requestId,
    correlationId: (res.locals['correlationId'] as string | undefined) ?? requestId,
    causationId: requestId,
  };
}

function authorizationHeaderCount(rawHeaders: readonly string[]): number {
  let count = 0;
  for (let index = 0; index < rawHeaders.length; index += 2) if (rawHeaders[index]!.toLowerCase() === 'authorization') count += 1;
  return count;
}
