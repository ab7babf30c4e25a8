import { isIP } from 'node:net';
import { z } from 'zod';
import { integerFromEnv, key, readSection, type SectionValues } from './env';

const apiKeyEntry = z.object({
  key: z.string().min(16, 'keys are at least 16 characters'),
  role: z.enum(['client', 'analyst', 'operator', 'supervisor']),
  tenant: z.string().regex(/^[A-Za-z0-9._~-]{1,64}$/).optional(),
  name: z.string().max(100).optional(),
}).refine((entry) => (entry.role === 'client') === (entry.tenant !== undefined), {
  message: 'a client key names exactly one tenant; staff keys name none',
});

export type ApiKeyEntry = z.infer<typeof apiKeyEntry>;

const apiKeysFromEnv = z
  .string()
  .transform((text, context) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      context.addIssue({ code: 'custom', message: 'must be a JSON array of { key, role, tenant? }' });
      return z.NEVER;
    }
  })
  .pipe(z.array(apiKeyEntry).min(1).superRefine(refuseDuplicateKeys))
  .optional();

/**
 * One key, one principal: a key listed twice (with two roles or tenants, say)
 * would make who is calling a matter of list order. The message names the
 * entries by position, never the key itself.
 */
function refuseDuplicateKeys(entries: readonly ApiKeyEntry[], context: z.RefinementCtx): void {
  const firstAt = new Map<string, number>();
  entries.forEach((entry, index) => {
    const first = firstAt.get(entry.key);
    if (first === undefined) firstAt.set(entry.key, index);
    else context.addIssue({ code: 'custom', message: `entries ${first + 1} and ${index + 1} have the same key; each key must be listed once` });
  });
}

const isTrustedProxyEntry = (entry: string) => {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
  const [address, prefix, ...rest] = entry.split('/');
  return rest.length === 0 && isIP(address!) !== 0 && (prefix === undefined || /^[0-9]{1,3}$/.test(prefix));
};

/** express's `trust proxy` setting, checked here so a typo stops start-up instead of every request. */
const trustProxyFromEnv = z
  .string()
  .transform((text, context): number | string | false => {
    const value = text.trim();
    if (value === 'false') return false;
    if (/^[0-9]{1,2}$/.test(value)) return Number(value);
    const entries = value.split(',').map((entry) => entry.trim());
    if (value === 'true' || !entries.every(isTrustedProxyEntry)) {
      context.addIssue({ code: 'custom', message: 'must be a hop count, or addresses, subnets or loopback/linklocal/uniquelocal separated by commas (`true` would trust any client)' });
      return z.NEVER;
    }
    return entries.join(',');
  })
  .optional();

/**
 * API_KEYS is unset where the demo keys may not be seeded: on a server store
 * (EVENT_STORE=postgres or eventstoredb). The API refuses to start with it
 * (createApiServer throws a ConfigError with `problem`); processes that serve no
 * API (gateway, projector, projections CLI) hold no keys and start as before.
 */
export class ApiKeysRequired {
  constructor(readonly problem: string) {}
}

/** The keys the API accepts: configured ones, undefined for the demo keys, or the reason there are none. */
export type ApiKeysSetting = readonly ApiKeyEntry[] | ApiKeysRequired | undefined;

export const coreSection = {
  nodeEnv: key('NODE_ENV', 'development, test or production. Production refuses to start on the embedded store, the demo API keys, published bank keys, a plain-http BANK_URL and the sandbox bank (docs/runbook.md, Production configuration).', z.enum(['development', 'test', 'production']).default('development'), 'development'),
  port: key('PORT', 'HTTP port of the API.', integerFromEnv(0, 65535).default(3000), '3000'),
  host: key('HOST', 'Interface the API listens on (0.0.0.0 in containers).', z.string().min(1).default('127.0.0.1'), '127.0.0.1'),
  logLevel: key('LOG_LEVEL', 'pino log level.', z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'), 'info'),
  eventStore: key('EVENT_STORE', 'Event store: pglite (embedded; refused with NODE_ENV=production, it does not sync to disk), postgres or eventstoredb.', z.enum(['pglite', 'postgres', 'eventstoredb']).default('pglite'), 'pglite'),
  dataDir: key('DATA_DIR', "Folder of the embedded store's data (PGlite).", z.string().min(1).default('./data'), './data'),
  databaseUrl: key('DATABASE_URL', 'PostgreSQL connection string: the event store when EVENT_STORE=postgres; read models and the work queue when EVENT_STORE=postgres or eventstoredb.', z.string().url().optional()),
  databaseSchema: key('DATABASE_SCHEMA', 'PostgreSQL schema for every table.', z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).default('public'), 'public'),
  eventStoreUrl: key('EVENTSTORE_URL', 'EventStoreDB/KurrentDB connection string (esdb:// or kurrentdb://) when EVENT_STORE=eventstoredb.', z.string().regex(/^(esdb|esdb\+discover|kurrentdb|kurrentdb\+discover|kdb|kdb\+discover):\/\//, 'must be an esdb:// or kurrentdb:// connection string').optional()),
  apiKeys: key('API_KEYS', 'JSON array of { "key", "role", "tenant" } (role client|analyst|operator|supervisor; tenant for clients). Required with NODE_ENV=production (every process refuses to start) and with EVENT_STORE=postgres or eventstoredb (the API refuses to start). Without it, only the embedded store (EVENT_STORE=pglite) outside production seeds the documented demo keys.', apiKeysFromEnv),
  amountMajorMax: key('AMOUNT_MAJOR_MAX', 'Largest payment amount in major units of its currency.', integerFromEnv(1, 1_000_000_000).default(1_000_000), '1000000'),
  bodyBytesMax: key('BODY_BYTES_MAX', 'Largest accepted request body in bytes.', integerFromEnv(1_024, 1_048_576).default(65_536), '65536'),
  rateLimitPerMinute: key('RATE_LIMIT_PER_MINUTE', 'Requests one API key may make per minute (in-process count: per API instance); 0 turns the limit off.', integerFromEnv(0, 10_000_000).default(6_000), '6000'),
  addressRateLimitPerMinute: key(
    'ADDRESS_RATE_LIMIT_PER_MINUTE',
    "Requests without an API key, and refused ones (4xx), one client address may make per minute; past it the address gets 429 until its minute is over (in-process count: per API instance). Load balancers' anonymous /health probes are not counted. 0 turns the limit off.",
    integerFromEnv(0, 1_000_000).default(600),
    '600',
  ),
  authFailureLimitPerMinute: key(
    'AUTH_FAILURE_LIMIT_PER_MINUTE',
    'Failed authentications (401) one client address may make per minute; past it every request from that address, with any key, is 429 until its minute is over (in-process count: per API instance). 0 turns the limit off.',
    integerFromEnv(0, 100_000).default(20),
    '20',
  ),
  trustProxy: key(
    'TRUST_PROXY',
    "Proxies in front of the API whose X-Forwarded-For names the client address the limits count: a hop count (1 = the nearest proxy), or a comma-separated list of addresses, subnets or loopback/linklocal/uniquelocal (express's trust proxy). Unset: none, the TCP peer is the client. `true` is refused: any client could then choose its own address.",
    trustProxyFromEnv,
  ),
  approvalTtlMs: key('APPROVAL_TTL_MS', 'How long a proposal (maker-checker) waits for a supervisor before it expires.', integerFromEnv(60_000, 30 * 24 * 3_600_000).default(86_400_000), '86400000'),
  replayWindowMs: key('REPLAY_WINDOW_MS', "How long after a payment's first bank submission an operator may still retry it; later, recovery goes through a compensation. Idempotency keys are kept at least this long.", integerFromEnv(1_000, 365 * 24 * 3_600_000).default(604_800_000), '604800000'),
  opsActionLimitPerHour: key('OPS_ACTION_LIMIT_PER_HOUR', 'Retries, resolves, approvals and rejections each that one staff member may make per hour (in-process count: per API instance); 0 turns the limit off.', integerFromEnv(0, 100_000).default(120), '120'),
  apiWorkers: key('API_WORKERS', 'API worker processes (node:cluster) on the server stores (postgres, eventstoredb); 0 is one per core. The embedded store always runs one. Per-instance limits (RATE_LIMIT_PER_MINUTE, OPS_ACTION_LIMIT_PER_HOUR) are shared out among the workers.', integerFromEnv(0, 64).default(0), '0'),
  readWaitMsMax: key('READ_WAIT_MS_MAX', 'Longest a read may wait for a projection to reach a requested position.', integerFromEnv(0, 30_000).default(5_000), '5000'),
};

export type CoreConfig = Omit<SectionValues<typeof coreSection>, 'apiKeys'> & { readonly apiKeys: ApiKeysSetting };

export function readCoreConfig(env: NodeJS.ProcessEnv, problems: string[]): CoreConfig {
  const section = readSection(coreSection, env, problems);
  const core: CoreConfig = { ...section, apiKeys: apiKeysSetting(section) };
  if (core.eventStore !== 'pglite' && !core.databaseUrl) {
    problems.push(`DATABASE_URL: required when EVENT_STORE=${core.eventStore}`);
  }
  if (core.eventStore === 'eventstoredb' && !core.eventStoreUrl) {
    problems.push('EVENTSTORE_URL: required when EVENT_STORE=eventstoredb');
  }
  if (core.nodeEnv === 'production' && core.eventStore === 'pglite') {
    // See docs/adr/0011-embedded-store-is-not-durable.md: PGlite's fsync never reaches the disk.
    problems.push('EVENT_STORE: pglite is refused when NODE_ENV=production (the embedded store does not sync its writes to disk; use postgres or eventstoredb)');
  }
  if (core.nodeEnv === 'production' && !section.apiKeys) {
    problems.push('API_KEYS: required when NODE_ENV=production (demo keys are never used in production)');
  }
  return core;
}

/** Demo keys only for the embedded default outside production; production is refused above for every process. */
function apiKeysSetting(core: SectionValues<typeof coreSection>): ApiKeysSetting {
  if (core.apiKeys || core.eventStore === 'pglite') return core.apiKeys;
  return new ApiKeysRequired(`API_KEYS: required when EVENT_STORE=${core.eventStore} (the demo keys are seeded only on the embedded pglite store, outside production)`);
}
