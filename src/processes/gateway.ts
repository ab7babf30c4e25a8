/**
 * The gateway process: follows the payment log and moves money at the bank.
 * Run several against one PostgreSQL database; they share the work. With
 * GATEWAY_HEALTH_PORT set it serves /health/live and /health/ready.
 */
import { createPaymentsModule } from '../application/payments';
import { readGatewayConfig } from '../bank-gateway/config';
import { createGatewayModule } from '../bank-gateway/module';
import { loadConfig, readCoreConfig } from '../config';
import { openStores } from '../event-store/open';
import { createHealthServerModule } from '../http/health-server';
import { storeReadiness } from '../shared/readiness';
import { runProcess } from './run';

void runProcess('paystream-gateway', async (logger, parts) => {
  const { core, gateway: config } = loadConfig({ core: readCoreConfig, gateway: readGatewayConfig });
  const { store, database } = parts.closeOnStop(await openStores(core, logger));
  const payments = createPaymentsModule({ store });
  const gateway = await parts.start(createGatewayModule({ config, nodeEnv: core.nodeEnv, store, database, payments, logger }));
  if (config.healthPort === undefined) return;
  const checks = new Map([...storeReadiness(store), ...gateway.readinessChecks]);
  await parts.start(createHealthServerModule({ name: 'gateway', checks, port: config.healthPort, host: core.host, logger }));
});
