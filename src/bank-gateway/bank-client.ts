/**
 * The bank client port: what the gateway needs from a bank, with every answer
 * already classified, so the state machine never sees HTTP. The sandbox's HTTP
 * adapter is `http-bank-client.ts`; a real bank gets its own adapter.
 */
import type { LookupAnswer, SubmitAnswer } from './state-machine';

export type { LookupAnswer, SubmitAnswer, TransferFound } from './state-machine';

/** What an answer is checked against: the instruction's amount, currency, creditor and our reference. */
export type InstructedTransfer = Pick<TransferRequest, 'amountMinor' | 'currency' | 'creditor' | 'endToEndId'>;

/** One credit transfer, as the bank is asked to execute it. */
export interface TransferRequest {
  readonly amountMinor: number;
  readonly currency: string;
  readonly debtor: { readonly name: string; readonly iban: string };
  readonly creditor: { readonly name: string; readonly iban: string };
  /** Our reference at the bank, ≤ 35 characters; how a transfer is found again. */
  readonly endToEndId: string;
  readonly remittanceInformation: string | null;
}

// Rationale: the operator desk (src/application) owns the shape of a transfer as the bank holds
// it; the bank client answers in that shape instead of declaring a twin.
import type { TransferDetailsAnswer } from '../application/bank-evidence';
export type { BankTransferDetails, TransferDetailsAnswer } from '../application/bank-evidence';

export type CircuitStatus = 'closed' | 'open' | 'half-open';

export interface BankClient {
  /**
   * Submits the transfer once under `idempotencyKey`. Never retried inside: a
   * retry after an unclear answer is the gateway's, and only after a lookup.
   */
  submitTransfer(request: TransferRequest, idempotencyKey: string): Promise<SubmitAnswer>;
  /**
   * Finds the transfer made for our end-to-end reference; safe to repeat. The
   * instruction is what the found transfer is checked against (a transfer with
   * another amount, currency or creditor is `conflicting`).
   */
  findTransfer(instructed: InstructedTransfer): Promise<LookupAnswer>;
  /** The transfer with this bank id, with what it moved; safe to repeat. */
  findTransferById(bankTransferId: string): Promise<TransferDetailsAnswer>;
  /** Sends money back on an executed transfer, once under `idempotencyKey`; as submitTransfer, never retried inside. */
  submitRefund(request: RefundRequest, idempotencyKey: string): Promise<SubmitAnswer>;
  /** Finds the refund made for our end-to-end reference, checked against the instruction; safe to repeat. */
  findRefund(instructed: RefundRequest): Promise<LookupAnswer>;
  circuitStatus(): CircuitStatus;
}

/** One refund, as the bank is asked to execute it: on the bank's transfer that settled the payment. */
export interface RefundRequest {
  readonly bankTransferId: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly endToEndId: string;
}
