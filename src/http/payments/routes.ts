/**
 * Client routes of a payment: create (idempotent PUT), read, cancel. They turn
 * requests into commands and results into representations; the rules live in
 * the decider.
 */
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { PaymentsModule } from '../../application/payments';
import { formatPosition, type GlobalPosition } from '../../event-store/port';
import { isTenantId, type PaymentId, type TenantId } from '../../domain/ids';
import type { PaymentInstruction } from '../../domain/payment';
import { commandMetadata, principalFrom, requireRole } from '../auth';
import { HttpProblem, methodNotAllowed } from '../problem';
import { responseHeaders, problemResponse, RequestHeaders, type OpenAPIRegistry } from '../openapi';
import { parseRequestParts } from '../validation';
import { PreconditionFailedError } from '../../application/errors';
import type { IdempotencyRecords } from '../../application/idempotency';
import { idempotencyKey, idempotencyKeyHeader } from '../idempotency';
import { CancelRequest, PaymentIdParam, PaymentView, paymentRequestSchema, StaffTenantQuery, TenantRuleProblem } from './schemas';
import { etagOf, parseEntityTags, paymentViewFor } from './representation';

export const LOG_POSITION_HEADER = 'X-Log-Position';

export interface PaymentsRouterOptions {
  readonly payments: PaymentsModule;
  readonly idempotency: IdempotencyRecords;
  readonly amountMajorMax: number;
  readonly now: () => Date;
  readonly registry: OpenAPIRegistry;
}

export function createPaymentsRouter(options: PaymentsRouterOptions): Router {
  const { payments, now } = options;
  const requestSchema = paymentRequestSchema(options.amountMajorMax);
  const router = Router();
  registerOpenApi(options.registry, requestSchema);

  router
    .route('/payments/:id')
    .put(requireRole('client'), async (req, res) => {
      const { path, body: instruction } = parseRequestParts<{ path: { id: string }; body: PaymentInstruction }>({
        path: { schema: PaymentIdParam, value: req.params },
        body: { schema: requestSchema, value: requireJsonBody(req) },
      });
      const principal = principalFrom(res);
      if (principal.kind !== 'client') throw new Error('requireRole let a non-client through');
      const precondition = parseEntityTags(req.get('if-none-match'));
      const outcome = await payments.requestPayment(
        { tenantId: principal.tenantId, paymentId: path.id as PaymentId, instruction, createOnly: precondition?.any === true },
        commandMetadata(req, res, now),
      );
      if (outcome.created) res.status(201).location(`/payments/${encodeURIComponent(path.id)}`);
      sendPayment(res, outcome.state, outcome.revision, outcome.position);
    })
    .get(requireRole('client', 'analyst', 'operator', 'supervisor'), async (req, res) => {
      const { path } = parseRequestParts<{ path: { id: string } }>({ path: { schema: PaymentIdParam, value: req.params } });
      const tenantId = tenantFor(req, res);
      const found = await payments.getPayment(tenantId, path.id as PaymentId);
      if (!found) throw paymentNotFound();
      const ifNoneMatch = parseEntityTags(req.get('if-none-match'));
      if (ifNoneMatch && (ifNoneMatch.any || ifNoneMatch.revisions.includes(found.revision))) {
        res.setHeader('ETag', etagOf(found.revision));
        res.status(304).end();
        return;
      }
      sendPayment(res, found.state, found.revision, found.position);
    })
    .all(methodNotAllowed(['GET', 'PUT']));

  router
    .route('/payments/:id/cancel')
    .post(requireRole('client'), idempotencyKey({ records: options.idempotency, now, required: false }), async (req, res) => {
      const { path, body } = parseRequestParts<{ path: { id: string }; body: { reason: string } }>({
        path: { schema: PaymentIdParam, value: req.params },
        body: { schema: CancelRequest, value: requireJsonBody(req) },
      });
      const tenantId = tenantFor(req, res);
      const ifMatch = parseEntityTags(req.get('if-match'));
      // If-Match compares strongly (RFC 9110, 13.1.1): a weak tag never matches, so nothing is written.
      if (ifMatch?.weak) throw new PreconditionFailedError('If-Match needs a strong entity tag such as "3"; a weak one never matches', undefined);
      if (ifMatch && !ifMatch.any && ifMatch.revisions.length !== 1) {
        throw new HttpProblem(400, 'validation-failed', 'The request is invalid', 'If-Match takes one entity tag', { errors: [{ pointer: '#/header/if-match', detail: 'must be one entity tag such as "3"' }] });
      }
      const result = await payments.execute(
        tenantId,
        path.id as PaymentId,
        { type: 'CancelPayment', data: { reason: body.reason }, metadata: commandMetadata(req, res, now) },
        ifMatch && !ifMatch.any ? { expectedRevision: ifMatch.revisions[0]! } : {},
      );
      sendPayment(res, result.state, result.revision, result.position);
    })
    .all(methodNotAllowed(['POST']));

  return router;
}

export function paymentNotFound(): HttpProblem {
  return new HttpProblem(404, 'payment-not-found', 'Payment not found', 'no payment with this id for your tenant');
}

/** Clients act for their own tenant; staff name the tenant they look at. */
export function tenantFor(req: Request, res: Response): TenantId {
  const principal = principalFrom(res);
  if (principal.kind === 'client') return principal.tenantId;
  const tenant = typeof req.query['tenant'] === 'string' ? req.query['tenant'] : '';
  if (!isTenantId(tenant)) {
    throw new HttpProblem(400, 'validation-failed', 'The request is invalid', 'staff name the tenant', { errors: [{ pointer: '#/query/tenant', detail: 'required for staff: the tenant of the payment' }] });
  }
  return tenant;
}

/** Bodies are JSON only: anything else is 415, not a confusing field list. */
export function requireJsonBody(req: Request): unknown {
  if (!req.is(['application/json', 'application/*+json'])) {
    throw new HttpProblem(415, 'unsupported-media-type', 'Unsupported media type', 'send the body as application/json', {}, { 'Accept-Post': 'application/json' });
  }
  return req.body;
}

function sendPayment(res: Response, state: Parameters<typeof paymentViewFor>[1], revision: number, position: GlobalPosition | undefined): void {
  res.setHeader('ETag', etagOf(revision));
  if (position) res.setHeader(LOG_POSITION_HEADER, formatPosition(position));
  res.json(paymentViewFor(principalFrom(res), state, revision));
}

function registerOpenApi(registry: OpenAPIRegistry, requestSchema: ReturnType<typeof paymentRequestSchema>): void {
  const written = responseHeaders({ ETag: 'required', 'X-Log-Position': 'required' });
  const paymentContent = { content: { 'application/json': { schema: PaymentView } } };
  registry.registerPath({
    method: 'put',
    path: '/payments/{id}',
    operationId: 'createPayment',
    tags: ['payments'],
    summary: 'Create a payment with your own id (idempotent)',
    description:
      'Your id is the idempotency record and never expires: retrying the same request returns the same payment (200) and writes nothing. ' +
      'The same id with other details is 409, and the attempt is audited. If-None-Match: * makes it create-only (412 if it exists). Clients only: the tenant is the API key\'s.',
    request: {
      params: PaymentIdParam,
      headers: [RequestHeaders.ifNoneMatch.openapi({ param: { name: 'If-None-Match', in: 'header', description: '* : create only; answer 412 if the payment exists' } })],
      body: { description: 'The payment instruction', required: true, content: { 'application/json': { schema: requestSchema } } },
    },
    responses: {
      201: { description: 'Created', headers: { ...written, ...responseHeaders({ Location: 'required' }) }, ...paymentContent },
      200: { description: 'Already exists with the same details: nothing written', headers: written, ...paymentContent },
      400: problemResponse('Invalid id or body (duplicate member names included): every problem listed'),
      409: problemResponse('The id is taken by a payment with other details (differingFields lists them)'),
      412: problemResponse('If-None-Match: * and the payment exists'),
      422: {
        description:
          "A rule of your tenant refuses a new payment; nothing is written or counted. /problems/debtor-account-not-registered: the debtor IBAN is not one of your tenant's registered debit accounts. " +
          '/problems/currency-not-enabled: your tenant has limits, none in this currency. /problems/payment-amount-limit-exceeded: above your per-payment maximum. ' +
          "/problems/daily-limit-exceeded: it would take the day's total (UTC) in this currency past your daily limit. A retry of an existing payment is answered 200 without these checks.",
        content: { 'application/problem+json': { schema: TenantRuleProblem } },
      },
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/payments/{id}',
    operationId: 'getPayment',
    tags: ['payments'],
    summary: 'Read a payment',
    description: 'Clients read their own tenant\'s payments; staff name the tenant with ?tenant=.',
    request: {
      params: PaymentIdParam,
      query: z.object({ tenant: StaffTenantQuery }),
      headers: [RequestHeaders.ifNoneMatch.openapi({ param: { name: 'If-None-Match', in: 'header', description: 'Entity tags you hold: 304 when the payment is still at one of them' } })],
    },
    responses: {
      200: { description: 'The payment', headers: written, ...paymentContent },
      304: { description: 'Not modified: still at the revision you hold', headers: responseHeaders({ ETag: 'required' }) },
      400: problemResponse('Invalid id, or staff left out ?tenant='),
      404: problemResponse('No such payment for this tenant'),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/payments/{id}/cancel',
    operationId: 'cancelPayment',
    tags: ['payments'],
    summary: 'Cancel a payment not yet handed to the bank',
    description: 'Idempotent: cancelling a cancelled payment answers it again. With If-Match, only if the payment is still at that revision.',
    request: {
      params: PaymentIdParam,
      headers: [RequestHeaders.ifMatch, idempotencyKeyHeader(false)],
      body: { description: 'Why the payment is cancelled', required: true, content: { 'application/json': { schema: CancelRequest } } },
    },
    responses: {
      200: { description: 'Cancelled (also when it already was)', headers: written, ...paymentContent },
      400: problemResponse('Invalid id, body or If-Match: every problem listed'),
      404: problemResponse('No such payment'),
      409: problemResponse('Already with the bank or final'),
      412: problemResponse('If-Match does not match the current revision (or is weak)'),
    },
  });
}
