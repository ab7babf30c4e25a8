/** A payment read-model row as the analyst routes answer it (JSON item and CSV row alike). */
import { currencyExponent, formatMinor } from '../../domain/money';
import type { PaymentRow } from '../../projections/read-models/queries';

export interface PaymentItem {
  readonly id: string;
  readonly tenant: string;
  readonly status: string;
  readonly amount: string;
  readonly currency: string;
  readonly debtor: { readonly name: string; readonly iban: string };
  readonly creditor: { readonly name: string; readonly iban: string };
  readonly reference: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly bankTransferId: string | null;
  readonly attempts: number;
  /** Refunds the bank executed, in the payment's currency. */
  readonly refundedAmount: string;
}

export function paymentItem(row: PaymentRow): PaymentItem {
  return {
    id: row.paymentId,
    tenant: row.tenantId,
    status: row.status,
    amount: formatMinor(row.amountMinor, currencyExponent(row.currency) ?? 2),
    currency: row.currency,
    debtor: { name: row.debtorName, iban: row.debtorIbanMasked },
    creditor: { name: row.creditorName, iban: row.creditorIbanMasked },
    reference: row.reference,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    bankTransferId: row.bankTransferId,
    attempts: row.attempts,
    refundedAmount: formatMinor(row.refundedAmountMinor, currencyExponent(row.currency) ?? 2),
  };
}

