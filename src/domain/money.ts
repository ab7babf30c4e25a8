/**
 * Money: integer minor units inside, decimal strings on the wire, ISO 4217
 * exponents. Never a float: amounts are parsed and formatted as text.
 */

/** ISO 4217 currencies whose minor unit is not 2 (everything else listed is 2). */
const EXPONENT_BY_CURRENCY: ReadonlyMap<string, number> = (() => {
  const exponents = new Map<string, number>();
  const add = (exponent: number, codes: string) => codes.split(' ').forEach((code) => exponents.set(code, exponent));
  add(0, 'BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF');
  add(3, 'BHD IQD JOD KWD LYD OMR TND');
  add(4, 'CLF UYW');
  add(
    2,
    'AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD ' +
      'CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD ' +
      'GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD ' +
      'MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP ' +
      'PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS ' +
      'TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES WST XCD YER ZAR ZMW ZWG',
  );
  return exponents;
})();

export type CurrencyCode = string & { readonly __brand: 'CurrencyCode' };

/** Every currency we settle, sorted: the wire schemas' enum. */
export const CURRENCY_CODES: readonly CurrencyCode[] = [...EXPONENT_BY_CURRENCY.keys()].sort() as CurrencyCode[];

export interface Money {
  /** Integer amount in the currency's minor unit (cents for EUR, yen for JPY, fils for BHD). */
  readonly amountMinor: number;
  readonly currency: CurrencyCode;
}

export function currencyExponent(code: string): number | undefined {
  return EXPONENT_BY_CURRENCY.get(code);
}

export function isCurrencyCode(code: string): code is CurrencyCode {
  return EXPONENT_BY_CURRENCY.has(code);
}

export type MoneyProblem =
  | { readonly field: 'currency'; readonly code: 'unknown_currency'; readonly message: string }
  | {
      readonly field: 'amount';
      readonly code: 'malformed' | 'too_many_decimals' | 'not_positive' | 'above_maximum';
      readonly message: string;
    };

export type MoneyResult = { readonly ok: true; readonly money: Money } | { readonly ok: false; readonly problem: MoneyProblem };

/** Plain decimal notation only: no sign, exponent, grouping or leading zeros. */
export const DECIMAL_PATTERN = /^(0|[1-9][0-9]{0,17})(?:\.([0-9]{1,18}))?$/;

/**
 * Parses a wire amount. `"125.5"` and `"125.50"` are the same EUR amount; more
 * decimals than the currency allows is refused rather than rounded, because
 * rounding someone else's money silently is never right.
 */
export function parseMoney(amount: string, currency: string, amountMajorMax: number): MoneyResult {
  const exponent = currencyExponent(currency);
  if (exponent === undefined) {
    return { ok: false, problem: { field: 'currency', code: 'unknown_currency', message: `${currency} is not an ISO 4217 currency we settle` } };
  }
  const match = DECIMAL_PATTERN.exec(amount);
  if (!match) {
    return { ok: false, problem: { field: 'amount', code: 'malformed', message: 'must be a decimal string such as "125.50"' } };
  }
  const [, whole, fraction = ''] = match;
  if (fraction.length > exponent) {
    const message = exponent === 0 ? `${currency} has no minor unit: no decimals allowed` : `${currency} allows at most ${exponent} decimals`;
    return { ok: false, problem: { field: 'amount', code: 'too_many_decimals', message } };
  }
  const minor = BigInt(whole!) * 10n ** BigInt(exponent) + BigInt(fraction.padEnd(exponent, '0') || '0');
  if (minor <= 0n) {
    return { ok: false, problem: { field: 'amount', code: 'not_positive', message: 'must be greater than zero' } };
  }
  const maxMinor = BigInt(amountMajorMax) * 10n ** BigInt(exponent);
  if (minor > maxMinor) {
    return { ok: false, problem: { field: 'amount', code: 'above_maximum', message: `must be at most ${amountMajorMax} ${currency}` } };
  }
  return { ok: true, money: { amountMinor: Number(minor), currency: currency as CurrencyCode } };
}

/** The canonical wire form: always exactly the currency's number of decimals. */
export function formatAmount(money: Money): string {
  const exponent = currencyExponent(money.currency);
  if (exponent === undefined) throw new Error(`unknown currency ${money.currency}`);
  return formatMinor(money.amountMinor, exponent);
}

export function formatMinor(amountMinor: number | bigint, exponent: number): string {
  const minor = BigInt(amountMinor);
  const negative = minor < 0n;
  const digits = (negative ? -minor : minor).toString().padStart(exponent + 1, '0');
  const whole = digits.slice(0, digits.length - exponent);
  const fraction = digits.slice(digits.length - exponent);
  return `${negative ? '-' : ''}${whole}${exponent > 0 ? `.${fraction}` : ''}`;
}
