/** The API process: payments, operator and analyst routes and the dashboard over the configured store. */
import { readGatewayConfig } from '../bank-gateway/config';
import { loadConfig, readCoreConfig } from '../config';
import { openStores } from '../event-store/open';
import { acceptedApiKeys } from '../http/auth';
import { operatorDeskSettingsFrom, prepareStaffRoutes } from '../http/compose';
import { apiSettingsFrom, createApiServer } from '../http/server';
import { runProcess } from './run';

void runProcess('paystream-api', async (logger) => {
  // The gateway section names the bank an operator's retry looks a transfer up at.
  const { core, gateway } = loadConfig({ core: readCoreConfig, gateway: readGatewayConfig });
  // Refused before anything opens: a server store without API_KEYS never gets as far as a connection.
  acceptedApiKeys(core.apiKeys);
  const stores = await openStores(core, logger);
  const extraRouters = await prepareStaffRoutes({ store: stores.store, database: stores.database, gateway, logger, readWaitMsMax: core.readWaitMsMax, operatorDesk: operatorDeskSettingsFrom(core) });
  const api = createApiServer({
    store: stores.store,
    logger,
    ...apiSettingsFrom(core),
    extraRouters,
  });
  const { url } = await api.listen(core.port, core.host);
  logger.info({ url }, 'paystream API listening');
  return async () => {
    await api.close();
    await stores.close();
  };
});
