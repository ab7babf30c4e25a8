import { formatAmount } from '../../domain/money';
import { refundTotals, type ExistingPaymentState, type RefundState } from '../../domain/payment';
import type { RefundViewBody } from './schemas';

export function refundView(payment: ExistingPaymentState, refund: RefundState): RefundViewBody {
  return {
    id: refund.refundId,
    paymentId: payment.paymentId,
    status: refund.status,
    amount: formatAmount(refund.instruction),
    currency: refund.instruction.currency,
    reason: refund.instruction.reason,
    metadata: { ...refund.instruction.metadata },
    createdAt: refund.createdAt,
    updatedAt: refund.updatedAt,
    // A stable code only: the bank's own words stay with staff.
    failureCode: refund.status === 'failed' ? refund.reasonCode : null,
    bank: refund.bank && {
      refundId: refund.status === 'succeeded' || refund.status === 'failed' ? refund.bankRefundId : null,
      attempts: refund.bank.attempts,
      lastErrorCode: refund.bank.lastErrorCode,
      endToEndId: refund.bank.endToEndId,
    },
  };
}

/** The payment's refund amounts in its currency's canonical decimals. */
export function refundAmountsOf(payment: ExistingPaymentState): { refundedAmount: string; refundableAmount: string } {
  const totals = refundTotals(payment);
  const { currency } = payment.instruction;
  return {
    refundedAmount: formatAmount({ amountMinor: totals.refundedMinor, currency }),
    refundableAmount: formatAmount({ amountMinor: totals.refundableMinor, currency }),
  };
}
