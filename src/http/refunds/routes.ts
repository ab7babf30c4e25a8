/**
 * Client refunds of a payment: create (idempotent PUT under the client's own
 * refund id), read one, list. Rules live in the decider; this turns requests
 * into commands and states into representations.
 */
import { Router, type Response } from 'express';
import { z } from 'zod';
import type { RefundsModule } from '../../application/refunds';
import { findRefund, type ExistingPaymentState } from '../../domain/payment';
import type { PaymentId, RefundId } from '../../domain/ids';
import { formatPosition, type GlobalPosition } from '../../event-store/port';
import { commandMetadata, principalFrom, requireRole } from '../auth';
import { responseHeaders, problemResponse, type OpenAPIRegistry } from '../openapi';
import { HttpProblem, methodNotAllowed } from '../problem';
import { etagOf } from '../payments/representation';
import { LOG_POSITION_HEADER, paymentNotFound, requireJsonBody, tenantFor } from '../payments/routes';
import { StaffTenantQuery } from '../payments/schemas';
import { parseRequestParts } from '../validation';
import { refundAmountsOf, refundView } from './representation';
import { RefundList, RefundListPathParams, RefundPathParams, RefundRequest, RefundView, type RefundRequestBody } from './schemas';

export interface RefundsRouterOptions {
  readonly refunds: RefundsModule;
  readonly now: () => Date;
  readonly registry: OpenAPIRegistry;
}

type RefundPath = { paymentId: string; refundId: string };

export function createRefundsRouter(options: RefundsRouterOptions): Router {
  const { refunds, now } = options;
  const router = Router();
  registerOpenApi(options.registry);

  router
    .route('/payments/:paymentId/refunds/:refundId')
    .put(requireRole('client'), async (req, res) => {
      const { path, body } = parseRequestParts<{ path: RefundPath; body: RefundRequestBody }>({
        path: { schema: RefundPathParams, value: req.params },
        body: { schema: RefundRequest, value: requireJsonBody(req) },
      });
      const principal = principalFrom(res);
      if (principal.kind !== 'client') throw new Error('requireRole let a non-client through');
      const outcome = await refunds.requestRefund(
        {
          tenantId: principal.tenantId,
          paymentId: path.paymentId as PaymentId,
          refundId: path.refundId as RefundId,
          amount: body.amount,
          currency: body.currency ?? null,
          reason: body.reason ?? null,
          metadata: body.metadata ?? {},
        },
        commandMetadata(req, res, now),
      );
      if (outcome.created) res.status(201).location(`/payments/${encodeURIComponent(path.paymentId)}/refunds/${encodeURIComponent(path.refundId)}`);
      sendWithHeaders(res, outcome.revision, outcome.position).json(refundView(outcome.payment, outcome.refund));
    })
    .get(requireRole('client', 'analyst', 'operator', 'supervisor'), async (req, res) => {
      const { path } = parseRequestParts<{ path: RefundPath }>({ path: { schema: RefundPathParams, value: req.params } });
      const found = await refunds.getPaymentWithRefunds(tenantFor(req, res), path.paymentId as PaymentId);
      if (!found) throw paymentNotFound();
      const refund = findRefund(found.payment, path.refundId);
      if (!refund) throw refundNotFound();
      sendWithHeaders(res, found.revision, found.position).json(refundView(found.payment, refund));
    })
    .all(methodNotAllowed(['GET', 'PUT']));

  router
    .route('/payments/:paymentId/refunds')
    .get(requireRole('client', 'analyst', 'operator', 'supervisor'), async (req, res) => {
      const { path } = parseRequestParts<{ path: { paymentId: string } }>({ path: { schema: RefundListPathParams, value: req.params } });
      const found = await refunds.getPaymentWithRefunds(tenantFor(req, res), path.paymentId as PaymentId);
      if (!found) throw paymentNotFound();
      sendWithHeaders(res, found.revision, found.position).json(refundList(found.payment));
    })
    .all(methodNotAllowed(['GET']));

  return router;
}

function refundList(payment: ExistingPaymentState) {
  const refunds = payment.status === 'settled' ? payment.refunds : [];
  return { paymentId: payment.paymentId, currency: payment.instruction.currency, ...refundAmountsOf(payment), items: refunds.map((refund) => refundView(payment, refund)) };
}

function refundNotFound(): HttpProblem {
  return new HttpProblem(404, 'refund-not-found', 'Refund not found', 'no refund with this id on this payment');
}

/** The ETag is the payment's revision: a refund's representation is a function of the payment stream. */
function sendWithHeaders(res: Response, revision: number, position: GlobalPosition | undefined): Response {
  res.setHeader('ETag', etagOf(revision));
  if (position) res.setHeader(LOG_POSITION_HEADER, formatPosition(position));
  return res;
}

function registerOpenApi(registry: OpenAPIRegistry): void {
  const written = responseHeaders({ ETag: 'required', 'X-Log-Position': 'required' });
  const refundContent = { content: { 'application/json': { schema: RefundView } } };
  registry.registerPath({
    method: 'put',
    path: '/payments/{paymentId}/refunds/{refundId}',
    operationId: 'createRefund',
    tags: ['payments'],
    summary: 'Refund (part of) a settled payment with your own refund id (idempotent)',
    description:
      'Your refund id is the idempotency record: retrying the same request returns the same refund (200) and writes nothing; the same id with other details is 409 ' +
      '(refund-id-conflict, differingFields), and the attempt is audited. Only a settled payment is refundable (409 payment-not-refundable), and refunds that have not failed ' +
      'add up to at most the settled amount (409 refund-exceeds-payment with refundableAmount), however many race. The currency is the payment\'s. ' +
      'The ETag is the payment\'s revision. Clients only: the tenant is the API key\'s.',
    request: {
      params: RefundPathParams,
      body: { description: 'The refund', required: true, content: { 'application/json': { schema: RefundRequest } } },
    },
    responses: {
      201: { description: 'Created', headers: { ...written, ...responseHeaders({ Location: 'required' }) }, ...refundContent },
      200: { description: 'Already exists with the same details: nothing written', headers: written, ...refundContent },
      400: problemResponse('Invalid ids or body, an amount with more decimals than the currency allows, or another currency: every problem listed'),
      404: problemResponse('No such payment for this tenant'),
      409: problemResponse('refund-id-conflict (differingFields), payment-not-refundable (paymentStatus), refund-exceeds-payment (refundableAmount) or refund-limit-reached'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/payments/{paymentId}/refunds/{refundId}',
    operationId: 'getRefund',
    tags: ['payments'],
    summary: 'Read a refund',
    description: "Clients read their own tenant's refunds; staff name the tenant with ?tenant=. Another tenant's payment is a 404.",
    request: { params: RefundPathParams, query: z.object({ tenant: StaffTenantQuery }) },
    responses: {
      200: { description: 'The refund', headers: written, ...refundContent },
      400: problemResponse('Invalid ids, or staff left out ?tenant='),
      404: problemResponse('No such payment for this tenant, or no such refund on it'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/payments/{paymentId}/refunds',
    operationId: 'listRefunds',
    tags: ['payments'],
    summary: "A payment's refunds, with its refunded and refundable amounts",
    description: "Every refund of the payment, oldest first. Clients read their own tenant's; staff name the tenant with ?tenant=.",
    request: { params: RefundListPathParams, query: z.object({ tenant: StaffTenantQuery }) },
    responses: {
      200: { description: 'The refunds', headers: written, content: { 'application/json': { schema: RefundList } } },
      400: problemResponse('Invalid id, or staff left out ?tenant='),
      404: problemResponse('No such payment for this tenant'),
    },
  });
}
