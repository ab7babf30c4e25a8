/** Wire schemas of the payments routes; the OpenAPI document is generated from them. */
import { electronicFormatIBAN, isValidIBAN } from 'ibantools';
import { z } from 'zod';
import '../openapi';
import { parseMoney } from '../../domain/money';
import { PAYMENT_ID_PATTERN } from '../../domain/ids';
import { BANK_ERROR_CODES } from '../../domain/payment/events';

export const REFERENCE_LENGTH_MAX = 140;

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object';
export const METADATA_ENTRIES_MAX = 20;
export const METADATA_KEY_LENGTH_MAX = 40;
export const METADATA_VALUE_LENGTH_MAX = 500;

/**
 * A client's payment id. Rationale for refusing "." and "..": clients and proxies
 * remove such path segments from URLs, so the payment could never be read back.
 */
export const PaymentIdString = z
  .string()
  .regex(PAYMENT_ID_PATTERN, 'must be 1 to 64 characters of A-Z a-z 0-9 . _ ~ -')
  .refine((id) => id !== '.' && id !== '..', 'must not be "." or ".." (URLs drop those path segments)');

export const PaymentIdParam = z.object({
  id: PaymentIdString.openapi({ param: { name: 'id', in: 'path' }, example: 'order-2026-0001' }),
});

const Iban = z
  .string()
  .max(64)
  .transform((value) => electronicFormatIBAN(value) ?? '')
  .refine((value) => isValidIBAN(value), 'must be a valid IBAN');

const Party = z.strictObject({
  name: z.string().trim().min(1, 'required').max(140),
  iban: Iban.openapi({ type: 'string', example: 'DE89 3704 0044 0532 0130 00' }),
});

/** The PUT body. Amount and currency are checked together against ISO 4217 and the configured maximum. */
export function paymentRequestSchema(amountMajorMax: number) {
  return z
    .strictObject({
      amount: z.string({ error: 'must be a decimal string such as "125.50"' }).openapi({ example: '125.50' }),
      currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as EUR').openapi({ example: 'EUR' }),
      debtor: Party,
      creditor: Party,
      reference: z.string().max(REFERENCE_LENGTH_MAX).optional(),
      metadata: z
        .record(z.string().regex(/^[A-Za-z0-9_.-]{1,40}$/, 'keys are 1 to 40 characters of A-Z a-z 0-9 _ . -'), z.string().max(METADATA_VALUE_LENGTH_MAX))
        .refine((map) => Object.keys(map).length <= METADATA_ENTRIES_MAX, `at most ${METADATA_ENTRIES_MAX} entries`)
        .optional(),
    })
    .superRefine(
      (body, context) => {
        if (!/^[A-Z]{3}$/.test(body.currency)) return;
        const parsed = parseMoney(body.amount, body.currency, amountMajorMax);
        if (!parsed.ok) context.addIssue({ code: 'custom', path: [parsed.problem.field], message: parsed.problem.message });
      },
      // Also when other fields are wrong: one answer lists every problem, the amount's too.
      { when: ({ value }) => isObject(value) && typeof value['amount'] === 'string' && typeof value['currency'] === 'string' },
    )
    .openapi('PaymentRequest');
}

export type PaymentRequestBody = z.infer<ReturnType<typeof paymentRequestSchema>>;

export const CancelRequest = z.strictObject({ reason: z.string().trim().min(1, 'required').max(500) }).openapi('CancelRequest');

const PartyView = z.object({ name: z.string(), iban: z.string() });

export const PaymentView = z
  .object({
    id: z.string(),
    status: z.enum(['requested', 'submitted', 'settled', 'rejected', 'unknown', 'cancelled']),
    amount: z.string().openapi({ example: '125.50' }),
    currency: z.string(),
    debtor: PartyView,
    creditor: PartyView,
    reference: z.string().nullable(),
    metadata: z.record(z.string(), z.string()),
    createdAt: z.string(),
    updatedAt: z.string(),
    revision: z.number().int(),
    cancellationReason: z.string().nullable(),
    rejectionReason: z.string().nullable().openapi({ description: "Why the payment was rejected, in paystream's words (never the bank's free text)." }),
    rejectionCode: z
      .string()
      .nullable()
      .openapi({ description: 'ISO 20022 status reason code of a bank rejection (AC04, AM04, …; NARR when the bank gave none); null for an operator\'s resolution.', example: 'AC04' }),
    bank: z
      .object({
        transferId: z.string().nullable(),
        attempts: z.number().int(),
        lastErrorCode: z.enum(BANK_ERROR_CODES).nullable().openapi({ description: 'Why the gateway has no outcome yet (or parked the payment), as a stable code.' }),
        endToEndId: z.string(),
      })
      .nullable(),
  })
  .openapi('Payment');

export type PaymentViewBody = z.infer<typeof PaymentView>;
