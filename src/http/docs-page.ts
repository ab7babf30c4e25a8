/**
 * /openapi.json and a human-readable page at /docs (Swagger UI, served from the
 * installed swagger-ui-dist package: no CDN, works offline).
 */
import express, { Router, type RequestHandler } from 'express';
import { getAbsoluteFSPath } from 'swagger-ui-dist';
import { z } from 'zod';
import type { OpenAPIRegistry } from './openapi';
import { methodNotAllowed } from './problem';

const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>paystream API</title><link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="docs"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body></html>`;

const INIT_SCRIPT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#docs', deepLinking: true });`;

/** Drops the API's `Cache-Control: no-store` (src/http/edge.ts) so the static file server sets its public max-age. */
export const publicAsset: RequestHandler = (_req, res, next) => {
  res.removeHeader('Cache-Control');
  next();
};

export function createDocsRouter(document: () => object, registry: OpenAPIRegistry): Router {
  const router = Router();
  registry.registerPath({
    method: 'get',
    path: '/openapi.json',
    operationId: 'getOpenApiDocument',
    tags: ['service'],
    summary: 'This document (OpenAPI 3.1)',
    description: 'A human-readable page of it is served at /docs.',
    security: [],
    responses: { 200: { description: 'The OpenAPI document', content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } } } },
  });
  let cached: string | undefined;
  router.get('/openapi.json', (_req, res) => {
    cached ??= JSON.stringify(document());
    res.type('application/json').send(cached);
  });
  router.get('/docs', (_req, res) => {
    res.type('html').send(DOCS_PAGE);
  });
  router.get('/docs/init.js', (_req, res) => {
    res.type('application/javascript').send(INIT_SCRIPT);
  });
  // The API's no-store gives way here: the assets are the same for everyone and hold no data.
  router.use('/docs/assets', publicAsset, express.static(getAbsoluteFSPath(), { index: false, maxAge: '1h' }));
  router.all(['/openapi.json', '/docs', '/docs/init.js'], methodNotAllowed(['GET', 'HEAD']));
  return router;
}
