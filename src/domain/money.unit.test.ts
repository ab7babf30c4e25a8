import { currencyExponent, formatAmount, parseMoney, type CurrencyCode } from './money';

const MAX = 1_000_000;

describe('money on the wire', () => {
  it.each([
    ['125.50', 'EUR', 12_550],
    ['125.5', 'EUR', 12_550],
    ['125', 'EUR', 12_500],
    ['0.01', 'EUR', 1],
    ['500', 'JPY', 500],
    ['1.234', 'BHD', 1_234],
    ['1000000', 'EUR', 100_000_000],
  ])('reads %s %s as %i minor units', (amount, currency, minor) => {
    expect(parseMoney(amount, currency, MAX)).toEqual({ ok: true, money: { amountMinor: minor, currency } });
  });

  it.each([
    ['125.505', 'EUR', 'too_many_decimals'],
    ['1.5', 'JPY', 'too_many_decimals'],
    ['1.2345', 'BHD', 'too_many_decimals'],
    ['0', 'EUR', 'not_positive'],
    ['0.00', 'EUR', 'not_positive'],
    ['-1', 'EUR', 'malformed'],
    ['1e3', 'EUR', 'malformed'],
    ['01.00', 'EUR', 'malformed'],
    ['1,000.00', 'EUR', 'malformed'],
    [' 1', 'EUR', 'malformed'],
    ['1000000.01', 'EUR', 'above_maximum'],
    ['10.00', 'XYZ', 'unknown_currency'],
  ])('refuses %s %s (%s) instead of rounding', (amount, currency, code) => {
    const result = parseMoney(amount, currency, MAX);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problem.code).toBe(code);
  });

  it('never goes through a float: amounts beyond 2^53 minor units are exact or refused', () => {
    const result = parseMoney('9007199254740.99', 'EUR', 1_000_000_000);
    expect(result).toMatchObject({ ok: false, problem: { code: 'above_maximum' } });
    expect(parseMoney('0.10', 'EUR', MAX)).toEqual({ ok: true, money: { amountMinor: 10, currency: 'EUR' } });
  });

  it('writes amounts with exactly the currency exponent', () => {
    expect(formatAmount({ amountMinor: 12_550, currency: 'EUR' as CurrencyCode })).toBe('125.50');
    expect(formatAmount({ amountMinor: 5, currency: 'EUR' as CurrencyCode })).toBe('0.05');
    expect(formatAmount({ amountMinor: 500, currency: 'JPY' as CurrencyCode })).toBe('500');
    expect(formatAmount({ amountMinor: 1_234, currency: 'BHD' as CurrencyCode })).toBe('1.234');
  });

  it('knows the ISO 4217 exponents', () => {
    expect([currencyExponent('EUR'), currencyExponent('JPY'), currencyExponent('BHD'), currencyExponent('CLF')]).toEqual([2, 0, 3, 4]);
  });
});
