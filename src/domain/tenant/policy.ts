/**
 * What a tenant may pay from and how much: its registered debit accounts and its
 * limits per currency. The policy comes from configuration (validated at
 * start-up); the checks here are pure and run before anything is written.
 * See docs/adr/0014-debit-accounts-belong-to-tenants.md and 0015-per-tenant-limits.md.
 */
import { DomainError } from '../errors';
import type { TenantId } from '../ids';
import { currencyExponent, formatMinor, type CurrencyCode } from '../money';
import type { PaymentInstruction } from '../payment/state';

/** Limits of one tenant in one currency, in that currency's integer minor units. */
export interface CurrencyLimits {
  readonly paymentAmountMinorMax: number;
  readonly dailyAmountMinorMax: number;
}

export interface TenantPolicy {
  readonly tenantId: TenantId;
  /** IBANs in electronic form (upper case, no spaces), as payment instructions carry them. */
  readonly debitAccounts: ReadonlySet<string>;
  /**
   * Undefined: the tenant has no limits beyond AMOUNT_MAJOR_MAX. Otherwise the
   * currencies it may pay in, each with its limits; any other currency is refused,
   * because a limit that a change of currency avoids is no limit.
   */
  readonly limits: ReadonlyMap<CurrencyCode, CurrencyLimits> | undefined;
}

/** Where the application finds a tenant's policy; undefined for a tenant nobody registered. */
export interface TenantDirectory {
  policyOf(tenantId: TenantId): TenantPolicy | undefined;
}

export const formatIn = (currency: CurrencyCode, amountMinor: number): string => formatMinor(amountMinor, currencyExponent(currency) ?? 0);

/**
 * The checks a new payment passes before its daily total is reserved: the debtor
 * is one of the tenant's accounts, the currency is one it may pay in, the amount is
 * within its per-payment maximum. Returns the limits that still apply to the day.
 */
export function checkNewPayment(policy: TenantPolicy | undefined, instruction: PaymentInstruction): CurrencyLimits | undefined {
  if (!policy || !policy.debitAccounts.has(instruction.debtor.iban)) {
    throw new DomainError('unprocessable', 'debtor_account_not_registered', 'the debtor account is not one of the debit accounts registered for your tenant', {
      errors: [{ pointer: '/debtor/iban', detail: 'not a debit account registered for your tenant' }],
    });
  }
  if (!policy.limits) return undefined;
  const limits = policy.limits.get(instruction.currency);
  if (!limits) {
    throw new DomainError('unprocessable', 'currency_not_enabled', `your tenant has no limits in ${instruction.currency}, so it may not pay in it`, {
      currency: instruction.currency,
      enabledCurrencies: [...policy.limits.keys()].sort(),
    });
  }
  if (instruction.amountMinor > limits.paymentAmountMinorMax) {
    const limit = formatIn(instruction.currency, limits.paymentAmountMinorMax);
    throw new DomainError('unprocessable', 'payment_amount_limit_exceeded', `a single payment may be at most ${limit} ${instruction.currency} for your tenant`, {
      limit: 'paymentAmountMax',
      currency: instruction.currency,
      limitAmount: limit,
      requestedAmount: formatIn(instruction.currency, instruction.amountMinor),
      // Per payment nothing is used up: the largest single payment accepted is the limit itself.
      remainingAmount: limit,
    });
  }
  return limits;
}
