/**
 * TENANTS at start-up: every problem is named, with where it is in the JSON,
 * and no full IBAN is echoed into the message (it reaches the log).
 */
import type { TenantId } from '../domain/ids';
import { ConfigError } from './env';
import { DEMO_TENANTS, parseTenants, readTenantsConfig, tenantDirectoryFor } from './tenants';

const ACME = 'DE89370400440532013000';
const GLOBEX = 'GB29NWBK60161331926819';

function problemsOf(json: unknown): string[] {
  return parseTenants(typeof json === 'string' ? json : JSON.stringify(json)).problems;
}

describe('TENANTS', () => {
  it('when valid, then IBANs are in electronic form and amounts in minor units of their currency', () => {
    const { entries, problems } = parseTenants(JSON.stringify({
      acme: { debitAccounts: ['de89 3704 0044 0532 0130 00', ACME], limits: { EUR: { paymentAmountMax: '1000', dailyAmountMax: '2500.5' }, JPY: { paymentAmountMax: '100000', dailyAmountMax: '100000' }, BHD: { paymentAmountMax: '1.001', dailyAmountMax: '2' } } },
      globex: { debitAccounts: [GLOBEX] },
    }));
    expect(problems).toEqual([]);
    expect(entries).toEqual([
      {
        tenantId: 'acme',
        debitAccounts: [ACME],
        limits: { EUR: { paymentAmountMinorMax: 100_000, dailyAmountMinorMax: 250_050 }, JPY: { paymentAmountMinorMax: 100_000, dailyAmountMinorMax: 100_000 }, BHD: { paymentAmountMinorMax: 1_001, dailyAmountMinorMax: 2_000 } },
      },
      { tenantId: 'globex', debitAccounts: [GLOBEX] },
    ]);
  });

  it('when it is not JSON or not the shape, then the problem says what is expected', () => {
    expect(problemsOf('{nope')[0]).toMatch(/^must be a JSON object of tenant id to/);
    expect(problemsOf({ acme: { debitAccounts: [] } })).toEqual(['acme.debitAccounts: at least one debit account']);
    expect(problemsOf({ acme: { debitAccounts: [ACME], limit: {} } })[0]).toMatch(/^acme: /);
    expect(problemsOf({})).toEqual(['at least one tenant']);
  });

  it('when an account is invalid or registered for two tenants, then each is named by its place, never by its number', () => {
    const problems = problemsOf({ acme: { debitAccounts: [ACME, 'DE00370400440532013000'] }, globex: { debitAccounts: [GLOBEX, ACME] }, 'bad/tenant': { debitAccounts: ['FR1420041010050500013M02606'] } });
    expect(problems).toEqual([
      'acme.debitAccounts.1: not a valid IBAN',
      'globex.debitAccounts.1: the account is registered for tenant acme already; an account belongs to one tenant',
      'bad/tenant: a tenant id is 1 to 64 characters of A-Z a-z 0-9 . _ ~ -',
    ]);
    expect(problems.join(' ')).not.toContain('370400440532013000');
  });

  it('when a limit is wrong, then every wrong limit is listed: unknown currency, too many decimals, zero, per-payment above daily, empty limits', () => {
    const problems = problemsOf({
      acme: { debitAccounts: [ACME], limits: { EUX: { paymentAmountMax: '1', dailyAmountMax: '1' }, JPY: { paymentAmountMax: '1.5', dailyAmountMax: '0' }, EUR: { paymentAmountMax: '200.00', dailyAmountMax: '100.00' } } },
      globex: { debitAccounts: [GLOBEX], limits: {} },
    });
    expect(problems).toEqual([
      'acme.limits.EUX: not an ISO 4217 currency we settle',
      'acme.limits.JPY.paymentAmountMax: JPY allows at most 0 decimals',
      'acme.limits.JPY.dailyAmountMax: must be greater than zero and at most 1000000000000000 minor units',
      'acme.limits.EUR: paymentAmountMax must not exceed dailyAmountMax',
      'globex.limits: list at least one currency, or leave limits out',
    ]);
  });

  it('when unset with the demo keys, then the demo tenants; when unset with API_KEYS, then start-up is refused naming TENANTS', () => {
    const problems: string[] = [];
    expect(readTenantsConfig({}, problems)).toBeUndefined();
    expect(problems).toEqual([]);
    readTenantsConfig({ API_KEYS: '[]' }, problems);
    expect(problems).toEqual(['TENANTS: required when API_KEYS is set (each client tenant needs its registered debit accounts)']);
    const invalid: string[] = [];
    readTenantsConfig({ TENANTS: '{}' }, invalid);
    expect(invalid).toEqual(['TENANTS: at least one tenant']);
  });

  it('when a client tenant is not listed, then the directory refuses naming it; the demo directory knows the demo tenants', () => {
    expect(() => tenantDirectoryFor([{ tenantId: 'acme', debitAccounts: [ACME] }], [{ role: 'client', tenant: 'acme' }, { role: 'client', tenant: 'initech' }, { role: 'analyst' }])).toThrow(new ConfigError(['TENANTS: tenant initech has a client API key but no registered debit accounts']));
    const demo = tenantDirectoryFor(undefined, [{ role: 'client', tenant: 'acme' }, { role: 'client', tenant: 'globex' }]);
    expect([...demo.policyOf('acme' as TenantId)!.debitAccounts]).toEqual([ACME]);
    expect(demo.policyOf('acme' as TenantId)!.limits).toBeUndefined();
    expect(demo.policyOf('initech' as TenantId)).toBeUndefined();
    expect(DEMO_TENANTS.map((tenant) => tenant.tenantId)).toEqual(['acme', 'globex']);
  });
});
