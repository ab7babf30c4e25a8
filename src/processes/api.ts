/** The API process: payments, operator and analyst routes and the dashboard over the configured store; API_WORKERS processes on the server stores. */
import { readGatewayConfig } from '../bank-gateway/config';
import { createOperatorBankAccess } from '../bank-gateway/module';
import { loadConfig, readCoreConfig } from '../config';
import { readTenantsConfig, tenantDirectoryFor } from '../config/tenants';
import { openStores } from '../event-store/open';
import { acceptedApiKeys } from '../http/auth';
import { createApiModule } from '../http/module';
import { createReadModelAccess } from '../projections/module';
import { apiWorkerCount, perWorkerShare, runClustered } from './cluster';
import { runProcess } from './run';

/** The configuration, refused before anything opens: also a server store without API_KEYS, or a client key whose tenant has no registered debit accounts. */
function readApiConfig() {
  // The gateway section names the bank an operator's retry looks a transfer up at.
  const config = loadConfig({ core: readCoreConfig, gateway: readGatewayConfig, tenants: readTenantsConfig });
  tenantDirectoryFor(config.tenants, acceptedApiKeys(config.core.apiKeys));
  return config;
}

// A configuration the API refuses is refused by one process, exactly as without workers.
const workers = (() => {
  try {
    const { core } = readApiConfig();
    return apiWorkerCount(core.apiWorkers, core.eventStore);
  } catch {
    return 1;
  }
})();

runClustered('paystream-api', workers, () =>
  void runProcess('paystream-api', async (logger, parts) => {
    const { core: configured, gateway, tenants } = readApiConfig();
    const core = { ...configured, rateLimitPerMinute: perWorkerShare(configured.rateLimitPerMinute, workers), opsActionLimitPerHour: perWorkerShare(configured.opsActionLimitPerHour, workers) };
    const { store, database } = parts.closeOnStop(await openStores(core, logger));
    const readModels = createReadModelAccess({ store, database });
    const bankAccess = createOperatorBankAccess({ config: gateway, database, logger });
    await parts.start(createApiModule({ core, tenants, store, readModels, bankAccess, logger }));
  }),
);
