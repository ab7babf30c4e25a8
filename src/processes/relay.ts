/**
 * The relay process: publishes every payment event to NATS JetStream, exactly
 * once (docs/integration-events.md). Serves /health/live and /health/ready
 * (lag, last published position) on RELAY_HEALTH_PORT. Needs NATS_URL.
 */
import { loadConfig, readCoreConfig } from '../config';
import { openStores } from '../event-store/open';
import { createHealthServerModule } from '../http/health-server';
import { readRelayConfig } from '../relay/config';
import { createRelayModule } from '../relay/module';
import { storeReadiness } from '../shared/readiness';
import { runProcess } from './run';

void runProcess('paystream-relay', async (logger, parts) => {
  const { core, relay: config } = loadConfig({ core: readCoreConfig, relay: readRelayConfig });
  const { store, database } = parts.closeOnStop(await openStores(core, logger));
  const relay = await parts.start(createRelayModule({ config, nodeEnv: core.nodeEnv, store, database, logger }));
  const checks = new Map([...storeReadiness(store), ...relay.readinessChecks]);
  await parts.start(createHealthServerModule({ name: 'relay', checks, port: config.healthPort, host: core.host, logger }));
});
