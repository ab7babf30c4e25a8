/** `npm start`: the whole service in one process on the embedded store, from the module factories
 * the separate processes (src/processes/*) start; parts stop in reverse order. */
import { createPaymentsModule } from './application/payments';
import { readBankSandboxConfig } from './bank-sandbox/config';
import { createBankSandboxModule } from './bank-sandbox/module';
import { readGatewayConfig } from './bank-gateway/config';
import { createGatewayModule, createOperatorBankAccess } from './bank-gateway/module';
import { loadConfig, readCoreConfig } from './config';
import { readAllInOneConfig } from './config/all-in-one';
import { readTenantsConfig, tenantDirectoryFor } from './config/tenants';
import { openStores } from './event-store/open';
import { acceptedApiKeys } from './http/auth';
import { createApiModule } from './http/module';
import { announceListening } from './processes/welcome';
import { runProcess } from './processes/run';
import { readProjectorConfig } from './projections/config';
import { createProjectorModule, createReadModelAccess } from './projections/module';
import { createRelayModule, readRelayConfig } from './relay/module';

void runProcess('paystream', async (logger, parts) => {
  const config = loadConfig({ core: readCoreConfig, allInOne: readAllInOneConfig, gateway: readGatewayConfig, projector: readProjectorConfig, sandbox: readBankSandboxConfig, relay: readRelayConfig, tenants: readTenantsConfig });
  const { core, allInOne } = config;
  // Refused before anything starts: no API_KEYS on a server store, or a client tenant without TENANTS.
  const tenants = tenantDirectoryFor(config.tenants, acceptedApiKeys(core.apiKeys));
  const bank = allInOne.bankSandboxEnabled ? await parts.start(createBankSandboxModule({ config: config.sandbox, logger: logger.child({ component: 'bank-sandbox' }) })) : undefined;
  // The gateway talks to the sandbox over HTTP like to any bank.
  const gatewayConfig = bank ? { ...config.gateway, bankUrl: bank.url, bankApiKey: bank.apiKey } : config.gateway;
  const { store, database } = parts.closeOnStop(await openStores(core, logger));
  const payments = createPaymentsModule({ store, tenants });
  const projector = config.projector.enabled ? await parts.start(createProjectorModule({ config: config.projector, store, database, logger })) : undefined;
  const gateway = allInOne.gatewayEnabled ? await parts.start(createGatewayModule({ config: gatewayConfig, nodeEnv: core.nodeEnv, store, database, payments, logger: logger.child({ component: 'gateway' }) })) : undefined;
  const relay = config.relay.natsUrl ? await parts.start(createRelayModule({ config: config.relay, nodeEnv: core.nodeEnv, store, database, logger, readinessGates: false })) : undefined;
  const readinessChecks = new Map([projector, gateway, relay].flatMap((part) => [...(part?.readinessChecks ?? [])]));
  const readModels = createReadModelAccess({ store, database, ...(projector ? { freshness: projector.freshness } : {}) });
  const bankAccess = createOperatorBankAccess({ config: gatewayConfig, database, logger });
  const api = await parts.start(createApiModule({ core, tenants: config.tenants, store, readModels, bankAccess, logger, payments, readinessChecks }));
  announceListening(logger, { url: api.url, eventStore: core.eventStore, demoKeys: core.apiKeys === undefined, bankUrl: bank?.url });
});
