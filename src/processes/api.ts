/** The API process: payments, operator and analyst routes and the dashboard over the configured store. */
import { readGatewayConfig } from '../bank-gateway/config';
import { createOperatorBankAccess } from '../bank-gateway/module';
import { loadConfig, readCoreConfig } from '../config';
import { readTenantsConfig, tenantDirectoryFor } from '../config/tenants';
import { openStores } from '../event-store/open';
import { acceptedApiKeys } from '../http/auth';
import { createApiModule } from '../http/module';
import { createReadModelAccess } from '../projections/module';
import { runProcess } from './run';

void runProcess('paystream-api', async (logger, parts) => {
  // The gateway section names the bank an operator's retry looks a transfer up at.
  const { core, gateway, tenants } = loadConfig({ core: readCoreConfig, gateway: readGatewayConfig, tenants: readTenantsConfig });
  // Refused before anything opens: a server store without API_KEYS, or a client key whose tenant
  // has no registered debit accounts, never gets as far as a connection.
  tenantDirectoryFor(tenants, acceptedApiKeys(core.apiKeys));
  const { store, database } = parts.closeOnStop(await openStores(core, logger));
  const readModels = createReadModelAccess({ store, database });
  const bankAccess = createOperatorBankAccess({ config: gateway, database, logger });
  await parts.start(createApiModule({ core, tenants, store, readModels, bankAccess, logger }));
});
