/**
 * The projector process: follows the log into the read models. Serves only
 * /health/live and /health/ready (with each projection's lag) for the platform.
 */
import type { Server } from 'node:http';
import express from 'express';
import { loadConfig, readCoreConfig } from '../config';
import { openStores } from '../event-store/open';
import { createHealthRouter, type ReadinessCheck } from '../http/health';
import { readProjectorConfig } from '../projections/config';
import { createProjector } from '../projections/projector';
import { runProcess } from './run';

void runProcess('paystream-projector', async (logger) => {
  const { core, projector: config } = loadConfig({ core: readCoreConfig, projector: readProjectorConfig });
  const stores = await openStores(core, logger);
  const projector = createProjector({
    database: stores.database,
    store: stores.store,
    logger,
    limits: { batchSizeMax: config.batchSizeMax, pollIntervalMs: config.pollIntervalMs },
    lagLogIntervalMs: config.lagLogIntervalMs,
  });
  await projector.start();
  const health = express().use(
    createHealthRouter(new Map<string, ReadinessCheck>([['eventStore', async () => (await stores.store.ping(), { healthy: true })], ['projections', projector.readiness]])),
  );
  const server = await new Promise<Server>((resolve) => {
    const listening = health.listen(config.healthPort, core.host, () => resolve(listening));
  });
  logger.info({ address: server.address() }, 'projector health endpoints listening');
  return async () => {
    server.close();
    await projector.stop();
    await stores.close();
  };
});
