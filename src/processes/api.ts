/** The API process: payments, operator and analyst routes and the dashboard over the configured store. */
import { readGatewayConfig } from '../bank-gateway/config';
import { loadConfig, readCoreConfig } from '../config';
import { openStores } from '../event-store/open';
import { acceptedApiKeys } from '../http/auth';
import { createApiModule } from '../http/module';
import { runProcess } from './run';

void runProcess('paystream-api', async (logger, parts) => {
  // The gateway section names the bank an operator's retry looks a transfer up at.
  const { core, gateway } = loadConfig({ core: readCoreConfig, gateway: readGatewayConfig });
  // Refused before anything opens: a server store without API_KEYS never gets as far as a connection.
  acceptedApiKeys(core.apiKeys);
  const { store, database } = parts.closeOnStop(await openStores(core, logger));
  await parts.start(createApiModule({ core, gateway, store, database, logger }));
});
