/** Wire schemas of the operator routes; the OpenAPI document is generated from them. */
import { z } from 'zod';
import '../openapi';
import { isApprovalId, isPaymentId, isTenantId, TENANT_ID_PATTERN } from '../../domain/ids';
import { APPROVAL_STATUSES, type ApprovalStatus } from '../../domain/approval';
import { PaymentIdString, PaymentView } from '../payments/schemas';
import { decodeCursorParts, encodeCursorParts, wholeNumberText } from '../analytics/list-params';

export const OPS_PAGE_SIZE_MAX = 100;
export const REASON_LENGTH_MAX = 500;
export const EVIDENCE_LENGTH_MAX = 4_000;
const CURSOR_LENGTH_MAX = 400;

export const OpsPaymentParams = z.strictObject({
  tenant: z.string().regex(TENANT_ID_PATTERN, 'must be 1 to 64 characters of A-Z a-z 0-9 . _ ~ -').openapi({ param: { name: 'tenant', in: 'path' }, example: 'acme' }),
  id: PaymentIdString.openapi({ param: { name: 'id', in: 'path' }, example: 'order-2026-0001' }),
});

export interface OpsCursor {
  readonly tenantId: string;
  readonly paymentId: string;
}

/** The last key of a page. Work-queue keys come from payment streams, so both parts always match the id patterns. */
export const encodeOpsCursor = (key: OpsCursor) => encodeCursorParts([key.tenantId, key.paymentId]);

const CURSOR_PROBLEM = 'must be a cursor returned by a previous page';

/** Decoded while the query is parsed, so a bad cursor is listed with the other problems of the same request. */
const OpsCursorText = z.string().transform((text, context): OpsCursor => {
  const parts = text.length <= CURSOR_LENGTH_MAX ? decodeCursorParts(text, [isTenantId, isPaymentId]) : undefined;
  if (parts === undefined) {
    context.addIssue({ code: 'custom', message: CURSOR_PROBLEM });
    return z.NEVER;
  }
  return { tenantId: parts[0]!, paymentId: parts[1]! };
});

export const OpsListQuery = z.strictObject({
  status: z
    .enum(['unknown', 'parked', 'submitted'], { error: 'must be one of unknown, parked, submitted' })
    .default('unknown')
    .describe('unknown: the bank outcome is unknown; parked: waiting for an operator in the work queue; submitted: still with the gateway'),
  // The same strict parser as the analyst lists: "1e1", "0x10" or " 1" are refused there too.
  limit: wholeNumberText(1, OPS_PAGE_SIZE_MAX).default('50').transform(Number).describe(`Rows per page, 1 to ${OPS_PAGE_SIZE_MAX}`),
  cursor: OpsCursorText.optional().describe('`nextCursor` of the previous page'),
});

export type OpsListQueryValue = z.infer<typeof OpsListQuery>;

const Reason = z.string().trim().min(1, 'required').max(REASON_LENGTH_MAX);

export const RetryRequest = z.strictObject({ reason: Reason }).openapi('OperatorRetryRequest');

export const ResolveRequest = z
  .strictObject({
    outcome: z.enum(['settled', 'rejected'], { error: 'must be settled or rejected' }),
    bankTransferId: z.string().trim().min(1).max(100).optional(),
    reason: Reason,
    evidence: z.string().trim().min(1, 'required: what the reconciliation showed').max(EVIDENCE_LENGTH_MAX),
  })
  .refine((body) => body.outcome !== 'settled' || body.bankTransferId !== undefined, {
    path: ['bankTransferId'],
    message: 'required when the outcome is settled',
    // Checked even when other fields are wrong, so one answer lists every problem.
    when: (payload) => typeof payload.value === 'object' && payload.value !== null,
  })
  .openapi('OperatorResolveRequest');

export type ResolveRequestBody = z.infer<typeof ResolveRequest>;

export const OpsPaymentItem = z
  .object({
    tenant: z.string(),
    id: z.string(),
    status: z.string().describe('the payment status as the work queue last saw it'),
    queueStatus: z.enum(['pending', 'parked', 'done']),
    attempts: z.number().int(),
    lastError: z.string().nullable(),
    nextAttemptAt: z.string(),
    leaseOwner: z.string().nullable(),
    updatedAt: z.string(),
  })
  .openapi('OpsPaymentItem');

export const OpsPaymentList = z.object({ items: z.array(OpsPaymentItem), nextCursor: z.string().nullable() }).openapi('OpsPaymentList');

export const BankLookupView = z.object({
  result: z.enum(['accepted', 'rejected', 'not-found', 'unavailable', 'conflicting']),
  bankTransferId: z.string().nullable(),
  detail: z.string().nullable(),
});

export const RetryResponse = z
  .object({
    action: z.enum(['resolved-from-bank', 'retry-requested']),
    lookup: BankLookupView.extend({ lookedUpAt: z.string().nullable() }).describe('what the bank said just before; result unavailable when it was not asked (the payment is not parked)'),
    payment: PaymentView,
  })
  .openapi('OperatorRetryResponse');

export const BankLookupRecordView = z
  .object({
    result: z.enum(['accepted', 'rejected', 'not-found', 'unavailable', 'conflicting']),
    bankTransferId: z.string().nullable(),
    detail: z.string().nullable(),
    lookedUpAt: z.string(),
  })
  .openapi('BankLookupRecord');

export const BankTransferView = z
  .object({
    bankTransferId: z.string(),
    status: z.enum(['accepted', 'rejected']),
    endToEndId: z.string(),
    amountMinor: z.number().int(),
    currency: z.string(),
    creditorIban: z.string(),
  })
  .openapi('BankTransfer');

export const BankLookupResponse = z
  .object({
    payment: PaymentView,
    lookup: BankLookupRecordView.nullable().describe('null when the gateway never submitted the payment: the bank has no reference to look for'),
    transfer: BankTransferView.nullable().describe('the transfer the bank holds for the reference, with what it moved'),
  })
  .openapi('OperatorBankLookup');

const APPROVAL_ID_DESCRIPTION = 'a ULID returned when the proposal was made';

export const ApprovalParams = z.strictObject({
  approvalId: z
    .string()
    .refine(isApprovalId, APPROVAL_ID_DESCRIPTION)
    .openapi({ param: { name: 'approvalId', in: 'path' }, example: '01JD2Y3Q4W5E6R7T8Y9V0A1B2C' }),
});

export const DecisionRequest = z.strictObject({ reason: Reason }).openapi('ApprovalDecisionRequest');

export const ApprovalView = z
  .object({
    id: z.string(),
    status: z.enum(APPROVAL_STATUSES as [ApprovalStatus, ...ApprovalStatus[]]),
    action: z
      .object({
        kind: z.enum(['resolve-payment']).describe('what approving executes; compensations add their kind'),
        tenant: z.string(),
        paymentId: z.string(),
        outcome: z.enum(['settled', 'rejected']),
        bankTransferId: z.string().nullable(),
      })
      .openapi('ApprovalAction'),
    proposedBy: z.string(),
    reason: z.string(),
    evidence: z.string(),
    bankAnswer: z.string().describe('what the bank said when the proposer asked'),
    proposedAt: z.string(),
    expiresAt: z.string(),
    approval: z.object({ by: z.string(), reason: z.string(), at: z.string() }).nullable(),
    rejection: z.object({ by: z.string(), reason: z.string(), at: z.string() }).nullable(),
    execution: z
      .object({ status: z.enum(['executed', 'failed']), detail: z.string(), problem: z.string().nullable(), at: z.string() })
      .nullable()
      .describe('set once the approved action ran'),
  })
  .openapi('Approval');

export const ApprovalList = z.object({ items: z.array(ApprovalView), nextCursor: z.string().nullable() }).openapi('ApprovalList');

export interface ApprovalCursor {
  readonly commit: bigint;
  readonly prepare: bigint;
}

const ApprovalCursorText = z.string().transform((text, context): ApprovalCursor => {
  const parts = text.length <= CURSOR_LENGTH_MAX ? decodeCursorParts(text, [(part) => /^(-1|\d{1,20})$/.test(part), (part) => /^(-1|\d{1,20})$/.test(part)]) : undefined;
  if (parts === undefined) {
    context.addIssue({ code: 'custom', message: CURSOR_PROBLEM });
    return z.NEVER;
  }
  return { commit: BigInt(parts[0]!), prepare: BigInt(parts[1]!) };
});

export const encodeApprovalCursor = (position: ApprovalCursor) => encodeCursorParts([String(position.commit), String(position.prepare)]);

export const ApprovalListQuery = z.strictObject({
  status: z
    .enum(APPROVAL_STATUSES as [ApprovalStatus, ...ApprovalStatus[]], { error: `must be one of ${APPROVAL_STATUSES.join(', ')}` })
    .default('pending')
    .describe('expired: pending proposals past their expiry, which can no longer be approved'),
  limit: wholeNumberText(1, OPS_PAGE_SIZE_MAX).default('50').transform(Number).describe(`Rows per page, 1 to ${OPS_PAGE_SIZE_MAX}`),
  cursor: ApprovalCursorText.optional().describe('`nextCursor` of the previous page'),
});

export type ApprovalListQueryValue = z.infer<typeof ApprovalListQuery>;

export const ResolveAccepted = z
  .object({ action: z.literal('proposed'), approval: ApprovalView })
  .openapi('OperatorResolveProposed');
