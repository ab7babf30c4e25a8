/**
 * The bank's wire format (docs/bank-sandbox.md) in one place: our request body,
 * and the answers we accept as readable. Written from the contract, never
 * imported from the sandbox's code, so a sandbox bug cannot hide a gateway bug.
 *
 * Nothing the bank sends is trusted: every field is bounded, and a transfer is
 * only taken as the outcome of our payment when its amount, currency, creditor
 * and end-to-end id are the ones we instructed. A readable transfer that
 * differs is a *conflicting* answer: the payment is parked and an alarm raised,
 * never settled or rejected on the bank's word.
 */
import { z } from 'zod';
import type { InstructedTransfer, LookupAnswer, RefundRequest, SubmitAnswer, TransferDetailsAnswer, TransferRequest } from './bank-client';

export type { InstructedTransfer } from './bank-client';

/** Longest bank transfer id we store; a longer one is unreadable, never cut (a cut id names another transfer). */
export const BANK_TRANSFER_ID_CHARS_MAX = 100;
/** Longest rejection reason kept from the bank (ISO 20022 AdditionalInformation is Max105Text); longer ones are cut. */
export const REJECTION_REASON_CHARS_MAX = 140;
/** Transfers one lookup answer may list; more is not an answer about one reference. */
export const LOOKUP_TRANSFER_COUNT_MAX = 10;

export function transferBody(request: TransferRequest) {
  return {
    amountMinor: request.amountMinor,
    currency: request.currency,
    debtor: { name: request.debtor.name, iban: request.debtor.iban },
    creditor: { name: request.creditor.name, iban: request.creditor.iban },
    endToEndId: request.endToEndId,
    ...(request.remittanceInformation === null ? {} : { remittanceInformation: request.remittanceInformation }),
  };
}

// Unknown members are ignored (a bank may add fields), but every member we read is bounded.
const Transfer = z.object({
  id: z.string().min(1).max(BANK_TRANSFER_ID_CHARS_MAX),
  status: z.enum(['accepted', 'rejected']),
  endToEndId: z.string().max(35),
  amountMinor: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  currency: z.string().max(3),
  creditor: z.object({ iban: z.string().max(34) }),
  // Read whole only up to a bound: the answer's size is capped before parsing (BANK_ANSWER_BYTES_MAX).
  rejectionReason: z.string().nullish(),
});

type TransferWire = z.infer<typeof Transfer>;

const TransferList = z.object({ items: z.array(Transfer).max(LOOKUP_TRANSFER_COUNT_MAX) });

/** Names (never values: no account numbers in events or logs) of the fields where the bank's transfer differs. */
export function differingTransferFields(transfer: Pick<TransferWire, 'amountMinor' | 'currency' | 'creditor' | 'endToEndId'>, instructed: InstructedTransfer): string[] {
  const differing: string[] = [];
  if (transfer.amountMinor !== instructed.amountMinor) differing.push('amountMinor');
  if (transfer.currency !== instructed.currency) differing.push('currency');
  if (transfer.creditor.iban !== instructed.creditor.iban) differing.push('creditor.iban');
  if (transfer.endToEndId !== instructed.endToEndId) differing.push('endToEndId');
  return differing;
}

/** ISO 20022 external status reason codes are four characters: two letters, two digits (AC04, AM04, RR04). */
const REASON_CODE_PATTERN = /^([A-Z]{2}[0-9]{2})(?:\b|$)/;

/** The bank's reason for us: control characters removed, bounded; its ISO code (or NARR, "narrative") for clients. */
export function boundedRejection(reason: string | null | undefined): { reason: string; reasonCode: string } {
  const text = (reason ?? '').replace(/[\p{Cc}\p{Cf}]+/gu, ' ').trim().slice(0, REJECTION_REASON_CHARS_MAX);
  return { reason: text.length > 0 ? text : 'rejected by the bank without a reason', reasonCode: REASON_CODE_PATTERN.exec(text)?.[1] ?? 'NARR' };
}

function classify(transfer: TransferWire, instructed: InstructedTransfer): Extract<SubmitAnswer, { kind: 'accepted' | 'rejected' | 'conflicting' }> {
  const differing = differingTransferFields(transfer, instructed);
  if (differing.length > 0) return { kind: 'conflicting', error: `bank transfer ${transfer.id} differs from the instruction in ${differing.join(', ')}` };
  if (transfer.status === 'accepted') return { kind: 'accepted', bankTransferId: transfer.id };
  return { kind: 'rejected', bankTransferId: transfer.id, ...boundedRejection(transfer.rejectionReason) };
}

const issuesOf = (error: z.ZodError) => error.issues.slice(0, 5).map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; ');

/** A submission's 200/201 body: the transfer, which must be the one we instructed. */
export function parseTransferBody(body: unknown, instructed: InstructedTransfer): SubmitAnswer {
  const parsed = Transfer.safeParse(body);
  if (!parsed.success) return { kind: 'uninterpretable', error: `unreadable transfer: ${issuesOf(parsed.error)}` };
  return classify(parsed.data, instructed);
}

/** A lookup's 200 body: none or one transfer for our reference; more than one is not ours to pick from. */
export function parseLookupBody(body: unknown, instructed: InstructedTransfer): LookupAnswer {
  const parsed = TransferList.safeParse(body);
  if (!parsed.success) return { kind: 'uninterpretable', error: `unreadable lookup: ${issuesOf(parsed.error)}` };
  const matching = parsed.data.items.filter((transfer) => transfer.endToEndId === instructed.endToEndId);
  if (matching.length === 0) return { kind: 'not-found' };
  if (matching.length > 1) return { kind: 'uninterpretable', error: `${matching.length} transfers carry reference ${instructed.endToEndId}` };
  return classify(matching[0]!, instructed);
}

const TransferWithDetails = Transfer.extend({
  amountMinor: z.number().int().nonnegative(),
  currency: z.string().min(1).max(3),
  creditor: z.object({ iban: z.string().min(1).max(34) }),
});

/** A 200 body of GET /v1/transfers/{id}: the transfer must be the one asked for, with what it moved. */
export function parseTransferDetailsBody(body: unknown, bankTransferId: string): TransferDetailsAnswer {
  const parsed = TransferWithDetails.safeParse(body);
  if (!parsed.success) return { kind: 'uninterpretable', error: `unreadable transfer: ${parsed.error.issues.map((issue) => issue.message).join('; ')}` };
  if (parsed.data.id !== bankTransferId) return { kind: 'uninterpretable', error: `the bank answered with transfer ${parsed.data.id}, not ${bankTransferId}` };
  const { id, status, endToEndId, amountMinor, currency, creditor } = parsed.data;
  return { kind: 'found', transfer: { bankTransferId: id, status, endToEndId, amountMinor, currency, creditorIban: creditor.iban } };
}

export function refundBody(request: RefundRequest) {
  return { transferId: request.bankTransferId, amountMinor: request.amountMinor, currency: request.currency, endToEndId: request.endToEndId };
}

const Refund = z.object({
  id: z.string().min(1).max(BANK_TRANSFER_ID_CHARS_MAX),
  status: z.enum(['accepted', 'rejected']),
  transferId: z.string().max(BANK_TRANSFER_ID_CHARS_MAX),
  endToEndId: z.string().max(35),
  amountMinor: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  currency: z.string().max(3),
  rejectionReason: z.string().nullish(),
});

type RefundWire = z.infer<typeof Refund>;

const RefundList = z.object({ items: z.array(Refund).max(LOOKUP_TRANSFER_COUNT_MAX) });

/** As for transfers: a refund is only our refund's outcome when it moved what we instructed, on the transfer we named. */
function classifyRefund(refund: RefundWire, instructed: RefundRequest): Extract<SubmitAnswer, { kind: 'accepted' | 'rejected' | 'conflicting' }> {
  const differing: string[] = [];
  if (refund.amountMinor !== instructed.amountMinor) differing.push('amountMinor');
  if (refund.currency !== instructed.currency) differing.push('currency');
  if (refund.transferId !== instructed.bankTransferId) differing.push('transferId');
  if (refund.endToEndId !== instructed.endToEndId) differing.push('endToEndId');
  if (differing.length > 0) return { kind: 'conflicting', error: `bank refund ${refund.id} differs from the instruction in ${differing.join(', ')}` };
  if (refund.status === 'accepted') return { kind: 'accepted', bankTransferId: refund.id };
  return { kind: 'rejected', bankTransferId: refund.id, ...boundedRejection(refund.rejectionReason) };
}

export function parseRefundBody(body: unknown, instructed: RefundRequest): SubmitAnswer {
  const parsed = Refund.safeParse(body);
  if (!parsed.success) return { kind: 'uninterpretable', error: `unreadable refund: ${issuesOf(parsed.error)}` };
  return classifyRefund(parsed.data, instructed);
}

export function parseRefundLookupBody(body: unknown, instructed: RefundRequest): LookupAnswer {
  const parsed = RefundList.safeParse(body);
  if (!parsed.success) return { kind: 'uninterpretable', error: `unreadable refund lookup: ${issuesOf(parsed.error)}` };
  const matching = parsed.data.items.filter((refund) => refund.endToEndId === instructed.endToEndId);
  if (matching.length === 0) return { kind: 'not-found' };
  if (matching.length > 1) return { kind: 'uninterpretable', error: `${matching.length} refunds carry reference ${instructed.endToEndId}` };
  return classifyRefund(matching[0]!, instructed);
}
