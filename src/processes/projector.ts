/**
 * The projector process: follows the log into the read models. Serves only
 * /health/live and /health/ready (with each projection's lag) for the platform.
 */
import { loadConfig, readCoreConfig } from '../config';
import { openStores } from '../event-store/open';
import { createHealthServerModule } from '../http/health-server';
import { readProjectorConfig } from '../projections/config';
import { createProjectorModule } from '../projections/module';
import { storeReadiness } from '../shared/readiness';
import { runProcess } from './run';

void runProcess('paystream-projector', async (logger, parts) => {
  const { core, projector: config } = loadConfig({ core: readCoreConfig, projector: readProjectorConfig });
  const { store, database } = parts.closeOnStop(await openStores(core, logger));
  const projector = await parts.start(createProjectorModule({ config, store, database, logger }));
  const checks = new Map([...storeReadiness(store), ...projector.readinessChecks]);
  await parts.start(createHealthServerModule({ name: 'projector', checks, port: config.healthPort, host: core.host, logger }));
});
