/**
 * The gateway's configuration section: every key with its env var, meaning and
 * default, validated at start-up with the other sections.
 */
import { hostname } from 'node:os';
import { z } from 'zod';
import { booleanFromEnv, integerFromEnv, isProduction, key, readSection, type SectionValues } from '../config/env';

/** The published development defaults: a production gateway presenting one of them is misconfigured. */
export const BANK_API_KEY_DEFAULT = 'sandbox-key';
const PUBLISHED_BANK_KEYS: readonly string[] = [BANK_API_KEY_DEFAULT, 'sandbox-admin-key'];

export const gatewaySection = {
  bankUrl: key('BANK_URL', 'Base URL of the bank API (the sandbox in development and tests). With NODE_ENV=production it must be https:// (see BANK_URL_INSECURE_ALLOWED).', z.string().url().default('http://127.0.0.1:4010'), 'http://127.0.0.1:4010'),
  bankUrlInsecureAllowed: key(
    'BANK_URL_INSECURE_ALLOWED',
    'With NODE_ENV=production, true lets BANK_URL be plain http:// (a TLS-terminating sidecar on the same host, say); otherwise production refuses to start on it.',
    booleanFromEnv.default(false),
    'false',
  ),
  bankApiKey: key('BANK_API_KEY', 'Bearer key the gateway presents to the bank. With NODE_ENV=production the published default is refused.', z.string().min(1).default(BANK_API_KEY_DEFAULT), BANK_API_KEY_DEFAULT),
  bankTimeoutMs: key('BANK_TIMEOUT_MS', 'Longest one bank HTTP call may take before it counts as a timeout (the outcome is then unknown and looked up).', integerFromEnv(50, 120_000).default(5_000), '5000'),
  retryWindowMs: key('BANK_RETRY_WINDOW_MS', 'How long the gateway keeps retrying a payment without an outcome before parking it as unknown for an operator.', integerFromEnv(1_000, 7 * 24 * 3_600_000).default(15 * 60_000), '900000'),
  backoffBaseMs: key('BANK_BACKOFF_BASE_MS', 'First delay of the exponential backoff (with jitter) between attempts on one payment.', integerFromEnv(10, 600_000).default(500), '500'),
  backoffMaxMs: key('BANK_BACKOFF_MAX_MS', 'Longest delay between attempts on one payment.', integerFromEnv(10, 3_600_000).default(30_000), '30000'),
  inFlightWaitMs: key('BANK_IN_FLIGHT_WAIT_MS', 'Pause before looking a transfer up again when the bank says the first request is still in flight (409).', integerFromEnv(10, 600_000).default(1_000), '1000'),
  lookupRetryCountMax: key('BANK_LOOKUP_RETRY_COUNT_MAX', 'Immediate retries of one lookup (a GET, safe to repeat) inside one bank call.', integerFromEnv(0, 10).default(2), '2'),
  circuitFailureCountMax: key('BANK_CIRCUIT_FAILURE_COUNT_MAX', 'Consecutive failed bank calls that open the circuit breaker.', integerFromEnv(1, 1_000).default(5), '5'),
  circuitHalfOpenAfterMs: key('BANK_CIRCUIT_HALF_OPEN_AFTER_MS', 'How long an open circuit stays open before one trial call is let through.', integerFromEnv(10, 600_000).default(5_000), '5000'),
  leaseMs: key('GATEWAY_LEASE_MS', 'How long a claimed payment belongs to one gateway before another may take it over; renewed before each bank call. Keep it well above BANK_TIMEOUT_MS.', integerFromEnv(100, 3_600_000).default(30_000), '30000'),
  concurrencyMax: key('GATEWAY_CONCURRENCY_MAX', 'Payments one gateway process works on at the same time.', integerFromEnv(1, 256).default(8), '8'),
  pollIntervalMs: key('GATEWAY_POLL_INTERVAL_MS', 'Pause between looks at the work queue when it had nothing claimable.', integerFromEnv(10, 60_000).default(250), '250'),
  healthPort: key('GATEWAY_HEALTH_PORT', 'Port of the gateway process\'s /health/live and /health/ready (lag, in-flight count, circuit state), on HOST; unset: no HTTP server.', integerFromEnv(0, 65535).optional()),
  gatewayId: key('GATEWAY_ID', 'Name of this gateway process in leases, events and logs (default: host and pid).', z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/).optional(), 'host-pid'),
  workSource: key(
    'GATEWAY_WORK_SOURCE',
    'How payments reach the work queue: `catch-up` (each gateway follows the log from a checkpoint kept with the queue), `persistent-subscription` (EventStoreDB only: a consumer group shares the events among gateways, with parking), or `auto` (the consumer group on EventStoreDB, catch-up otherwise).',
    z.enum(['auto', 'catch-up', 'persistent-subscription']).default('auto'),
    'auto',
  ),
  crashPoints: key('PAYSTREAM_CRASH_POINTS', 'Tests only, refused in production: comma-separated crash points, each optionally `name@probability` (see docs/bank-gateway.md).', z.string().max(1_000).optional()),
};

export type GatewayConfig = Omit<SectionValues<typeof gatewaySection>, 'gatewayId'> & { readonly gatewayId: string };

export function readGatewayConfig(env: NodeJS.ProcessEnv, problems: string[]): GatewayConfig {
  const section = readSection(gatewaySection, env, problems);
  if (section.backoffMaxMs < section.backoffBaseMs) problems.push('BANK_BACKOFF_MAX_MS: must not be below BANK_BACKOFF_BASE_MS');
  // A lookup may take its retries' worth of timeouts; the lease should outlive it.
  if (section.leaseMs <= section.bankTimeoutMs * (section.lookupRetryCountMax + 2)) {
    problems.push('GATEWAY_LEASE_MS: must exceed BANK_TIMEOUT_MS × (BANK_LOOKUP_RETRY_COUNT_MAX + 2), so a lease outlives one lookup and one submission');
  }
  if (isProduction(env)) problems.push(...productionProblems(section));
  const gatewayId = section.gatewayId ?? `${hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 40)}-${process.pid}`;
  return { ...section, gatewayId };
}

/**
 * What production refuses to start on: a bank key anyone can read in the README,
 * and a bank reached without TLS (the key and every instruction would cross the
 * network in clear) unless the operator says so explicitly.
 */
function productionProblems(section: SectionValues<typeof gatewaySection>): string[] {
  const problems: string[] = [];
  // A value that failed its own check is already reported (and undefined here).
  if (section.bankApiKey !== undefined && PUBLISHED_BANK_KEYS.includes(section.bankApiKey)) {
    problems.push('BANK_API_KEY: the published development key is refused when NODE_ENV=production; set the key your bank issued');
  }
  if (section.bankUrl !== undefined && new URL(section.bankUrl).protocol !== 'https:' && !section.bankUrlInsecureAllowed) {
    problems.push('BANK_URL: must be https:// when NODE_ENV=production (set BANK_URL_INSECURE_ALLOWED=true only if TLS is terminated on this host)');
  }
  return problems;
}
