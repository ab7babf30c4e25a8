/**
 * Business rejections on demand: a transfer to one of these creditor IBANs is
 * executed as a rejection with the given reason, every time. They are valid
 * IBANs (checksum and country format), so they pass every validation on the
 * way and exercise the path a real rejection takes.
 *
 * Reasons start with the ISO 20022 status reason code a real bank would send.
 */
export const MAGIC_CREDITOR_IBANS = {
  accountClosed: { iban: 'DE02100100109307118603', reason: 'AC04 account closed' },
  insufficientFunds: { iban: 'DE02120300000000202051', reason: 'AM04 insufficient funds' },
  accountBlocked: { iban: 'DE02500105170137075030', reason: 'AC06 account blocked' },
  regulatory: { iban: 'DE02370502990000684712', reason: 'RR04 regulatory reason' },
} as const;

export type Decision = { readonly status: 'accepted' } | { readonly status: 'rejected'; readonly rejectionReason: string };

const REASON_BY_IBAN: ReadonlyMap<string, string> = new Map(Object.values(MAGIC_CREDITOR_IBANS).map((entry) => [entry.iban, entry.reason]));

/** What the bank does with a transfer; pure, so a replay or a test can rely on it. */
export function decideTransfer(creditorIban: string): Decision {
  const reason = REASON_BY_IBAN.get(creditorIban);
  return reason === undefined ? { status: 'accepted' } : { status: 'rejected', rejectionReason: reason };
}
