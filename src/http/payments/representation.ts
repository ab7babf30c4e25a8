import { formatAmount } from '../../domain/money';
import type { ExistingPaymentState } from '../../domain/payment';
import type { Principal } from '../../domain/principal';
import { maskIban } from '../../shared/mask-iban';
import type { PaymentViewBody } from './schemas';
import { refundAmountsOf } from '../refunds/representation';

/**
 * Who sees full account numbers: the client whose payment it is, and operators
 * and supervisors, who check transfers with the bank. Analysts work on figures
 * and never need one; they get `****1234` here as in the read models and the CSV.
 */
export function seesFullIbans(principal: Principal): boolean {
  return !(principal.kind === 'staff' && principal.role === 'analyst');
}

/** The payment as `principal` may see it. */
export function paymentViewFor(principal: Principal, state: ExistingPaymentState, revision: number): PaymentViewBody {
  const view = paymentView(state, revision);
  if (seesFullIbans(principal)) return view;
  return { ...view, debtor: { ...view.debtor, iban: maskIban(view.debtor.iban) }, creditor: { ...view.creditor, iban: maskIban(view.creditor.iban) } };
}

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
    ...refundAmountsOf(state),
    cancellationReason: state.status === 'cancelled' ? state.reason : null,
    rejectionReason: state.status === 'rejected' ? rejectionReasonOf(state) : null,
    rejectionCode: state.status === 'rejected' ? state.reasonCode : null,
    bank: state.bank && {
      transferId: state.status === 'settled' || state.status === 'rejected' ? state.bankTransferId : null,
      attempts: state.bank.attempts,
      // A stable code, never the bank's text (which staff read in the ops queue).
      lastErrorCode: state.bank.lastErrorCode,
      endToEndId: state.bank.endToEndId,
    },
  };
}

/**
 * Our own words for the ISO 20022 status reason codes a bank sends most; the
 * bank's free text never reaches a client. An operator's resolution (no code)
 * shows the operator's reason, which is ours.
 */
const REJECTION_DESCRIPTIONS: Readonly<Record<string, string>> = {
  AC01: 'incorrect account number',
  AC04: 'account closed',
  AC06: 'account blocked',
  AG01: 'transaction forbidden on this account',
  AM04: 'insufficient funds',
  AM05: 'duplicate payment',
  BE04: 'creditor address missing or incorrect',
  MD07: 'account holder deceased',
  MS02: 'reason not specified by the creditor',
  MS03: 'reason not specified by the bank',
  RR04: 'regulatory reason',
};

function rejectionReasonOf(state: Extract<ExistingPaymentState, { status: 'rejected' }>): string {
  if (state.reasonCode === null) return state.reason;
  return REJECTION_DESCRIPTIONS[state.reasonCode] ?? 'rejected by the bank';
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
