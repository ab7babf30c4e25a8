import type { PaymentId, TenantId } from '../ids';
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

export type PaymentCommand =
  | RequestPayment
  | CancelPayment
  | StartBankSubmission
  | RecordBankAttemptFailure
  | SettlePayment
  | RejectPayment
  | ParkWithUnknownOutcome
  | RequestOperatorRetry
  | ResolveManually;
