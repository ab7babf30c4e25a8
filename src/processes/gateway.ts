/**
 * The gateway process: follows the payment log and moves money at the bank.
 * Run several against one PostgreSQL database; they share the work. With
 * GATEWAY_HEALTH_PORT set it serves /health/live and /health/ready.
 */
import type { Server } from 'node:http';
import express from 'express';
import { createPaymentsModule } from '../application/payments';
import { readGatewayConfig } from '../bank-gateway/config';
import { composeBankGateway } from '../bank-gateway/compose';
import { loadConfig, readCoreConfig } from '../config';
import { openStores } from '../event-store/open';
import { createHealthRouter, type ReadinessCheck } from '../http/health';
import { runProcess } from './run';

void runProcess('paystream-gateway', async (logger) => {
  const { core, gateway: config } = loadConfig({ core: readCoreConfig, gateway: readGatewayConfig });
  const stores = await openStores(core, logger);
  const payments = createPaymentsModule({ store: stores.store });
  const { gateway } = composeBankGateway({ config, nodeEnv: core.nodeEnv, store: stores.store, database: stores.database, payments, logger });
  await gateway.start();
  let health: Server | undefined;
  if (config.healthPort !== undefined) {
    const checks = new Map<string, ReadinessCheck>([
      ['eventStore', async () => (await stores.store.ping(), { healthy: true })],
      ['gateway', gateway.readiness],
    ]);
    const app = express().use(createHealthRouter(checks));
    health = app.listen(config.healthPort, core.host, () => logger.info({ port: config.healthPort, host: core.host }, 'gateway health endpoint listening'));
  }
  return async () => {
    health?.close();
    await gateway.stop();
    await stores.close();
  };
});
