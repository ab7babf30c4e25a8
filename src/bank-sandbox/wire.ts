/**
 * The sandbox's wire format (docs/bank-sandbox.md): the request it accepts, the
 * transfer it answers with, and the opaque listing cursor. The gateway keeps
 * its own copy of this contract (src/bank-gateway/bank-wire.ts) on purpose.
 */
import { createHash } from 'node:crypto';
import { isValidIBAN } from 'ibantools';
import { z } from 'zod';

/** 10^15 minor units: far above any real transfer, still exact in a double. */
export const AMOUNT_MINOR_MAX = 1_000_000_000_000_000;
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
export const LISTING_LIMIT_DEFAULT = 50;
export const LISTING_LIMIT_MAX = 100;

/** ISO 20022 Max35Text in the SEPA character set. */
const END_TO_END_ID_PATTERN = /^[A-Za-z0-9/\-?:().,'+ ]{1,35}$/;

const Party = z.strictObject({
  name: z.string().trim().min(1, 'required').max(140),
  iban: z.string().max(34).refine((iban) => isValidIBAN(iban), 'must be a valid IBAN in electronic format (no spaces)'),
});

export const TransferRequestBody = z.strictObject({
  amountMinor: z.number().int('must be an integer number of minor units').min(1).max(AMOUNT_MINOR_MAX),
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as EUR'),
  debtor: Party,
  creditor: Party,
  endToEndId: z.string().regex(END_TO_END_ID_PATTERN, 'must be 1 to 35 characters of the SEPA character set'),
  remittanceInformation: z.string().max(140).optional(),
});

export type TransferRequestBody = z.infer<typeof TransferRequestBody>;

/**
 * The fingerprint that decides "same request" for an idempotency key: the
 * validated body with its keys sorted, so key order and whitespace do not count.
 */
export function requestFingerprint(body: TransferRequestBody): string {
  return createHash('sha256').update(canonicalJson(body), 'utf8').digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, item]) => item !== undefined);
    entries.sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0));
    return `{${entries.map(([name, item]) => `${JSON.stringify(name)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export interface TransferView {
  readonly id: string;
  readonly status: 'accepted' | 'rejected';
  readonly endToEndId: string;
  readonly rejectionReason?: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly debtor: { readonly name: string; readonly iban: string };
  readonly creditor: { readonly name: string; readonly iban: string };
  readonly remittanceInformation?: string;
  readonly createdAt: string;
}

const Cursor = z.string().regex(/^[0-9]{1,18}$/);

/** Listing query: every parameter optional, nothing else allowed. */
export const ListingQuery = z.strictObject({
  endToEndId: z.string().regex(END_TO_END_ID_PATTERN, 'must be 1 to 35 characters of the SEPA character set').optional(),
  limit: z.coerce.number().int().min(1).max(LISTING_LIMIT_MAX).default(LISTING_LIMIT_DEFAULT),
  cursor: z
    .string()
    .transform((text, context) => {
      const decoded = Cursor.safeParse(Buffer.from(text, 'base64url').toString('utf8'));
      if (!decoded.success) {
        context.addIssue({ code: 'custom', message: 'must be a nextCursor from an earlier page' });
        return z.NEVER;
      }
      return BigInt(decoded.data);
    })
    .optional(),
});

export type ListingQuery = z.infer<typeof ListingQuery>;

/** Rationale: opaque, so clients page with it and never build one; we may change what it holds. */
export function encodeCursor(sequence: bigint): string {
  return Buffer.from(sequence.toString(), 'utf8').toString('base64url');
}
