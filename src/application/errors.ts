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
