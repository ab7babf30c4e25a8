/** Wire schemas of the refund routes; the OpenAPI document is generated from them. */
import { z } from 'zod';
import '../openapi';
import { DECIMAL_PATTERN } from '../../domain/money';
import { BANK_ERROR_CODES } from '../../domain/payment/events';
import { Amount, Currency, Metadata, PaymentIdString } from '../payments/schemas';

export const REFUND_REASON_LENGTH_MAX = 140;

export const RefundPathParams = z.object({
  paymentId: PaymentIdString.openapi({ param: { name: 'paymentId', in: 'path' }, example: 'order-2026-0001' }),
  refundId: PaymentIdString.openapi({ param: { name: 'refundId', in: 'path' }, example: 'refund-1', description: 'Your id for the refund, unique within the payment: same characters and length as payment ids' }),
});

export const RefundListPathParams = z.object({
  paymentId: PaymentIdString.openapi({ param: { name: 'paymentId', in: 'path' }, example: 'order-2026-0001' }),
});

/**
 * The PUT body. The amount's decimals and bounds depend on the payment's
 * currency, which only the payment knows: the decider checks them (and that a
 * `currency` sent is the payment's), listing every problem as a 400 like this schema does.
 */
export const RefundRequest = z
  .strictObject({
    amount: Amount.openapi({ example: '25.00', description: "Decimal string in the payment's currency, no more decimals than its minor unit, greater than zero" }),
    currency: Currency.optional().openapi({ description: "Optional; when sent it must be the payment's currency" }),
    reason: z.string().trim().min(1, 'must not be empty').max(REFUND_REASON_LENGTH_MAX).optional(),
    metadata: Metadata.optional(),
  })
  .openapi('RefundRequest');

export type RefundRequestBody = z.infer<typeof RefundRequest>;

export const REFUND_STATUSES = ['requested', 'submitted', 'succeeded', 'failed', 'unknown'] as const;
export const RefundStatus = z.enum(REFUND_STATUSES).openapi('RefundStatus');

const MoneyString = z.string().regex(DECIMAL_PATTERN).openapi({ example: '25.00', description: "Canonical: exactly the currency's decimals" });

export const RefundView = z
  .object({
    id: z.string(),
    paymentId: z.string(),
    status: RefundStatus,
    amount: MoneyString,
    currency: Currency,
    reason: z.string().nullable(),
    metadata: z.record(z.string(), z.string()),
    createdAt: z.string(),
    updatedAt: z.string(),
    failureCode: z.string().nullable().openapi({ description: 'ISO 20022 status reason code when the bank refused the refund (AC04, …; NARR when it gave none)' }),
    bank: z
      .object({
        refundId: z.string().nullable().openapi({ description: "The bank's id of the executed (or refused) refund" }),
        attempts: z.number().int(),
        lastErrorCode: z.enum(BANK_ERROR_CODES).nullable(),
        endToEndId: z.string(),
      })
      .nullable(),
  })
  .openapi('Refund');

export type RefundViewBody = z.infer<typeof RefundView>;

export const RefundList = z
  .object({
    paymentId: z.string(),
    currency: Currency,
    refundedAmount: MoneyString.openapi({ description: 'Sum of the refunds the bank executed' }),
    refundableAmount: MoneyString.openapi({ description: 'What a new refund may still take: the settled amount less every refund that has not failed' }),
    items: z.array(RefundView).openapi({ description: 'Every refund of the payment, oldest first (at most 100)' }),
  })
  .openapi('RefundList');
