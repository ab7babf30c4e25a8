/**
 * The OpenAPI 3.1 document, generated from the same zod schemas that validate
 * requests, so the document cannot drift from the code. Each route module
 * registers its paths on the registry it is given.
 */
import { extendZodWithOpenApi, OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

extendZodWithOpenApi(z);

export { OpenAPIRegistry };

export const ProblemSchema = z
  .object({
    type: z.string().describe('URI reference naming the kind of problem, e.g. /problems/validation-failed'),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    requestId: z.string().optional().describe('Quote it to support'),
    errors: z.array(z.object({ pointer: z.string(), detail: z.string() })).optional(),
  })
  .openapi('Problem');

export const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: ProblemSchema } },
});

export function createOpenApiRegistry(): OpenAPIRegistry {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'apiKey', { type: 'http', scheme: 'bearer', description: 'API key: Authorization: Bearer <key>' });
  return registry;
}

export function buildOpenApiDocument(registry: OpenAPIRegistry, version: string) {
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'paystream',
      version,
      description: 'Payments that are never charged twice and never lost. Errors are RFC 9457 problem details.',
    },
    security: [{ apiKey: [] }],
  });
}
