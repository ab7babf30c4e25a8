/** Failures of the application layer (as opposed to business refusals, which are DomainErrors). */

/** The caller's precondition (If-Match, If-None-Match) does not hold. */
export class PreconditionFailedError extends Error {
  override readonly name = 'PreconditionFailedError';
  constructor(
    message: string,
    readonly currentRevision: number | undefined,
  ) {
    super(message);
  }
}

/** Writers kept racing on one stream past the retry bound: the client may retry later. */
export class ConcurrencyExhaustedError extends Error {
  override readonly name = 'ConcurrencyExhaustedError';
  constructor(readonly streamName: string, readonly attempts: number) {
    super(`stream ${streamName} kept changing for ${attempts} attempts`);
  }
}

/** The bank's record contradicts what an operator claimed; nothing was written to the payment. */
export class BankEvidenceMismatchError extends Error {
  override readonly name = 'BankEvidenceMismatchError';
  constructor(
    readonly mismatches: readonly { readonly field: string; readonly expected: string; readonly bank: string }[],
    readonly bankAnswer: string,
  ) {
    super(`the bank contradicts the claim: ${mismatches.map((mismatch) => `${mismatch.field} is ${mismatch.bank} at the bank, not ${mismatch.expected}`).join('; ')}`);
  }
}

/** The bank transfer already settled another payment: one transfer settles at most one payment. */
export class BankTransferAlreadyUsedError extends Error {
  override readonly name = 'BankTransferAlreadyUsedError';
  constructor(readonly bankTransferId: string) {
    super(`bank transfer ${bankTransferId} already settled another payment`);
  }
}
