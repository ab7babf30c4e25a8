import { formatAmount } from '../../domain/money';
import type { ExistingPaymentState } from '../../domain/payment';
import type { PaymentViewBody } from './schemas';

export function paymentView(state: ExistingPaymentState, revision: number): PaymentViewBody {
  const { instruction } = state;
  return {
    id: state.paymentId,
    status: state.status,
    amount: formatAmount(instruction),
    currency: instruction.currency,
    debtor: { ...instruction.debtor },
    creditor: { ...instruction.creditor },
    reference: instruction.reference,
    metadata: { ...instruction.metadata },
    createdAt: state.createdAt,
    updatedAt: state.updatedAt,
    revision,
    cancellationReason: state.status === 'cancelled' ? state.reason : null,
    rejectionReason: state.status === 'rejected' ? state.reason : null,
    bank: state.bank && {
      transferId: state.status === 'settled' || state.status === 'rejected' ? state.bankTransferId : null,
      attempts: state.bank.attempts,
      lastError: state.bank.lastError,
      endToEndId: state.bank.endToEndId,
    },
  };
}

/** Strong ETag: the representation is a pure function of the stream revision. */
export const etagOf = (revision: number) => `"${revision}"`;

/**
 * If-Match / If-None-Match values: `*` or a list of entity tags. `weak` says a
 * weak tag (W/"3") was among them: If-None-Match compares weakly and counts it,
 * If-Match compares strongly and must not.
 */
export function parseEntityTags(header: string | undefined): { any: boolean; revisions: number[]; weak: boolean } | undefined {
  if (header === undefined) return undefined;
  if (header.trim() === '*') return { any: true, revisions: [], weak: false };
  const tags = header.split(',').map((tag) => /^\s*(W\/)?"(\d{1,15})"\s*$/.exec(tag));
  const revisions = tags.filter((match) => match !== null).map((match) => Number(match[2]));
  return { any: false, revisions, weak: tags.some((match) => match?.[1] !== undefined) };
}
