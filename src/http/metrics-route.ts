/**
 * GET /metrics on the API, in the Prometheus text format, for the `operator`
 * and `supervisor` roles: Prometheus scrapes it with a staff key
 * (`authorization: { credentials: <key> }` in its scrape config). Worker
 * processes (gateway, projector, relay) serve /metrics on their health port,
 * which is not public, without a key. See docs/metrics.md.
 */
import { Router } from 'express';
import { z } from 'zod';
import { METRICS_CONTENT_TYPE, renderMetrics } from '../observability/metrics';
import { requireRole } from './auth';
import { problemResponse, type OpenAPIRegistry } from './openapi';
import { methodNotAllowed } from './problem';

export function createMetricsRouter(registry: OpenAPIRegistry): Router {
  registry.registerPath({
    method: 'get',
    path: '/metrics',
    operationId: 'getMetrics',
    tags: ['service'],
    summary: "This process's metrics, in the Prometheus text format (operator or supervisor)",
    responses: {
      200: { description: 'Prometheus text exposition format 0.0.4', content: { 'text/plain': { schema: z.string() } } },
      403: problemResponse('Role not allowed (operator or supervisor only)'),
    },
  });
  const router = Router();
  router.get('/metrics', requireRole('operator', 'supervisor'), async (_req, res, next) => {
    try {
      res.type(METRICS_CONTENT_TYPE).send(await renderMetrics());
    } catch (error) {
      next(error);
    }
  });
  router.all('/metrics', methodNotAllowed(['GET', 'HEAD']));
  return router;
}
