/** Wire schemas of the operator routes; the OpenAPI document is generated from them. */
import { z } from 'zod';
import '../openapi';
import { PAYMENT_ID_PATTERN, TENANT_ID_PATTERN } from '../../domain/ids';
import { PaymentView } from '../payments/schemas';

export const OPS_PAGE_SIZE_MAX = 100;
export const REASON_LENGTH_MAX = 500;
export const EVIDENCE_LENGTH_MAX = 4_000;
const CURSOR_LENGTH_MAX = 400;

export const OpsPaymentParams = z.strictObject({
  tenant: z.string().regex(TENANT_ID_PATTERN, 'must be 1 to 64 characters of A-Z a-z 0-9 . _ ~ -').openapi({ param: { name: 'tenant', in: 'path' }, example: 'acme' }),
  id: z.string().regex(PAYMENT_ID_PATTERN, 'must be 1 to 64 characters of A-Z a-z 0-9 . _ ~ -').openapi({ param: { name: 'id', in: 'path' }, example: 'order-2026-0001' }),
});

export const OpsListQuery = z.strictObject({
  status: z
    .enum(['unknown', 'parked', 'submitted'], { error: 'must be one of unknown, parked, submitted' })
    .default('unknown')
    .describe('unknown: the bank outcome is unknown; parked: waiting for an operator in the work queue; submitted: still with the gateway'),
  limit: z.coerce
    .number({ error: `must be an integer from 1 to ${OPS_PAGE_SIZE_MAX}` })
    .int(`must be an integer from 1 to ${OPS_PAGE_SIZE_MAX}`)
    .min(1, `must be an integer from 1 to ${OPS_PAGE_SIZE_MAX}`)
    .max(OPS_PAGE_SIZE_MAX, `must be an integer from 1 to ${OPS_PAGE_SIZE_MAX}`)
    .default(50),
  cursor: z.string().max(CURSOR_LENGTH_MAX).regex(/^[A-Za-z0-9_-]+$/, 'must be a cursor returned by a previous page').optional(),
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
  result: z.enum(['accepted', 'rejected', 'not-found', 'unavailable']),
  bankTransferId: z.string().nullable(),
  detail: z.string().nullable(),
});

export const RetryResponse = z
  .object({
    action: z.enum(['resolved-from-bank', 'retry-requested']),
    lookup: BankLookupView,
    payment: PaymentView,
  })
  .openapi('OperatorRetryResponse');
