/**
 * The real API with the analyst routes and the dashboard, over a real store and
 * a running projector, on port 0: what the analytics and dashboard suites drive.
 */
import { createApiServer } from '../../src/http/server';
import { createAnalyticsRouter } from '../../src/http/analytics/routes';
import { createDashboardRouter } from '../../src/http/dashboard/routes';
import { createProjector, type Projector } from '../../src/projections/projector';
import { createReadModelQueries } from '../../src/projections/read-models/queries';
import { openHarness, type Harness } from '../../src/projections/testing/harness';
import type { EngineName } from './databases';
import { contractFetch } from './openapi-contract';

export interface AnalyticsApi {
  readonly url: string;
  readonly harness: Harness;
  readonly projector: Projector;
  call(path: string, options?: { key?: string; headers?: Record<string, string> }): Promise<Response>;
  /** fetch with the same contract check as `call`. */
  readonly fetch: typeof fetch;
  close(): Promise<void>;
}

export async function startAnalyticsApi(engine: EngineName, options: { readWaitMsMax?: number; startProjector?: boolean } = {}): Promise<AnalyticsApi> {
  const harness = await openHarness(engine);
  const projector = createProjector({ ...harness, limits: { batchSizeMax: 50, pollIntervalMs: 10 } });
  if (options.startProjector ?? true) await projector.start();
  const api = createApiServer({
    store: harness.store,
    logger: harness.logger,
    apiKeys: undefined,
    amountMajorMax: 1_000_000,
    bodyBytesMax: 65_536,
    extraRouters: ({ registry }) => ({
      routers: [createAnalyticsRouter({ queries: createReadModelQueries(harness.database), freshness: projector.freshness, registry, readWaitMsMax: options.readWaitMsMax ?? 2_000 })],
      publicRouters: [createDashboardRouter()],
    }),
  });
  const { url } = await api.listen(0, '127.0.0.1');
  // Every answer is checked against the served OpenAPI document (test/support/openapi-contract.ts).
  const checkedFetch = contractFetch(url);
  return {
    url,
    harness,
    projector,
    fetch: checkedFetch,
    call: (path, callOptions = {}) =>
      checkedFetch(`${url}${path}`, { headers: { ...(callOptions.key ? { authorization: `Bearer ${callOptions.key}` } : {}), ...callOptions.headers } }),
    close: async () => {
      await api.close();
      await projector.stop();
      await harness.close();
    },
  };
}
