/**
 * Operator routes for payments whose bank outcome is unknown: list them, ask
 * the gateway to retry (after looking the transfer up at the bank), or record
 * the outcome found by manual reconciliation. Every action is an event written
 * through the decider, carrying the operator, the reason and the time: the log
 * is the audit trail.
 */
import { Router, type Request, type Response } from 'express';
import type { PaymentsModule } from '../../application/payments';
import type { PaymentId, TenantId } from '../../domain/ids';
import type { ExistingPaymentState } from '../../domain/payment';
import type { BankClient, LookupAnswer } from '../../bank-gateway/bank-client';
import { transferRequestOf } from '../../bank-gateway/claim-worker';
import type { ListQuery, WorkItem } from '../../bank-gateway/work-queue';
import { commandMetadata, requireRole } from '../auth';
import { problemResponse, responseHeaders, type OpenAPIRegistry } from '../openapi';
import { HttpProblem, methodNotAllowed } from '../problem';
import { etagOf, paymentView } from '../payments/representation';
import { PaymentView } from '../payments/schemas';
import { requireJsonBody } from '../payments/routes';
import { parseRequestParts } from '../validation';
import {
  encodeOpsCursor,
  OpsListQuery,
  OpsPaymentList,
  OpsPaymentParams,
  ResolveRequest,
  RetryRequest,
  RetryResponse,
  type OpsListQueryValue,
  type ResolveRequestBody,
} from './schemas';

export interface OpsRouterOptions {
  readonly payments: PaymentsModule;
  /** The gateway's work queue (listing only). */
  readonly workQueue: { list(query: ListQuery): Promise<WorkItem[]> };
  /** The bank, for the lookup before a retry. */
  readonly bank: Pick<BankClient, 'findTransfer'>;
  readonly now: () => Date;
  readonly registry: OpenAPIRegistry;
}

type Params = { tenant: string; id: string };

export function createOpsRouter(options: OpsRouterOptions): Router {
  const router = Router();
  const staff = requireRole('operator', 'supervisor');
  registerOpenApi(options.registry);

  router
    .route('/ops/payments')
    .get(staff, async (req, res) => {
      const { query } = parseRequestParts<{ query: OpsListQueryValue }>({ query: { schema: OpsListQuery, value: req.query } });
      const items = await options.workQueue.list({ status: query.status, limit: query.limit + 1, ...(query.cursor ? { after: query.cursor } : {}) });
      const page = items.slice(0, query.limit);
      const last = page[page.length - 1];
      res.json({ items: page.map(itemView), nextCursor: items.length > query.limit && last ? encodeOpsCursor(last) : null });
    })
    .all(methodNotAllowed(['GET']));

  router
    .route('/ops/payments/:tenant/:id/retry')
    .post(staff, async (req, res) => {
      const { path, body } = parseRequestParts<{ path: Params; body: { reason: string } }>({
        path: { schema: OpsPaymentParams, value: req.params },
        body: { schema: RetryRequest, value: requireJsonBody(req) },
      });
      await retry(options, req, res, path, body.reason);
    })
    .all(methodNotAllowed(['POST']));

  router
    .route('/ops/payments/:tenant/:id/resolve')
    .post(staff, async (req, res) => {
      const { path, body } = parseRequestParts<{ path: Params; body: ResolveRequestBody }>({
        path: { schema: OpsPaymentParams, value: req.params },
        body: { schema: ResolveRequest, value: requireJsonBody(req) },
      });
      const { tenantId, paymentId } = await existing(options.payments, path);
      const command = {
        type: 'ResolveManually' as const,
        data: { outcome: body.outcome, bankTransferId: body.bankTransferId ?? null, reason: body.reason, evidence: body.evidence },
        metadata: commandMetadata(req, res, options.now),
      };
      const result = await options.payments.execute(tenantId, paymentId, command);
      sendPayment(res, result.state, result.revision);
    })
    .all(methodNotAllowed(['POST']));

  return router;
}

/**
 * Looks first, then acts: a transfer the bank already holds is recorded as the
 * operator's resolution with the bank's answer as evidence; otherwise the retry
 * is recorded and the gateway resumes (lookup again, then the same key). A
 * bank that cannot answer now does not block the retry: the gateway looks up
 * before it submits anyway.
 */
async function retry(options: OpsRouterOptions, req: Request, res: Response, path: Params, reason: string): Promise<void> {
  const { tenantId, paymentId, found } = await existing(options.payments, path);
  const metadata = commandMetadata(req, res, options.now);
  const requestRetry = () => options.payments.execute(tenantId, paymentId, { type: 'RequestOperatorRetry', data: { reason }, metadata });
  if (found.state.status !== 'unknown' || !found.state.bank) {
    // Already retrying (no new event) or not parked at all (409 from the decider).
    const result = await requestRetry();
    res.status(202).json({ action: 'retry-requested', lookup: { result: 'unavailable', bankTransferId: null, detail: 'not looked up: the payment is not parked' }, payment: paymentView(result.state, result.revision) });
    return;
  }
  const endToEndId = found.state.bank.endToEndId;
  const answer = await options.bank.findTransfer(transferRequestOf(found.state));
  if (answer.kind === 'conflicting') {
    // Neither an outcome nor a reason to resend: money may have moved wrongly, and that is reconciled by hand.
    throw new HttpProblem(409, 'bank-answer-conflicting', 'The bank holds a transfer that contradicts this payment', `${answer.error}; reconcile it with the bank and resolve the payment manually`);
  }
  if (answer.kind === 'accepted' || answer.kind === 'rejected') {
    const evidence = `bank lookup by end-to-end id ${endToEndId} at ${metadata.now.toISOString()}: transfer ${answer.bankTransferId} ${answer.kind}${answer.kind === 'rejected' ? ` (${answer.reason})` : ''}`;
    const outcome = answer.kind === 'accepted' ? ('settled' as const) : ('rejected' as const);
    const result = await options.payments.execute(
      tenantId,
      paymentId,
      { type: 'ResolveManually', data: { outcome, bankTransferId: answer.bankTransferId, reason, evidence }, metadata },
      { expectedRevision: found.revision },
    );
    res.setHeader('ETag', etagOf(result.revision));
    res.status(200).json({ action: 'resolved-from-bank', lookup: lookupView(answer), payment: paymentView(result.state, result.revision) });
    return;
  }
  const result = await requestRetry();
  res.setHeader('ETag', etagOf(result.revision));
  res.status(202).json({ action: 'retry-requested', lookup: lookupView(answer), payment: paymentView(result.state, result.revision) });
}

async function existing(payments: PaymentsModule, path: Params) {
  const tenantId = path.tenant as TenantId;
  const paymentId = path.id as PaymentId;
  const found = await payments.getPayment(tenantId, paymentId);
  if (!found) throw new HttpProblem(404, 'payment-not-found', 'Payment not found', `no payment ${path.id} for tenant ${path.tenant}`);
  return { tenantId, paymentId, found };
}

function lookupView(answer: LookupAnswer) {
  switch (answer.kind) {
    case 'accepted':
      return { result: 'accepted' as const, bankTransferId: answer.bankTransferId, detail: null };
    case 'rejected':
      return { result: 'rejected' as const, bankTransferId: answer.bankTransferId, detail: answer.reason };
    case 'not-found':
      return { result: 'not-found' as const, bankTransferId: null, detail: null };
    default:
      return { result: 'unavailable' as const, bankTransferId: null, detail: answer.error };
  }
}

function sendPayment(res: Response, state: ExistingPaymentState, revision: number): void {
  res.setHeader('ETag', etagOf(revision));
  res.json(paymentView(state, revision));
}

function itemView(item: WorkItem) {
  return {
    tenant: item.tenantId,
    id: item.paymentId,
    status: item.paymentStatus,
    queueStatus: item.status,
    attempts: item.attempts,
    lastError: item.lastError,
    nextAttemptAt: item.nextAttemptAt.toISOString(),
    leaseOwner: item.leaseOwner,
    updatedAt: item.updatedAt.toISOString(),
  };
}

function registerOpenApi(registry: OpenAPIRegistry): void {
  const staffOnly = problemResponse('Role not allowed (operator or supervisor only)');
  const etag = responseHeaders({ ETag: 'required' });
  const paymentContent = { content: { 'application/json': { schema: PaymentView } } };
  registry.registerPath({
    method: 'get',
    path: '/ops/payments',
    operationId: 'listOperatorPayments',
    tags: ['operations'],
    summary: 'Payments needing an operator, or still with the gateway',
    description: 'Keyset pagination in (tenant, id) order: follow nextCursor.',
    request: { query: OpsListQuery },
    responses: {
      200: { description: 'A page of payments', content: { 'application/json': { schema: OpsPaymentList } } },
      400: problemResponse('Invalid status, limit or cursor: every problem listed'),
      403: staffOnly,
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/ops/payments/{tenant}/{id}/retry',
    operationId: 'retryOperatorPayment',
    tags: ['operations'],
    summary: 'Look the transfer up at the bank, then record its outcome or let the gateway retry with the same key',
    description: 'Never a second transfer: the bank is asked first; only a transfer it does not hold is retried, with the same idempotency key.',
    request: { params: OpsPaymentParams, body: { description: 'Why the operator acts', required: true, content: { 'application/json': { schema: RetryRequest } } } },
    responses: {
      200: { description: 'The bank holds the transfer: its outcome was recorded', headers: etag, content: { 'application/json': { schema: RetryResponse } } },
      202: { description: 'Retry recorded: the gateway looks up again, then resubmits with the same key', headers: responseHeaders({ ETag: 'optional' }), content: { 'application/json': { schema: RetryResponse } } },
      400: problemResponse('Invalid path or body: every problem listed'),
      403: staffOnly,
      404: problemResponse('No such payment'),
      409: problemResponse('The payment is not parked with an unknown outcome'),
      412: problemResponse('The payment changed between the bank lookup and the write; look again'),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/ops/payments/{tenant}/{id}/resolve',
    operationId: 'resolveOperatorPayment',
    tags: ['operations'],
    summary: 'Record the outcome found by manual reconciliation',
    request: { params: OpsPaymentParams, body: { description: 'The outcome, its evidence and the reason', required: true, content: { 'application/json': { schema: ResolveRequest } } } },
    responses: {
      200: { description: 'Resolved (also when it already was, the same way)', headers: etag, ...paymentContent },
      400: problemResponse('Invalid path or body: every problem listed'),
      403: staffOnly,
      404: problemResponse('No such payment'),
      409: problemResponse('The payment is not parked with an unknown outcome'),
    },
  });
}
