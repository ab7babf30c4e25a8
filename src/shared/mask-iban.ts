/**
 * How an IBAN appears anywhere but its own event: the last four characters.
 * Logs, read models, the sandbox bank's answers and operator evidence all mask
 * through this one function, so "no full IBAN outside the log" has one meaning.
 */
export function maskIban(iban: unknown): string {
  if (typeof iban !== 'string' || iban.length < 5) return '****';
  return `****${iban.slice(-4)}`;
}
