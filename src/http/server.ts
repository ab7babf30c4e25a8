/**
 * Builds the API from its parts and serves it. The entry files (api, all-in-one)
 * and the tests use this one function, so what is tested is what runs.
 */
import { createMetricsRouter } from './metrics-route';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import type { Router } from 'express';
import type { ApiKeysSetting, CoreConfig } from '../config/core';
import { createIdempotencyRecords, type IdempotencyRecords } from '../application/idempotency';
import { tenantDirectoryFor, type TenantsSetting } from '../config/tenants';
import { createPaymentsModule, paymentDecider, type PaymentsModule } from '../application/payments';
import { StreamStateCache } from '../application/stream-state-cache';
import { PAYMENT_STREAM_PREFIX } from '../domain/ids';
import type { EventStore } from '../event-store/port';
import type { Logger } from '../logging';
import { createApp } from './app';
import { answerClientErrorsAsProblems } from './client-errors';
import { acceptedApiKeys, createAuthenticator } from './auth';
import type { ReadinessCheck } from './health';
import { createOpenApiRegistry, type OpenAPIRegistry } from './openapi';
import { createPaymentsRouter } from './payments/routes';
import { createRefundsModule } from '../application/refunds';
import { createRefundsRouter } from './refunds/routes';

/** How long close() lets in-flight requests finish before it cuts their connections. */
export const CLOSE_GRACE_MS = 2_000;

export interface ApiServerOptions {
  readonly store: EventStore;
  readonly logger: Logger;
  /** Configured keys; undefined seeds the demo keys; ApiKeysRequired (a server store without API_KEYS) refuses to build the API. */
  readonly apiKeys: ApiKeysSetting;
  /** Configured tenants (TENANTS); undefined seeds the demo tenants. Every client key's tenant must be listed. */
  readonly tenants?: TenantsSetting;
  readonly amountMajorMax: number;
  readonly bodyBytesMax: number;
  readonly rateLimitPerMinute?: number;
  /** Anonymous or refused requests per client address per minute; unset or 0 is no limit. */
  readonly addressRateLimitPerMinute?: number;
  /** Failed authentications per client address per minute; unset or 0 is no limit. */
  readonly authFailureLimitPerMinute?: number;
  /** express's `trust proxy`: which proxies may name the client address; unset trusts none. */
  readonly trustProxy?: number | string | false;
  readonly now?: () => Date;
  readonly payments?: PaymentsModule;
  /** Idempotency-Key records; default on the same store with the default in-flight bound. */
  readonly idempotency?: IdempotencyRecords;
  /** Extra route modules (operator, analytics, dashboard), built against the same registry. */
  readonly extraRouters?: (context: ExtraRoutersContext) => { routers?: Router[]; publicRouters?: Router[] };
  readonly readinessChecks?: ReadonlyMap<string, ReadinessCheck>;
  /**
   * Payments the retry cache keeps (docs/adr/0020-retry-cache.md); 0 turns it off. Default 50 000.
   * Only when this server makes its own payments module.
   */
  readonly retryCacheEntriesMax?: number;
}

/** What every route module gets from the API: one registry, one payments module, one Idempotency-Key record. */
export interface ExtraRoutersContext {
  readonly registry: OpenAPIRegistry;
  readonly payments: PaymentsModule;
  readonly idempotency: IdempotencyRecords;
}

export const RETRY_CACHE_ENTRIES_DEFAULT = 50_000;

export interface ApiServer {
  readonly app: ReturnType<typeof createApp>;
  readonly payments: PaymentsModule;
  listen(port: number, host: string): Promise<{ url: string; server: Server }>;
  close(): Promise<void>;
}

/** The API's settings that come straight from the core configuration, the same in every process that serves it. */
export function apiSettingsFrom(
  core: Pick<CoreConfig, 'apiKeys' | 'amountMajorMax' | 'bodyBytesMax' | 'rateLimitPerMinute' | 'addressRateLimitPerMinute' | 'authFailureLimitPerMinute' | 'trustProxy'>,
) {
  return {
    apiKeys: core.apiKeys,
    amountMajorMax: core.amountMajorMax,
    bodyBytesMax: core.bodyBytesMax,
    rateLimitPerMinute: core.rateLimitPerMinute,
    addressRateLimitPerMinute: core.addressRateLimitPerMinute,
    authFailureLimitPerMinute: core.authFailureLimitPerMinute,
    ...(core.trustProxy === undefined ? {} : { trustProxy: core.trustProxy }),
  };
}

export function createApiServer(options: ApiServerOptions): ApiServer {
  const apiKeys = acceptedApiKeys(options.apiKeys);
  const now = options.now ?? (() => new Date());
  const registry = createOpenApiRegistry();
  // Checked even when the caller built the payments module: a client key without a listed tenant refuses start-up.
  const tenants = tenantDirectoryFor(options.tenants, apiKeys);
  const cacheEntries = options.retryCacheEntriesMax ?? RETRY_CACHE_ENTRIES_DEFAULT;
  const retryCache =
    options.payments || cacheEntries === 0
      ? undefined
      : new StreamStateCache({ store: options.store, fold: paymentDecider, streamPrefix: PAYMENT_STREAM_PREFIX, entriesMax: cacheEntries, logger: options.logger });
  const payments = options.payments ?? createPaymentsModule({ store: options.store, tenants, ...(retryCache ? { retryCache } : {}) });
  const idempotency = options.idempotency ?? createIdempotencyRecords({ store: options.store });
  const extra = options.extraRouters?.({ registry, payments, idempotency }) ?? {};
  const checks = new Map<string, ReadinessCheck>([
    ['eventStore', async () => (await options.store.ping(), { healthy: true })],
    ...(options.readinessChecks ?? new Map()),
  ]);
  const app = createApp({
    logger: options.logger,
    authenticator: createAuthenticator(apiKeys),
    bodyBytesMax: options.bodyBytesMax,
    rateLimitPerMinute: options.rateLimitPerMinute ?? 0,
    addressRateLimitPerMinute: options.addressRateLimitPerMinute ?? 0,
    authFailureLimitPerMinute: options.authFailureLimitPerMinute ?? 0,
    trustProxy: options.trustProxy ?? false,
    registry,
    readinessChecks: checks,
    routers: [
      createPaymentsRouter({ payments, idempotency, amountMajorMax: options.amountMajorMax, now, registry }),
      createRefundsRouter({ refunds: createRefundsModule({ store: options.store, amountMajorMax: options.amountMajorMax }), now, registry }),
      createMetricsRouter(registry),
      ...(extra.routers ?? []),
    ],
    publicRouters: extra.publicRouters ?? [],
  });
  let server: Server | undefined;
  return {
    app,
    payments,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        retryCache?.start();
        // Host is checked by the app (requireHost), so its 400 is a problem like every other.
        const listening = createServer({ requireHostHeader: false }, app);
        answerClientErrorsAsProblems(listening);
        listening.once('error', reject);
        listening.listen(port, host, () => {
          listening.off('error', reject);
          const address = listening.address() as AddressInfo;
          server = listening;
          resolve({ url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`, server: listening });
        });
        listening.keepAliveTimeout = 65_000;
      }),
    close: () =>
      new Promise<void>((resolve) => {
        if (!server) return resolve();
        const closing = server;
        // In-flight requests get a bounded grace period; a connection still busy after it
        // (a client that never finished sending, say) must not hold the process open.
        const force = setTimeout(() => closing.closeAllConnections(), CLOSE_GRACE_MS);
        force.unref();
        closing.close(() => {
          clearTimeout(force);
          void (retryCache?.stop() ?? Promise.resolve()).then(resolve, resolve);
        });
        closing.closeIdleConnections();
      }),
  };
}
