/**
 * The bank's wire format (docs/bank-sandbox.md) in one place: our request body,
 * and the answers we accept as readable. Written from the contract, never
 * imported from the sandbox's code, so a sandbox bug cannot hide a gateway bug.
 */
import { z } from 'zod';
import type { LookupAnswer, SubmitAnswer, TransferRequest } from './bank-client';

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

const Transfer = z.object({
  id: z.string().min(1).max(200),
  status: z.enum(['accepted', 'rejected']),
  endToEndId: z.string(),
  rejectionReason: z.string().nullish(),
});

type TransferWire = z.infer<typeof Transfer>;

const TransferList = z.object({ items: z.array(Transfer) });

function classify(transfer: TransferWire): Extract<SubmitAnswer, { kind: 'accepted' | 'rejected' }> {
  if (transfer.status === 'accepted') return { kind: 'accepted', bankTransferId: transfer.id };
  return { kind: 'rejected', bankTransferId: transfer.id, reason: transfer.rejectionReason ?? 'rejected by the bank without a reason' };
}

/** A submission's 200/201 body: the transfer, which must carry our reference. */
export function parseTransferBody(body: unknown, endToEndId: string): SubmitAnswer {
  const parsed = Transfer.safeParse(body);
  if (!parsed.success) return { kind: 'uninterpretable', error: `unreadable transfer: ${parsed.error.issues.map((issue) => issue.message).join('; ')}` };
  if (parsed.data.endToEndId !== endToEndId) return { kind: 'uninterpretable', error: `the bank answered for reference ${parsed.data.endToEndId}, not ${endToEndId}` };
  return classify(parsed.data);
}

/** A lookup's 200 body: none or one transfer for our reference; more than one is not ours to pick from. */
export function parseLookupBody(body: unknown, endToEndId: string): LookupAnswer {
  const parsed = TransferList.safeParse(body);
  if (!parsed.success) return { kind: 'uninterpretable', error: `unreadable lookup: ${parsed.error.issues.map((issue) => issue.message).join('; ')}` };
  const matching = parsed.data.items.filter((transfer) => transfer.endToEndId === endToEndId);
  if (matching.length === 0) return { kind: 'not-found' };
  if (matching.length > 1) return { kind: 'uninterpretable', error: `${matching.length} transfers carry reference ${endToEndId}` };
  return classify(matching[0]!);
}
