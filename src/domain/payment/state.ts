import type { CurrencyCode } from '../money';
import type { PaymentId, RefundId, TenantId } from '../ids';
import type { BankErrorCode, Party } from './events';

export type PaymentStatus = 'requested' | 'submitted' | 'settled' | 'rejected' | 'unknown' | 'cancelled';

/** What the client asked for: compared field by field when a PUT is retried. */
export interface PaymentInstruction {
  readonly amountMinor: number;
  readonly currency: CurrencyCode;
  readonly debtor: Party;
  readonly creditor: Party;
  readonly reference: string | null;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface BankProgress {
  readonly attempts: number;
  readonly idempotencyKey: string;
  readonly endToEndId: string;
  /** Free text for staff; it may quote the bank. */
  readonly lastError: string | null;
  /** The stable code clients see instead. */
  readonly lastErrorCode: BankErrorCode | null;
  /** When the gateway first recorded its intent: the replay window counts from here, on the events' clock. */
  readonly firstSubmittedAt: string;
}

interface PaymentCommon {
  readonly paymentId: PaymentId;
  readonly tenantId: TenantId;
  readonly instruction: PaymentInstruction;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Null until the gateway first records its intent. */
  readonly bank: BankProgress | null;
}

export type PaymentState =
  | { readonly status: 'none' }
  | (PaymentCommon & { readonly status: 'requested' })
  | (PaymentCommon & { readonly status: 'submitted'; readonly bank: BankProgress; readonly operatorRetryPending: boolean })
  | (PaymentCommon & {
      readonly status: 'settled';
      readonly bankTransferId: string;
      readonly resolvedBy: string | null;
      /** In the order they were requested. Only a settled payment has refunds, and it stays settled. */
      readonly refunds: readonly RefundState[];
    })
  | (PaymentCommon & { readonly status: 'rejected'; readonly reason: string; readonly reasonCode: string | null; readonly bankTransferId: string | null; readonly resolvedBy: string | null })
  | (PaymentCommon & { readonly status: 'unknown'; readonly bank: BankProgress })
  | (PaymentCommon & { readonly status: 'cancelled'; readonly reason: string });

export type ExistingPaymentState = Exclude<PaymentState, { status: 'none' }>;

export const initialState: PaymentState = { status: 'none' };

export type RefundStatus = 'requested' | 'submitted' | 'succeeded' | 'failed' | 'unknown';

/** What the client asked for: compared field by field when a refund PUT is retried. */
export interface RefundInstruction {
  readonly amountMinor: number;
  readonly currency: CurrencyCode;
  readonly reason: string | null;
  readonly metadata: Readonly<Record<string, string>>;
}

interface RefundCommon {
  readonly refundId: RefundId;
  readonly instruction: RefundInstruction;
  readonly requestedBy: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Null until the gateway first records its intent for this refund. */
  readonly bank: BankProgress | null;
}

export type RefundState =
  | (RefundCommon & { readonly status: 'requested' })
  | (RefundCommon & { readonly status: 'submitted'; readonly bank: BankProgress })
  | (RefundCommon & { readonly status: 'succeeded'; readonly bankRefundId: string })
  | (RefundCommon & { readonly status: 'failed'; readonly reason: string; readonly reasonCode: string; readonly bankRefundId: string | null })
  | (RefundCommon & { readonly status: 'unknown'; readonly bank: BankProgress });

export const TERMINAL_REFUND_STATUSES: readonly RefundStatus[] = ['succeeded', 'failed'];
