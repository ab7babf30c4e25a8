/** The operator routes in the OpenAPI document, with every status they answer. */
import { z } from 'zod';
import { idempotencyKeyHeader } from '../idempotency';
import { problemResponse, responseHeaders, type OpenAPIRegistry } from '../openapi';
import { PaymentView } from '../payments/schemas';
import {
  ApprovalList,
  ApprovalListQuery,
  ApprovalParams,
  ApprovalView,
  BankLookupResponse,
  DecisionRequest,
  OpsListQuery,
  OpsPaymentList,
  OpsPaymentParams,
  ResolveAccepted,
  ResolveRequest,
  RetryRequest,
  RetryResponse,
} from './schemas';

const AuditTrail = z
  .object({
    items: z.array(
      z.object({
        type: z.string().describe('a payment event, or OperatorActionRefused for a refused attempt'),
        recordedAt: z.string(),
        by: z.string().nullable(),
        requestId: z.string().nullable(),
        data: z.record(z.string(), z.unknown()),
      }),
    ),
  })
  .openapi('OperatorAuditTrail');

export function registerOpsOpenApi(registry: OpenAPIRegistry): void {
  const common = {
    400: problemResponse('Invalid parameters or body: every problem listed'),
    403: problemResponse('Role not allowed (operator or supervisor only)'),
  };
  const etag = responseHeaders({ ETag: 'required' });
  const tags = ['operations'];
  const json = <T extends z.ZodType>(schema: T) => ({ content: { 'application/json': { schema } } });
  const limited = { 429: problemResponse('Too many requests for this API key, or too many actions of this kind by this staff member this hour (rate-limited); audited', { 'Retry-After': 'required' }) };
  registry.registerPath({
    method: 'get',
    path: '/ops/payments',
    operationId: 'listOperatorPayments',
    tags,
    summary: 'Payments needing an operator, or still with the gateway',
    request: { query: OpsListQuery },
    responses: { 200: { description: 'A page of payments, oldest key first', ...json(OpsPaymentList) }, ...common },
  });
  registry.registerPath({
    method: 'get',
    path: '/ops/payments/{tenant}/{id}/bank-lookup',
    operationId: 'lookUpOperatorPaymentAtBank',
    tags,
    summary: 'What the bank holds for the payment\'s reference (writes nothing)',
    request: { params: OpsPaymentParams },
    responses: { 200: { description: 'The payment and the bank\'s answer', ...json(BankLookupResponse) }, ...common, 404: problemResponse('No such payment') },
  });
  registry.registerPath({
    method: 'get',
    path: '/ops/payments/{tenant}/{id}/audit',
    operationId: 'getOperatorPaymentAuditTrail',
    tags,
    summary: 'The payment\'s audit trail: its events and the refused operator attempts, oldest first',
    request: { params: OpsPaymentParams },
    responses: { 200: { description: 'Every event with who and when', ...json(AuditTrail) }, ...common },
  });
  registry.registerPath({
    method: 'post',
    path: '/ops/payments/{tenant}/{id}/retry',
    operationId: 'retryOperatorPayment',
    tags,
    summary: 'Look the transfer up at the bank, then record its outcome or let the gateway retry with the same key',
    request: { params: OpsPaymentParams, headers: [idempotencyKeyHeader(false)], body: json(RetryRequest) },
    responses: {
      200: { description: 'The bank holds the transfer: its outcome was recorded', headers: etag, ...json(RetryResponse) },
      202: { description: 'Retry recorded with the lookup\'s result: the gateway looks up again, then resubmits with the same key', headers: etag, ...json(RetryResponse) },
      ...common,
      404: problemResponse('No such payment'),
      409: problemResponse('The payment is not parked (payment-not-parked), its first submission is older than the replay window (replay-window-expired: recover through a compensation; audited), or the transfer the bank holds settled another payment (bank-transfer-already-used)'),
      ...limited,
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/ops/payments/{tenant}/{id}/resolve',
    operationId: 'resolveOperatorPayment',
    tags,
    summary: 'Record an outcome found by reconciliation: checked at the bank, or proposed for a supervisor\'s approval',
    request: { params: OpsPaymentParams, headers: [idempotencyKeyHeader(false)], body: json(ResolveRequest) },
    responses: {
      200: { description: 'The bank confirms the outcome: recorded (also when it already was, the same way)', headers: etag, ...json(PaymentView) },
      202: { description: 'The bank cannot tell: a proposal was made for a supervisor other than the proposer (Location names it)', headers: responseHeaders({ Location: 'required' }), ...json(ResolveAccepted) },
      ...common,
      404: problemResponse('No such payment'),
      409: problemResponse('The bank contradicts the claim (bank-evidence-mismatch, with `mismatches`; audited, payment unchanged), the transfer settled another payment (bank-transfer-already-used), or the payment is not parked (payment-not-parked)'),
      ...limited,
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/ops/approvals',
    operationId: 'listApprovals',
    tags,
    summary: 'Proposals by status, oldest first (keyset-paged)',
    request: { query: ApprovalListQuery },
    responses: { 200: { description: 'A page of proposals; a short page may still have a nextCursor', ...json(ApprovalList) }, ...common },
  });
  registry.registerPath({
    method: 'get',
    path: '/ops/approvals/{approvalId}',
    operationId: 'getApproval',
    tags,
    summary: 'One proposal with its decision and execution',
    request: { params: ApprovalParams },
    responses: { 200: { description: 'The proposal', ...json(ApprovalView) }, ...common, 404: problemResponse('No such approval') },
  });
  for (const decision of ['approve', 'reject'] as const) {
    registry.registerPath({
      method: 'post',
      path: `/ops/approvals/{approvalId}/${decision}`,
      operationId: `${decision}Approval`,
      tags,
      summary: decision === 'approve' ? 'Approve a proposal: its action is executed once' : 'Reject a proposal: nothing is executed',
      request: { params: ApprovalParams, headers: [idempotencyKeyHeader(true)], body: json(DecisionRequest) },
      responses: {
        200: { description: decision === 'approve' ? 'Approved, with the execution\'s result (also for a repeat by the same supervisor)' : 'Rejected (also for a repeat by the same supervisor)', ...json(ApprovalView) },
        ...common,
        400: problemResponse('Invalid parameters or body (every problem listed), or no Idempotency-Key (idempotency-key-missing)'),
        403: problemResponse(decision === 'approve' ? 'Not a supervisor (supervisor-required), or the proposer themselves (four-eyes-required); audited' : 'Not a supervisor (supervisor-required); audited'),
        404: problemResponse('No such approval'),
        409: problemResponse('The proposal expired (approval-expired) or was already decided by someone else (approval-already-decided); audited'),
          ...limited,
      },
    });
  }
}
