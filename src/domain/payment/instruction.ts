import type { PaymentInstruction } from './state';

/**
 * The fields in which two instructions differ, in wire names. Both sides are in
 * canonical form already (integer minor units, electronic IBANs), so "125.5" and
 * "125.50" compare equal and key order in `metadata` is irrelevant.
 */
export function differingInstructionFields(stored: PaymentInstruction, requested: PaymentInstruction): string[] {
  const differing: string[] = [];
  if (stored.amountMinor !== requested.amountMinor) differing.push('amount');
  if (stored.currency !== requested.currency) differing.push('currency');
  for (const side of ['debtor', 'creditor'] as const) {
    if (stored[side].name !== requested[side].name) differing.push(`${side}.name`);
    if (stored[side].iban !== requested[side].iban) differing.push(`${side}.iban`);
  }
  if (stored.reference !== requested.reference) differing.push('reference');
  if (!sameStringMap(stored.metadata, requested.metadata)) differing.push('metadata');
  return differing;
}

function sameStringMap(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keysA = Object.keys(a);
  if (keysA.length !== Object.keys(b).length) return false;
  return keysA.every((key) => Object.prototype.hasOwnProperty.call(b, key) && a[key] === b[key]);
}
