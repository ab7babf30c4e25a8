/**
 * Liveness says the process answers; readiness says it can do its work: the
 * store answers, and every component that registered a check (gateway,
 * projector) reports itself healthy. On the API, anyone gets the status;
 * the checks with their details (hosts, pids, queue, positions) only an
 * operator's or supervisor's key (docs/adr/0016-health-details-for-staff.md).
 */
import { Router, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import { problemResponse, type OpenAPIRegistry } from './openapi';
import { methodNotAllowed } from './problem';
import { READINESS_CHECK_TIMEOUT_MS, runReadinessCheck, type ReadinessCheck } from '../shared/readiness';

// Rationale: kept as re-exports so route modules read the check's shape from where they serve it.
export type { ReadinessCheck, ReadinessReport } from '../shared/readiness';

export interface HealthAccess {
  /** Runs before readiness: sets the principal of a presented key, refuses a wrong one. */
  readonly identify: RequestHandler;
  /** Whether this request may see the checks and their details. */
  readonly showDetails: (res: Response) => boolean;
}

/**
 * Without `access` (the gateway's and the projector's own health ports, which
 * hold no API edge and are never published) every answer carries the checks.
 */
export function createHealthRouter(checks: ReadonlyMap<string, ReadinessCheck>, access?: HealthAccess): Router {
  const router = Router();
  router.get('/health/live', (_req, res) => {
    res.json({ status: 'ok' });
  });
  const identify: RequestHandler = access?.identify ?? ((_req, _res, next) => next());
  router.get('/health/ready', identify, async (_req, res) => {
    const entries = await Promise.all([...checks].map(async ([name, check]) => [name, await runReadinessCheck(check)] as const));
    const healthy = entries.every(([, report]) => report.healthy);
    const status = healthy ? 'ready' : 'not_ready';
    const detailed = access ? access.showDetails(res) : true;
    res.status(healthy ? 200 : 503).json(detailed ? { status, checks: Object.fromEntries(entries) } : { status });
  });
  // Public routes answer a wrong method themselves: past them every request needs a key.
  router.all(['/health/live', '/health/ready'], methodNotAllowed(['GET', 'HEAD']));
  return router;
}

/** The health routes in the API's document (the gateway and projector serve them too, without a document). */
export function registerHealthOpenApi(registry: OpenAPIRegistry): void {
  const Report = z.object({ healthy: z.boolean(), details: z.record(z.string(), z.unknown()).optional() });
  const Readiness = z
    .object({
      status: z.enum(['ready', 'not_ready']),
      checks: z
        .record(z.string(), Report)
        .optional()
        .describe('Only for an operator or supervisor key: one report per component (the event store, and the gateway and projector where they run), with its details'),
    })
    .openapi('Readiness');
  registry.registerPath({
    method: 'get',
    path: '/health/live',
    operationId: 'getLiveness',
    tags: ['service'],
    summary: 'The process answers',
    security: [],
    responses: { 200: { description: 'Alive', content: { 'application/json': { schema: z.object({ status: z.literal('ok') }).openapi('Liveness') } } } },
  });
  registry.registerPath({
    method: 'get',
    path: '/health/ready',
    operationId: 'getReadiness',
    tags: ['service'],
    summary: 'The process can do its work',
    description:
      `Every component check answers within ${READINESS_CHECK_TIMEOUT_MS} ms and reports itself healthy. Without a key the answer is the status alone; ` +
      'with an operator or supervisor key it lists the checks and their details. A key that is presented must be valid (401 otherwise).',
    security: [{}, { apiKey: [] }],
    responses: {
      200: { description: 'Ready', content: { 'application/json': { schema: Readiness } } },
      401: problemResponse('The API key presented is not valid (no key at all is fine)', { 'WWW-Authenticate': 'required' }),
      503: { description: 'A component is not healthy', content: { 'application/json': { schema: Readiness } } },
    },
  });
}
