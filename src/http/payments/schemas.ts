/** Wire schemas of the payments routes; the OpenAPI document is generated from them. */
import { electronicFormatIBAN, isValidIBAN } from 'ibantools';
import { z } from 'zod';
import { ProblemSchema } from '../openapi';
import { CURRENCY_CODES, DECIMAL_PATTERN, isCurrencyCode, parseMoney, type CurrencyCode, type MoneyProblem } from '../../domain/money';
import { PAYMENT_ID_PATTERN, TENANT_ID_PATTERN } from '../../domain/ids';
import type { PaymentInstruction } from '../../domain/payment';
import { BANK_ERROR_CODES } from '../../domain/payment/events';

export const REFERENCE_LENGTH_MAX = 140;
export const PARTY_NAME_LENGTH_MAX = 140;
export const METADATA_ENTRIES_MAX = 20;
export const METADATA_VALUE_LENGTH_MAX = 500;
/** What a client may type: spaces and dashes are dropped, letters upper-cased, before the ISO 13616 check. */
export const IBAN_INPUT_LENGTH_MAX = 64;

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object';
const METADATA_KEY_PATTERN = /^[A-Za-z0-9_.-]{1,40}$/;
const ID_CHARACTERS = 'must be 1 to 64 characters of A-Z a-z 0-9 . _ ~ -';

/**
 * A client's payment id. Rationale for refusing "." and "..": clients and proxies
 * remove such path segments from URLs, so the payment could never be read back.
 */
export const PaymentIdString = z
  .string()
  .regex(PAYMENT_ID_PATTERN, ID_CHARACTERS)
  .refine((id) => id !== '.' && id !== '..', 'must not be "." or ".." (URLs drop those path segments)')
  .openapi({ not: { enum: ['.', '..'] }, description: 'Your id for the payment (RFC 3986 unreserved characters); "." and ".." are refused' });

export const PaymentIdParam = z.object({
  id: PaymentIdString.openapi({ param: { name: 'id', in: 'path' }, example: 'order-2026-0001' }),
});

export const TenantIdString = z.string().regex(TENANT_ID_PATTERN, ID_CHARACTERS);

/** ?tenant= of a single-payment route: staff must name it, a client's key names it already. */
export const StaffTenantQuery = TenantIdString.optional().describe('Required for staff (analyst, operator, supervisor): the tenant of the payment. Ignored for clients, whose key names their tenant.');

const Iban = z
  .string()
  .max(IBAN_INPUT_LENGTH_MAX)
  .transform((value) => electronicFormatIBAN(value) ?? '')
  .refine((value) => isValidIBAN(value), 'must be a valid IBAN')
  .openapi({
    type: 'string',
    minLength: 15,
    maxLength: IBAN_INPUT_LENGTH_MAX,
    pattern: '^[A-Za-z]{2}[0-9]{2}[A-Za-z0-9 -]{11,60}$',
    description: 'ISO 13616 IBAN with a valid check sum, 15 to 34 characters once spaces and dashes are dropped; answered in electronic form',
    example: 'DE89 3704 0044 0532 0130 00',
  });

const Party = z.strictObject({
  name: z.string().trim().min(1, 'required').max(PARTY_NAME_LENGTH_MAX),
  iban: Iban,
});

export const Currency = z.enum(CURRENCY_CODES as [CurrencyCode, ...CurrencyCode[]], { error: 'must be an ISO 4217 currency code we settle, such as EUR' }).openapi({ example: 'EUR' });

/** The amount's form alone; its decimals and bounds depend on the currency and are checked with it. */
export const Amount = z
  .string({ error: 'must be a decimal string such as "125.50"' })
  .regex(DECIMAL_PATTERN, 'must be a decimal string such as "125.50"')
  .openapi({ example: '125.50', description: "Decimal string, no more decimals than the currency's minor unit (EUR 2, JPY 0, BHD 3), greater than zero, at most AMOUNT_MAJOR_MAX" });

export const Metadata = z
  .record(z.string().regex(METADATA_KEY_PATTERN, 'keys are 1 to 40 characters of A-Z a-z 0-9 _ . -'), z.string().max(METADATA_VALUE_LENGTH_MAX))
  .refine((map) => Object.keys(map).length <= METADATA_ENTRIES_MAX, `at most ${METADATA_ENTRIES_MAX} entries`)
  // propertyNames is JSON Schema 2020-12 (OpenAPI 3.1), which the library's metadata type does not list.
  .openapi({ maxProperties: METADATA_ENTRIES_MAX, ...({ propertyNames: { pattern: METADATA_KEY_PATTERN.source } } as object), description: `Up to ${METADATA_ENTRIES_MAX} string values of at most ${METADATA_VALUE_LENGTH_MAX} characters; keys 1 to 40 of A-Z a-z 0-9 _ . -` });

const moneyIssue = (problem: MoneyProblem) => ({ code: 'custom' as const, path: [problem.field], message: problem.message });

/**
 * The PUT body, parsed once into the domain's instruction: the amount becomes
 * integer minor units in the currency's exponent, IBANs their electronic form.
 * Amount and currency are checked together against ISO 4217 and the maximum.
 */
export function paymentRequestSchema(amountMajorMax: number) {
  return z
    .strictObject({
      amount: Amount,
      currency: Currency,
      debtor: Party,
      creditor: Party,
      reference: z.string().max(REFERENCE_LENGTH_MAX).optional(),
      metadata: Metadata.optional(),
    })
    .superRefine(
      (body, context) => {
        const parsed = parseMoney(body.amount, body.currency, amountMajorMax);
        if (!parsed.ok) context.addIssue(moneyIssue(parsed.problem));
      },
      // Only when other fields are wrong, so one answer lists every problem, the amount's too;
      // a body with no other problem has its money parsed (once) by the transform below.
      {
        when: ({ value, issues }) =>
          issues.length > 0 && isObject(value) && typeof value['amount'] === 'string' && DECIMAL_PATTERN.test(value['amount']) && isCurrencyCode(String(value['currency'])),
      },
    )
    .transform((body, context): PaymentInstruction => {
      const parsed = parseMoney(body.amount, body.currency, amountMajorMax);
      if (!parsed.ok) {
        context.addIssue(moneyIssue(parsed.problem));
        return z.NEVER;
      }
      return {
        amountMinor: parsed.money.amountMinor,
        currency: parsed.money.currency,
        debtor: body.debtor,
        creditor: body.creditor,
        reference: body.reference ?? null,
        metadata: body.metadata ?? {},
      };
    })
    .openapi('PaymentRequest');
}

export const CancelRequest = z.strictObject({ reason: z.string().trim().min(1, 'required').max(500) }).openapi('CancelRequest');

export const PAYMENT_STATUSES = ['requested', 'submitted', 'settled', 'rejected', 'unknown', 'cancelled'] as const;
export const PaymentStatus = z.enum(PAYMENT_STATUSES).openapi('PaymentStatus');

const PartyView = z.object({ name: z.string(), iban: z.string().describe('Electronic form; masked (****1234) for analysts') });

export const PaymentView = z
  .object({
    id: z.string(),
    status: PaymentStatus,
    amount: z.string().regex(DECIMAL_PATTERN).openapi({ example: '125.50', description: "Canonical: exactly the currency's decimals" }),
    currency: Currency,
    debtor: PartyView,
    creditor: PartyView,
    reference: z.string().nullable(),
    metadata: z.record(z.string(), z.string()),
    createdAt: z.string(),
    updatedAt: z.string(),
    revision: z.number().int(),
    refundedAmount: z.string().regex(DECIMAL_PATTERN).openapi({ example: '0.00', description: 'Sum of the refunds the bank executed, in the payment\'s currency' }),
    refundableAmount: z
      .string()
      .regex(DECIMAL_PATTERN)
      .openapi({ example: '125.50', description: 'What a new refund may still take: the settled amount less every refund that has not failed; 0 unless the payment is settled' }),
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

/** Problem types of a tenant rule (422): the same strings the API sends as `type`. */
export const TENANT_RULE_PROBLEM_TYPES = {
  debtorAccountNotRegistered: '/problems/debtor-account-not-registered',
  currencyNotEnabled: '/problems/currency-not-enabled',
  paymentAmountLimitExceeded: '/problems/payment-amount-limit-exceeded',
  dailyLimitExceeded: '/problems/daily-limit-exceeded',
} as const;

const LimitAmount = z.string().regex(DECIMAL_PATTERN);

/** The 422 of PUT /payments/{id}: a problem naming the rule, and for a limit, the limit and what remains. */
export const TenantRuleProblem = ProblemSchema.extend({
  type: z.enum(Object.values(TENANT_RULE_PROBLEM_TYPES) as [string, ...string[]]),
  status: z.literal(422),
  limit: z.enum(['paymentAmountMax', 'dailyAmountMax']).optional().describe('Which limit refused the payment'),
  currency: Currency.optional(),
  day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/).optional().describe('dailyAmountMax: the UTC day (of the server clock) the total counts'),
  limitAmount: LimitAmount.optional().describe('The limit, in the currency'),
  usedAmount: LimitAmount.optional().describe("dailyAmountMax: what the day's accepted payments already reserved"),
  remainingAmount: LimitAmount.optional().describe('dailyAmountMax: what the day still allows; paymentAmountMax: the largest single payment accepted'),
  requestedAmount: LimitAmount.optional().describe('The refused amount; refused amounts are never counted'),
  enabledCurrencies: z.array(Currency).optional().describe('currency-not-enabled: the currencies your tenant has limits in'),
}).openapi('TenantRuleProblem', { description: 'A tenant rule refused the payment; nothing was written and nothing was counted' });
