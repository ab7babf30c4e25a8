/**
 * The HTTP application: cross-cutting middleware in a fixed order, then the
 * route modules handed in by the process entry file. Nothing is constructed
 * here that a test would want to replace.
 */
import express, { type Router } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { Logger } from '../logging';
import { authenticate, authenticateIfPresented, createAuthFailureThrottle, presentedPrincipal, principalFrom, type Authenticator } from './auth';
import { addressRateLimit, edgeHeaders, refuseQueryCredentials } from './edge';
import { createDocsRouter } from './docs-page';
import { createHealthRouter, registerHealthOpenApi, type ReadinessCheck } from './health';
import { buildOpenApiDocument, type OpenAPIRegistry } from './openapi';
import { requireHost } from './client-errors';
import { refuseDuplicateMembers } from './json-members';
import { HttpProblem, notFoundHandler, problemErrorHandler } from './problem';
import { installRequestLogger, requestContext } from './request-context';
import { createUlidFactory, type NewId } from '../random-ids';

export interface AppOptions {
  readonly logger: Logger;
  readonly authenticator: Authenticator;
  readonly bodyBytesMax: number;
  /** Requests per API key per minute; 0 is no limit. */
  readonly rateLimitPerMinute: number;
  /** Requests without a key, or refused (4xx), per client address per minute; 0 is no limit. */
  readonly addressRateLimitPerMinute: number;
  /** Failed authentications per client address per minute; 0 is no limit. */
  readonly authFailureLimitPerMinute: number;
  /** express's `trust proxy` (false: the TCP peer is the client). */
  readonly trustProxy: number | string | false;
  readonly registry: OpenAPIRegistry;
  readonly readinessChecks: ReadonlyMap<string, ReadinessCheck>;
  /** Routes that need an API key. */
  readonly routers: readonly Router[];
  /** Routes without an API key (pages whose data calls need one). */
  readonly publicRouters?: readonly Router[];
  readonly version?: string;
  /** Request ids; default a monotonic ULID factory over pooled random bytes. */
  readonly newRequestId?: NewId;
}

export function createApp(options: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.set('trust proxy', options.trustProxy);
  installRequestLogger(app, options.logger);
  app.use(requestContext({ logger: options.logger, newId: options.newRequestId ?? createUlidFactory() }));
  app.use(edgeHeaders);
  if (options.addressRateLimitPerMinute > 0) app.use(addressRateLimit(options.addressRateLimitPerMinute));
  app.use(requireHost());
  app.use(refuseQueryCredentials);
  const throttle = createAuthFailureThrottle(options.authFailureLimitPerMinute);
  registerHealthOpenApi(options.registry);
  app.use(createHealthRouter(options.readinessChecks, { identify: authenticateIfPresented(options.authenticator, throttle), showDetails: isStaffOnDuty }));
  app.use(createDocsRouter(() => buildOpenApiDocument(options.registry, options.version ?? '0.1.0'), options.registry));
  for (const router of options.publicRouters ?? []) app.use(router);
  // Rationale: the key is checked before any body is read, so an unauthenticated
  // client cannot make the server parse (or buffer) anything: its body is never touched.
  app.use(authenticate(options.authenticator, throttle));
  if (options.rateLimitPerMinute > 0) app.use(perKeyRateLimit(options.rateLimitPerMinute));
  app.use(express.json({ limit: options.bodyBytesMax, type: ['application/json', 'application/*+json'], strict: false, verify: refuseDuplicateMembers }));
  for (const router of options.routers) app.use(router);
  app.use(notFoundHandler);
  app.use(problemErrorHandler);
  return app;
}

/** Readiness details (hosts, pids, queue, positions) are for the staff who operate the service. See docs/adr/0016-health-details-for-staff.md. */
function isStaffOnDuty(res: express.Response): boolean {
  const principal = presentedPrincipal(res);
  return principal?.kind === 'staff' && (principal.role === 'operator' || principal.role === 'supervisor');
}

/** Counted per principal (after authentication), so one noisy client cannot starve the others. */
function perKeyRateLimit(limitPerMinute: number) {
  return rateLimit({
    windowMs: 60_000,
    limit: limitPerMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: (_req, res) => principalFrom(res).id,
    handler: (_req, _res, next, options) => {
      next(new HttpProblem(429, 'rate-limited', 'Too many requests', `at most ${limitPerMinute} requests per minute per API key`, {}, { 'Retry-After': String(Math.ceil(options.windowMs / 1000)) }));
    },
  });
}
