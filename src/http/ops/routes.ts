/**
 * Operator routes: list parked payments, look one up at the bank, retry or
 * resolve it, and decide proposals (approvals). The rules live in the
 * application's operator actions; these routes map requests to them and
 * results to representations.
 */
import { Router, type Request, type Response } from 'express';
import type { OperatorActions, PaymentRef } from '../../application/operator-actions';
import type { ExistingApprovalState } from '../../domain/approval';
import { approvalStatus } from '../../domain/approval';
import type { PaymentId, TenantId } from '../../domain/ids';
import type { BankLookupRecord } from '../../domain/payment';
import type { ListQuery, WorkItem } from '../../bank-gateway/work-queue';
import type { IdempotencyRecords } from '../../application/idempotency';
import { commandMetadata, requireRole } from '../auth';
import { idempotencyClaimIdOf, idempotencyKey } from '../idempotency';
import type { OpenAPIRegistry } from '../openapi';
import { HttpProblem, methodNotAllowed } from '../problem';
import { etagOf, paymentView } from '../payments/representation';
import { requireJsonBody } from '../payments/routes';
import { parseRequestParts } from '../validation';
import { registerOpsOpenApi } from './openapi';
import { actionRateLimit, type ActionLimitOptions } from './rate-limits';
import {
  ApprovalListQuery,
  ApprovalParams,
  DecisionRequest,
  encodeApprovalCursor,
  encodeOpsCursor,
  OpsListQuery,
  OpsPaymentParams,
  ResolveRequest,
  RetryRequest,
  type ApprovalListQueryValue,
  type OpsListQueryValue,
  type ResolveRequestBody,
} from './schemas';

export interface OpsRouterOptions {
  readonly operatorActions: OperatorActions;
  /** The gateway's work queue (listing only). */
  readonly workQueue: { list(query: ListQuery): Promise<WorkItem[]> };
  /** Idempotency-Key records: optional on retry and resolve, required on approve and reject. */
  readonly idempotency: IdempotencyRecords;
  readonly now: () => Date;
  readonly registry: OpenAPIRegistry;
  /** Retries, resolves, approvals and rejections each, per staff member per hour; 0 is no limit. */
  readonly actionLimitPerHour: number;
}

type Params = { tenant: string; id: string };

export function createOpsRouter(options: OpsRouterOptions): Router {
  const router = Router();
  const { operatorActions: actions, now } = options;
  const staff = requireRole('operator', 'supervisor');
  registerOpsOpenApi(options.registry);
  const keyed = (required: boolean) => idempotencyKey({ records: options.idempotency, now, required });
  const limits: ActionLimitOptions = {
    limitPerHour: options.actionLimitPerHour,
    now,
    audit: (ref, refusal, metadata) => actions.auditRefusal(ref, refusal, metadata),
    paymentOf: async (params) => {
      const payment = OpsPaymentParams.safeParse({ tenant: params['tenant'], id: params['id'] });
      if (payment.success) return refOf(payment.data);
      const approval = ApprovalParams.safeParse({ approvalId: params['approvalId'] });
      if (!approval.success) return undefined;
      const found = await actions.approvals.get(approval.data.approvalId);
      return found ? { tenantId: found.state.action.tenantId, paymentId: found.state.action.paymentId } : undefined;
    },
  };

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
    .route('/ops/payments/:tenant/:id/bank-lookup')
    .get(staff, async (req, res) => {
      const { path } = parseRequestParts<{ path: Params }>({ path: { schema: OpsPaymentParams, value: req.params } });
      const result = await actions.lookUp(refOf(path), now());
      res.json({ payment: paymentView(result.payment.state, result.payment.revision), lookup: result.lookup ?? null, transfer: result.transfer ?? null });
    })
    .all(methodNotAllowed(['GET']));

  router
    .route('/ops/payments/:tenant/:id/audit')
    .get(staff, async (req, res) => {
      const { path } = parseRequestParts<{ path: Params }>({ path: { schema: OpsPaymentParams, value: req.params } });
      res.json({ items: await actions.auditTrail(refOf(path)) });
    })
    .all(methodNotAllowed(['GET']));

  router
    .route('/ops/payments/:tenant/:id/retry')
    .post(staff, keyed(false), actionRateLimit('retry', limits), async (req, res) => {
      const { path, body } = parseRequestParts<{ path: Params; body: { reason: string } }>({
        path: { schema: OpsPaymentParams, value: req.params },
        body: { schema: RetryRequest, value: requireJsonBody(req) },
      });
      const result = await actions.retry(refOf(path), body.reason, commandMetadata(req, res, now));
      res.setHeader('ETag', etagOf(result.payment.revision));
      res.status(result.action === 'resolved-from-bank' ? 200 : 202).json({ action: result.action, lookup: retryLookupView(result.lookup), payment: paymentView(result.payment.state, result.payment.revision) });
    })
    .all(methodNotAllowed(['POST']));

  router
    .route('/ops/payments/:tenant/:id/resolve')
    .post(staff, keyed(false), actionRateLimit('resolve', limits), async (req, res) => {
      const { path, body } = parseRequestParts<{ path: Params; body: ResolveRequestBody }>({
        path: { schema: OpsPaymentParams, value: req.params },
        body: { schema: ResolveRequest, value: requireJsonBody(req) },
      });
      // A retried key lands on the same proposal (the claim id is a ULID, stable across the key's retries).
      const approvalId = idempotencyClaimIdOf(res);
      const input = { ...refOf(path), outcome: body.outcome, bankTransferId: body.bankTransferId ?? null, reason: body.reason, evidence: body.evidence, ...(approvalId ? { approvalId } : {}) };
      const result = await actions.resolve(input, commandMetadata(req, res, now));
      if (result.kind === 'proposed') {
        res.setHeader('Location', `/ops/approvals/${result.approval.state.approvalId}`);
        res.status(202).json({ action: 'proposed', approval: approvalView(result.approval.state, now()) });
        return;
      }
      res.setHeader('ETag', etagOf(result.payment.revision));
      res.json(paymentView(result.payment.state, result.payment.revision));
    })
    .all(methodNotAllowed(['POST']));

  router
    .route('/ops/approvals')
    .get(staff, async (req, res) => {
      const { query } = parseRequestParts<{ query: ApprovalListQueryValue }>({ query: { schema: ApprovalListQuery, value: req.query } });
      const at = now();
      const page = await actions.approvals.list({ status: query.status, limit: query.limit, now: at, ...(query.cursor ? { after: query.cursor } : {}) });
      res.json({ items: page.items.map((state) => approvalView(state, at)), nextCursor: page.next ? encodeApprovalCursor(page.next) : null });
    })
    .all(methodNotAllowed(['GET']));

  router
    .route('/ops/approvals/:approvalId')
    .get(staff, async (req, res) => {
      const { path } = parseRequestParts<{ path: { approvalId: string } }>({ path: { schema: ApprovalParams, value: req.params } });
      const found = await actions.approvals.get(path.approvalId);
      if (!found) throw approvalNotFound(path.approvalId);
      res.json(approvalView(found.state, now()));
    })
    .all(methodNotAllowed(['GET']));

  for (const decision of ['approve', 'reject'] as const) {
    router
      .route(`/ops/approvals/:approvalId/${decision}`)
      .post(staff, keyed(true), actionRateLimit(decision, limits), async (req: Request, res: Response) => {
        const { path, body } = parseRequestParts<{ path: { approvalId: string }; body: { reason: string } }>({
          path: { schema: ApprovalParams, value: req.params },
          body: { schema: DecisionRequest, value: requireJsonBody(req) },
        });
        const metadata = commandMetadata(req, res, now);
        const result = decision === 'approve' ? await actions.approvals.approve(path.approvalId, body.reason, metadata) : await actions.approvals.reject(path.approvalId, body.reason, metadata);
        res.json(approvalView(result.state, metadata.now));
      })
      .all(methodNotAllowed(['POST']));
  }

  return router;
}

const refOf = (path: Params): PaymentRef => ({ tenantId: path.tenant as TenantId, paymentId: path.id as PaymentId });

const approvalNotFound = (approvalId: string) => new HttpProblem(404, 'approval-not-found', 'Approval not found', `no approval ${approvalId}`);

function retryLookupView(lookup: BankLookupRecord | undefined) {
  return lookup ?? { result: 'unavailable' as const, bankTransferId: null, detail: 'not looked up: the payment is not parked', lookedUpAt: null };
}

export function approvalView(state: ExistingApprovalState, now: Date) {
  const { action } = state;
  return {
    id: state.approvalId,
    status: approvalStatus(state, now),
    action: { kind: action.kind, tenant: action.tenantId, paymentId: action.paymentId, outcome: action.outcome, bankTransferId: action.bankTransferId },
    proposedBy: state.proposedBy,
    reason: state.reason,
    evidence: state.evidence,
    bankAnswer: state.bankAnswer,
    proposedAt: state.proposedAt,
    expiresAt: state.expiresAt,
    approval: state.status === 'approved' ? state.approval : null,
    rejection: state.status === 'rejected' ? state.rejection : null,
    execution:
      state.status === 'approved' && state.execution
        ? { status: state.execution.status, detail: state.execution.detail, problem: state.execution.status === 'failed' ? state.execution.problem : null, at: state.execution.at }
        : null,
  };
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
