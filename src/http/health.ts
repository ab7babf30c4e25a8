/**
 * Liveness says the process answers; readiness says it can do its work: the
 * store answers, and every component that registered a check (gateway,
 * projector) reports itself healthy, with its lag and details for operators.
 */
import { Router } from 'express';
import { z } from 'zod';
import type { OpenAPIRegistry } from './openapi';
import { methodNotAllowed } from './problem';
import { READINESS_CHECK_TIMEOUT_MS, runReadinessCheck, type ReadinessCheck } from '../shared/readiness';

// Rationale: kept as re-exports so route modules read the check's shape from where they serve it.
export type { ReadinessCheck, ReadinessReport } from '../shared/readiness';

export function createHealthRouter(checks: ReadonlyMap<string, ReadinessCheck>): Router {
  const router = Router();
  router.get('/health/live', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/health/ready', async (_req, res) => {
    const entries = await Promise.all([...checks].map(async ([name, check]) => [name, await runReadinessCheck(check)] as const));
    const healthy = entries.every(([, report]) => report.healthy);
    res.status(healthy ? 200 : 503).json({ status: healthy ? 'ready' : 'not_ready', checks: Object.fromEntries(entries) });
  });
  // Public routes answer a wrong method themselves: past them every request needs a key.
  router.all(['/health/live', '/health/ready'], methodNotAllowed(['GET', 'HEAD']));
  return router;
}

/** The health routes in the API's document (the gateway and projector serve them too, without a document). */
export function registerHealthOpenApi(registry: OpenAPIRegistry): void {
  const Report = z.object({ healthy: z.boolean(), details: z.record(z.string(), z.unknown()).optional() });
  const Readiness = z
    .object({ status: z.enum(['ready', 'not_ready']), checks: z.record(z.string(), Report).describe('One report per component: the event store, and the gateway and projector where they run') })
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
    description: `Every component check answers within ${READINESS_CHECK_TIMEOUT_MS} ms and reports itself healthy.`,
    security: [],
    responses: {
      200: { description: 'Ready', content: { 'application/json': { schema: Readiness } } },
      503: { description: 'A component is not healthy', content: { 'application/json': { schema: Readiness } } },
    },
  });
}
