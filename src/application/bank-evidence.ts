/**
 * What the bank must hold before an operator's outcome is recorded without a
 * second person, and the port through which it is asked. Pure apart from the
 * port: given the payment, the claim and the bank's answers, one verdict.
 */
import type { EvidenceMismatch } from '../domain/operator-audit';
import { maskIban } from '../shared/mask-iban';
import type { BankLookupRecord } from '../domain/payment';
import type { ExistingPaymentState } from '../domain/payment';

export type BankLookupAnswer =
  | { readonly kind: 'accepted'; readonly bankTransferId: string }
  | { readonly kind: 'rejected'; readonly bankTransferId: string; readonly reason: string }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'retryable'; readonly error: string }
  | { readonly kind: 'uninterpretable'; readonly error: string }
  /** The bank holds a transfer for our reference that is not the instructed one (another amount, currency or creditor). */
  | { readonly kind: 'conflicting'; readonly error: string };

/** What a found transfer is checked against by the bank client. */
export interface InstructedTransfer {
  readonly amountMinor: number;
  readonly currency: string;
  readonly creditor: { readonly name: string; readonly iban: string };
  readonly endToEndId: string;
}

/** A transfer as the bank holds it: what an operator's claim is checked against. */
export interface BankTransferDetails {
  readonly bankTransferId: string;
  readonly status: 'accepted' | 'rejected';
  readonly endToEndId: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly creditorIban: string;
}

export type TransferDetailsAnswer =
  | { readonly kind: 'found'; readonly transfer: BankTransferDetails }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'retryable'; readonly error: string }
  | { readonly kind: 'uninterpretable'; readonly error: string };

/** The bank, as operator actions need it (the gateway's bank client fits it). */
export interface BankLedger {
  findTransfer(instructed: InstructedTransfer): Promise<BankLookupAnswer>;
  findTransferById(bankTransferId: string): Promise<TransferDetailsAnswer>;
}

export interface OutcomeClaim {
  readonly outcome: 'settled' | 'rejected';
  readonly bankTransferId: string | null;
}

export type Verdict =
  /** The bank confirms the claim; `bankTransferId` is the bank's (for a rejection, its rejected transfer or null). */
  | { readonly kind: 'confirmed'; readonly bankTransferId: string | null; readonly bankAnswer: string }
  | { readonly kind: 'contradicted'; readonly mismatches: readonly EvidenceMismatch[]; readonly bankAnswer: string }
  /** The bank is unreachable or its answer unreadable: a second person decides. */
  | { readonly kind: 'cannot-tell'; readonly bankAnswer: string };

type Parked = Extract<ExistingPaymentState, { status: 'unknown' }>;

export async function checkClaimAtBank(bank: BankLedger, payment: Parked, claim: OutcomeClaim): Promise<Verdict> {
  if (claim.outcome === 'settled') {
    const bankTransferId = claim.bankTransferId ?? '';
    return settledVerdict(payment, bankTransferId, await bank.findTransferById(bankTransferId));
  }
  return rejectedVerdict(payment, claim, await bank.findTransfer(instructedTransferOf(payment)));
}

export function instructedTransferOf(payment: Pick<Parked, 'instruction'> & { readonly bank: { readonly endToEndId: string } }): InstructedTransfer {
  const { instruction } = payment;
  return { amountMinor: instruction.amountMinor, currency: instruction.currency, creditor: instruction.creditor, endToEndId: payment.bank.endToEndId };
}

/** Settled only on an executed transfer that is this payment's: same reference, amount, currency and creditor. */
export function settledVerdict(payment: Parked, bankTransferId: string, answer: TransferDetailsAnswer): Verdict {
  switch (answer.kind) {
    case 'retryable':
    case 'uninterpretable':
      return { kind: 'cannot-tell', bankAnswer: `transfer ${bankTransferId} could not be read at the bank: ${answer.error}` };
    case 'not-found':
      return {
        kind: 'contradicted',
        mismatches: [{ field: 'bankTransferId', expected: bankTransferId, bank: 'none' }],
        bankAnswer: `the bank holds no transfer ${bankTransferId}`,
      };
    case 'found': {
      const { transfer } = answer;
      const { instruction } = payment;
      const compared: Array<[EvidenceMismatch['field'], string, string]> = [
        ['status', 'accepted', transfer.status],
        ['endToEndId', payment.bank.endToEndId, transfer.endToEndId],
        ['amountMinor', String(instruction.amountMinor), String(transfer.amountMinor)],
        ['currency', instruction.currency, transfer.currency],
        ['creditorIban', instruction.creditor.iban, transfer.creditorIban],
      ];
      const mismatches = compared.filter(([, expected, bank]) => expected !== bank).map(([field, expected, bank]) => ({ field, expected, bank }));
      const bankAnswer = `transfer ${transfer.bankTransferId} ${transfer.status}: ${transfer.amountMinor} ${transfer.currency} to ${maskIban(transfer.creditorIban)}, reference ${transfer.endToEndId}`;
      if (mismatches.length > 0) return { kind: 'contradicted', mismatches, bankAnswer };
      return { kind: 'confirmed', bankTransferId: transfer.bankTransferId, bankAnswer };
    }
    default:
      return assertNeverAnswer(answer);
  }
}

/** Rejected only when the bank executed nothing for the payment's reference (none, or a transfer it rejected). */
export function rejectedVerdict(payment: Parked, claim: OutcomeClaim, answer: BankLookupAnswer): Verdict {
  const reference = payment.bank.endToEndId;
  switch (answer.kind) {
    case 'retryable':
    case 'uninterpretable':
      return { kind: 'cannot-tell', bankAnswer: `lookup by reference ${reference} failed: ${answer.error}` };
    case 'accepted':
      return {
        kind: 'contradicted',
        mismatches: [{ field: 'outcome', expected: 'rejected', bank: `settled (transfer ${answer.bankTransferId} executed)` }],
        bankAnswer: `transfer ${answer.bankTransferId} executed for reference ${reference}`,
      };
    case 'conflicting':
      // Money moved for our reference, though not as instructed: certainly not "nothing executed".
      return {
        kind: 'contradicted',
        mismatches: [{ field: 'outcome', expected: 'rejected', bank: 'a transfer for the reference that contradicts the instruction' }],
        bankAnswer: `lookup by reference ${reference}: ${answer.error}`,
      };
    case 'rejected':
    case 'not-found': {
      const bankTransferId = answer.kind === 'rejected' ? answer.bankTransferId : null;
      const bankAnswer = answer.kind === 'rejected' ? `transfer ${answer.bankTransferId} rejected for reference ${reference}: ${answer.reason}` : `no transfer for reference ${reference}`;
      if (claim.bankTransferId !== null && claim.bankTransferId !== bankTransferId) {
        return { kind: 'contradicted', mismatches: [{ field: 'bankTransferId', expected: claim.bankTransferId, bank: bankTransferId ?? 'none' }], bankAnswer };
      }
      return { kind: 'confirmed', bankTransferId, bankAnswer };
    }
    default:
      return assertNeverAnswer(answer);
  }
}

/** The lookup made before a retry, as recorded with it. */
export function lookupRecord(answer: BankLookupAnswer, lookedUpAt: Date): BankLookupRecord {
  const at = lookedUpAt.toISOString();
  switch (answer.kind) {
    case 'accepted':
      return { result: 'accepted', bankTransferId: answer.bankTransferId, detail: null, lookedUpAt: at };
    case 'rejected':
      return { result: 'rejected', bankTransferId: answer.bankTransferId, detail: answer.reason, lookedUpAt: at };
    case 'not-found':
      return { result: 'not-found', bankTransferId: null, detail: null, lookedUpAt: at };
    case 'retryable':
    case 'uninterpretable':
      return { result: 'unavailable', bankTransferId: null, detail: answer.error, lookedUpAt: at };
    case 'conflicting':
      return { result: 'conflicting', bankTransferId: null, detail: answer.error, lookedUpAt: at };
    default:
      return assertNeverAnswer(answer);
  }
}

function assertNeverAnswer(answer: never): never {
  throw new Error(`unexpected bank answer: ${JSON.stringify(answer)}`);
}
