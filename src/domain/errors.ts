/**
 * Failures the business expects but refuses. Each carries its meaning, so one
 * place at the edge (the HTTP problem mapper) turns it into a status code.
 * Outcomes that are facts, a bank rejection say, are events and never errors.
 */
/** `unprocessable`: well-formed, but refused by a rule of the tenant (its debit accounts, its limits). */
export type DomainErrorKind = 'not_found' | 'illegal_state' | 'conflict' | 'forbidden' | 'validation' | 'unprocessable';

export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    /** Stable machine-readable code, used in problem type URIs. */
    readonly code: string,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}
