import type { PaymentId, RefundId, TenantId } from '../ids';
import type { CommandMetadata } from '../principal';
import type { BankErrorCode, BankLookupRecord, ResolutionVerification } from './events';
import type { PaymentInstruction } from './state';

interface Command<Type extends string, Data> {
  readonly type: Type;
  readonly data: Data;
  readonly metadata: CommandMetadata;
}

export type RequestPayment = Command<'RequestPayment', { readonly paymentId: PaymentId; readonly tenantId: TenantId; readonly instruction: PaymentInstruction }>;
export type CancelPayment = Command<'CancelPayment', { readonly reason: string }>;
export type StartBankSubmission = Command<'StartBankSubmission', { readonly idempotencyKey: string; readonly endToEndId: string; readonly gatewayId: string }>;
export type RecordBankAttemptFailure = Command<'RecordBankAttemptFailure', { readonly attempt: number; readonly error: string; readonly errorCode: BankErrorCode }>;
export type SettlePayment = Command<'SettlePayment', { readonly bankTransferId: string }>;
export type RejectPayment = Command<'RejectPayment', { readonly reason: string; readonly reasonCode: string; readonly bankTransferId: string | null }>;
export type ParkWithUnknownOutcome = Command<'ParkWithUnknownOutcome', { readonly lastError: string; readonly errorCode: BankErrorCode }>;
export type RequestOperatorRetry = Command<
  'RequestOperatorRetry',
  {
    readonly reason: string;
    /** What the bank said when looked up just before (recorded with the retry); absent when it was not asked. */
    readonly bankLookup?: BankLookupRecord;
    /** A retry later than this after the first submission is refused: recovery then goes through compensation. */
    readonly replayWindowMs: number;
  }
>;
export type ResolveManually = Command<
  'ResolveManually',
  {
    readonly outcome: 'settled' | 'rejected';
    readonly bankTransferId: string | null;
    readonly reason: string;
    readonly evidence: string;
    /** How the outcome was checked: by the bank, or by a second person's approval. */
    readonly verification?: ResolutionVerification;
  }
>;

/**
 * The client's refund as it came over the wire: the amount is parsed in the
 * payment's currency, which only the stream knows, so the decider parses it.
 */
export type RequestRefund = Command<
  'RequestRefund',
  {
    readonly refundId: RefundId;
    /** Decimal string such as "12.50". */
    readonly amount: string;
    /** Absent: the payment's. Present: it must be the payment's. */
    readonly currency: string | null;
    readonly reason: string | null;
    readonly metadata: Readonly<Record<string, string>>;
    readonly amountMajorMax: number;
  }
>;
export type StartRefundSubmission = Command<'StartRefundSubmission', { readonly refundId: RefundId; readonly idempotencyKey: string; readonly endToEndId: string; readonly gatewayId: string }>;
export type RecordRefundAttemptFailure = Command<'RecordRefundAttemptFailure', { readonly refundId: RefundId; readonly attempt: number; readonly error: string; readonly errorCode: BankErrorCode }>;
export type SucceedRefund = Command<'SucceedRefund', { readonly refundId: RefundId; readonly bankRefundId: string }>;
export type FailRefund = Command<'FailRefund', { readonly refundId: RefundId; readonly reason: string; readonly reasonCode: string; readonly bankRefundId: string | null }>;
export type ParkRefund = Command<'ParkRefund', { readonly refundId: RefundId; readonly lastError: string; readonly errorCode: BankErrorCode }>;

export type RefundCommand = RequestRefund | StartRefundSubmission | RecordRefundAttemptFailure | SucceedRefund | FailRefund | ParkRefund;

export type PaymentCommand =
  | RefundCommand
  | RequestPayment
  | CancelPayment
  | StartBankSubmission
  | RecordBankAttemptFailure
  | SettlePayment
  | RejectPayment
  | ParkWithUnknownOutcome
  | RequestOperatorRetry
  | ResolveManually;
