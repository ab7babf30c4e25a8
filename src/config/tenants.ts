/**
 * The tenants' registered debit accounts and limits (TENANTS), validated at
 * start-up with every problem named. A payment may only debit an account its
 * tenant registered (docs/adr/0014-debit-accounts-belong-to-tenants.md) and stays
 * within the tenant's limits per currency (docs/adr/0015-per-tenant-limits.md).
 */
import { electronicFormatIBAN, isValidIBAN } from 'ibantools';
import { z } from 'zod';
import { TENANT_ID_PATTERN, type TenantId } from '../domain/ids';
import { currencyExponent, DECIMAL_PATTERN, type CurrencyCode } from '../domain/money';
import type { CurrencyLimits, TenantDirectory, TenantPolicy } from '../domain/tenant';
import { ConfigError, key, readSection } from './env';

/** Bounds on the configuration itself (TIGER style: a limit on everything). */
export const TENANTS_COUNT_MAX = 10_000;
export const DEBIT_ACCOUNTS_PER_TENANT_MAX = 1_000;
/** Rationale: a day's total plus one payment stays a safe integer (2^53) in every currency. */
export const LIMIT_AMOUNT_MINOR_MAX = 1_000_000_000_000_000;

/** What TENANTS holds for one tenant, once parsed: IBANs in electronic form, amounts in minor units. */
export interface TenantEntry {
  readonly tenantId: string;
  readonly debitAccounts: readonly string[];
  readonly limits?: Readonly<Record<string, CurrencyLimits>>;
}

/** Configured tenants, or undefined: the demo tenants, seeded only alongside the demo API keys. */
export type TenantsSetting = readonly TenantEntry[] | undefined;

/**
 * The demo tenants of the demo API keys (src/http/auth.ts): the README's curl
 * examples debit DE89370400440532013000 as acme. No limits, so the examples and
 * tests that use the demo keys pay any amount up to AMOUNT_MAJOR_MAX.
 */
export const DEMO_TENANTS: readonly TenantEntry[] = [
  { tenantId: 'acme', debitAccounts: ['DE89370400440532013000'] },
  { tenantId: 'globex', debitAccounts: ['GB29NWBK60161331926819'] },
];

type Issue = (message: string) => void;

function minorUnits(text: unknown, currency: string, where: string, issue: Issue): number | undefined {
  const exponent = currencyExponent(currency);
  const match = typeof text === 'string' ? DECIMAL_PATTERN.exec(text) : null;
  if (exponent === undefined || !match) return issue(`${where}: must be a decimal string such as "10000.00"`), undefined;
  const [, whole, fraction = ''] = match;
  if (fraction.length > exponent) return issue(`${where}: ${currency} allows at most ${exponent} decimals`), undefined;
  const minor = BigInt(whole!) * 10n ** BigInt(exponent) + BigInt(fraction.padEnd(exponent, '0') || '0');
  if (minor <= 0n || minor > BigInt(LIMIT_AMOUNT_MINOR_MAX)) return issue(`${where}: must be greater than zero and at most ${LIMIT_AMOUNT_MINOR_MAX} minor units`), undefined;
  return Number(minor);
}

const limitsShape = z.record(z.string(), z.strictObject({ paymentAmountMax: z.string(), dailyAmountMax: z.string() }));
const tenantShape = z.strictObject({
  debitAccounts: z.array(z.string().max(64)).min(1, 'at least one debit account').max(DEBIT_ACCOUNTS_PER_TENANT_MAX),
  limits: limitsShape.optional(),
});

/** Parses TENANTS' JSON into entries, or lists every problem (paths named as in the JSON). */
export function parseTenants(text: string): { entries: TenantEntry[]; problems: string[] } {
  const problems: string[] = [];
  const issue: Issue = (message) => void problems.push(message);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { entries: [], problems: ['must be a JSON object of tenant id to { "debitAccounts": [IBAN, …], "limits"?: { CUR: { "paymentAmountMax", "dailyAmountMax" } } }'] };
  }
  const shape = z.record(z.string(), tenantShape).safeParse(json);
  if (!shape.success) return { entries: [], problems: shape.error.issues.map((entry) => `${entry.path.join('.') || '(root)'}: ${entry.message}`) };
  const tenants = Object.entries(shape.data);
  if (tenants.length === 0) issue('at least one tenant');
  if (tenants.length > TENANTS_COUNT_MAX) issue(`at most ${TENANTS_COUNT_MAX} tenants`);
  const ownerByIban = new Map<string, string>();
  const entries: TenantEntry[] = [];
  for (const [tenantId, tenant] of tenants) {
    if (!TENANT_ID_PATTERN.test(tenantId)) issue(`${tenantId}: a tenant id is 1 to 64 characters of A-Z a-z 0-9 . _ ~ -`);
    const debitAccounts: string[] = [];
    tenant.debitAccounts.forEach((raw, index) => {
      const iban = electronicFormatIBAN(raw) ?? '';
      // The offending value is not echoed: configuration errors reach logs, and logs carry no full IBAN.
      if (!isValidIBAN(iban)) return issue(`${tenantId}.debitAccounts.${index}: not a valid IBAN`);
      const owner = ownerByIban.get(iban);
      if (owner !== undefined && owner !== tenantId) return issue(`${tenantId}.debitAccounts.${index}: the account is registered for tenant ${owner} already; an account belongs to one tenant`);
      ownerByIban.set(iban, tenantId);
      if (!debitAccounts.includes(iban)) debitAccounts.push(iban);
    });
    const limits: Record<string, CurrencyLimits> = {};
    for (const [currency, limit] of Object.entries(tenant.limits ?? {})) {
      const where = `${tenantId}.limits.${currency}`;
      if (currencyExponent(currency) === undefined) {
        issue(`${where}: not an ISO 4217 currency we settle`);
        continue;
      }
      const paymentAmountMinorMax = minorUnits(limit.paymentAmountMax, currency, `${where}.paymentAmountMax`, issue);
      const dailyAmountMinorMax = minorUnits(limit.dailyAmountMax, currency, `${where}.dailyAmountMax`, issue);
      if (paymentAmountMinorMax === undefined || dailyAmountMinorMax === undefined) continue;
      if (paymentAmountMinorMax > dailyAmountMinorMax) issue(`${where}: paymentAmountMax must not exceed dailyAmountMax`);
      limits[currency] = { paymentAmountMinorMax, dailyAmountMinorMax };
    }
    if (tenant.limits && Object.keys(tenant.limits).length === 0) issue(`${tenantId}.limits: list at least one currency, or leave limits out`);
    entries.push({ tenantId, debitAccounts, ...(tenant.limits ? { limits } : {}) });
  }
  return { entries, problems };
}

const tenantsFromEnv = z
  .string()
  .transform((text, context) => {
    const { entries, problems } = parseTenants(text);
    for (const message of problems) context.addIssue({ code: 'custom', message });
    return problems.length > 0 ? z.NEVER : entries;
  })
  .optional();

export const tenantsSection = {
  tenants: key(
    'TENANTS',
    'JSON object of tenant id to { "debitAccounts": [IBAN, …], "limits": { "EUR": { "paymentAmountMax": "10000.00", "dailyAmountMax": "50000.00" }, … } }. A payment may debit only its tenant\'s registered accounts (an account belongs to one tenant); limits are per currency, and a tenant with limits pays only in the currencies listed. Required with API_KEYS: every client key\'s tenant must be listed. Unset, only with the demo keys: the demo tenants (acme debits DE89370400440532013000, globex GB29NWBK60161331926819), without limits.',
    tenantsFromEnv,
  ),
};

export function readTenantsConfig(env: NodeJS.ProcessEnv, problems: string[]): TenantsSetting {
  const { tenants } = readSection(tenantsSection, env, problems);
  // The demo tenants come with the demo keys only: configured keys name tenants the demo does not know.
  if (!tenants && env['API_KEYS']) problems.push('TENANTS: required when API_KEYS is set (each client tenant needs its registered debit accounts)');
  return tenants;
}

/**
 * The directory the payments module asks, refusing (ConfigError) a client key
 * whose tenant is not listed: such a client could never pay, and a typo in either
 * list is better found at start-up than by the tenant.
 */
export function tenantDirectoryFor(setting: TenantsSetting, apiKeys: readonly { readonly role: string; readonly tenant?: string | undefined }[]): TenantDirectory {
  const clientTenants = apiKeys.flatMap((entry) => (entry.role === 'client' && entry.tenant !== undefined ? [entry.tenant] : []));
  const entries = setting ?? DEMO_TENANTS;
  const policies = new Map<string, TenantPolicy>(
    entries.map((entry) => [
      entry.tenantId,
      {
        tenantId: entry.tenantId as TenantId,
        debitAccounts: new Set(entry.debitAccounts),
        limits: entry.limits ? new Map(Object.entries(entry.limits).map(([currency, limits]) => [currency as CurrencyCode, limits])) : undefined,
      },
    ]),
  );
  const unlisted = [...new Set(clientTenants)].filter((tenant) => !policies.has(tenant));
  if (unlisted.length > 0) {
    throw new ConfigError(unlisted.map((tenant) => `TENANTS: tenant ${tenant} has a client API key but no registered debit accounts`));
  }
  return { policyOf: (tenantId) => policies.get(tenantId) };
}
