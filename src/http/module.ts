/**
 * The API module's factory: payments, operator and analyst routes and the
 * dashboard over the given store. The API process and the all-in-one both serve
 * the API through this, so the routes a client, operator or analyst reaches are
 * the same whichever way paystream runs.
 */
import type { PaymentsModule } from '../application/payments';
import type { OperatorBankAccess } from '../bank-gateway/module';
import type { CoreConfig } from '../config/core';
import type { TenantsSetting } from '../config/tenants';
import type { EventStore } from '../event-store/port';
import type { Logger } from '../logging';
import type { ReadModelAccess } from '../projections/module';
import type { ProcessModule } from '../shared/process-module';
import type { ReadinessChecks } from '../shared/readiness';
import { operatorDeskSettingsFrom, prepareStaffRoutes } from './compose';
import { apiSettingsFrom, createApiServer, type ApiServer } from './server';

export interface ApiModuleOptions {
  readonly core: CoreConfig;
  readonly store: EventStore;
  /** The read models' queries and freshness (createReadModelAccess): the API writes no SQL of its own. */
  readonly readModels: ReadModelAccess;
  /** The work queue and the bank an operator's retry looks a transfer up at (createOperatorBankAccess). */
  readonly bankAccess: OperatorBankAccess;
  readonly logger: Logger;
  /** TENANTS: each tenant's debit accounts and limits; undefined seeds the demo tenants. */
  readonly tenants: TenantsSetting;
  /** Shared with a gateway in the same process; else the API makes its own. */
  readonly payments?: PaymentsModule;
  /** The other parts' checks, served on this API's /health/ready beside the store's. */
  readonly readinessChecks?: ReadinessChecks;
}

export interface ApiModule extends ProcessModule {
  /** Where the started API listens; read after start(). */
  readonly url: string;
}

export function createApiModule(options: ApiModuleOptions): ApiModule {
  const { core, logger } = options;
  let api: ApiServer | undefined;
  let url: string | undefined;
  return {
    async start() {
      const extraRouters = await prepareStaffRoutes({
        store: options.store,
        readModels: options.readModels,
        bankAccess: options.bankAccess,
        logger,
        readWaitMsMax: core.readWaitMsMax,
        operatorDesk: operatorDeskSettingsFrom(core),
      });
      api = createApiServer({
        store: options.store,
        logger,
        ...apiSettingsFrom(core),
        tenants: options.tenants,
        extraRouters,
        ...(options.payments ? { payments: options.payments } : {}),
        ...(options.readinessChecks ? { readinessChecks: options.readinessChecks } : {}),
      });
      ({ url } = await api.listen(core.port, core.host));
      logger.info({ url, dashboard: `${url}/dashboard`, apiDocs: `${url}/docs`, eventStore: core.eventStore }, 'paystream API listening');
    },
    stop: async () => api?.close(),
    readinessChecks: new Map(),
    get url() {
      if (url === undefined) throw new Error('the API is not started');
      return url;
    },
  };
}
