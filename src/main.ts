/**
 * `npm start`: the whole service in one process on the embedded store — the API
 * (with the operator and analyst routes and the dashboard), the bank gateway,
 * the projector and the sandbox bank. Production runs the same parts as
 * separate processes (src/processes/*); this composes them exactly as those do.
 */
import { createPaymentsModule } from './application/payments';
import { startBankSandbox, type BankSandbox } from './bank-sandbox/server';
import { bankSandboxOptionsFrom, readBankSandboxConfig } from './bank-sandbox/config';
import { composeBankGateway, type GatewayParts } from './bank-gateway/compose';
import { readGatewayConfig } from './bank-gateway/config';
import { loadConfig, readCoreConfig } from './config';
import { readAllInOneConfig } from './config/all-in-one';
import { openStores } from './event-store/open';
import { DEMO_API_KEYS } from './http/auth';
import { operatorDeskSettingsFrom, prepareStaffRoutes } from './http/compose';
import type { ReadinessCheck } from './http/health';
import { acceptedApiKeys } from './http/auth';
import { apiSettingsFrom, createApiServer } from './http/server';
import { runProcess } from './processes/run';
import { readProjectorConfig } from './projections/config';
import { createProjector, type Projector } from './projections/projector';

void runProcess('paystream', async (logger) => {
  const config = loadConfig({
    core: readCoreConfig,
    allInOne: readAllInOneConfig,
    gateway: readGatewayConfig,
    projector: readProjectorConfig,
    sandbox: readBankSandboxConfig,
  });
  const { core, allInOne } = config;
  // Refused before anything starts: a server store without API_KEYS never gets as far as a connection.
  acceptedApiKeys(core.apiKeys);
  const stopping: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stopping.reverse()) await stop().catch((error: unknown) => logger.error({ err: error }, 'unclean stop'));
  };
  try {
    let bank: BankSandbox | undefined;
    if (allInOne.bankSandboxEnabled) {
      bank = await startBankSandbox({ ...bankSandboxOptionsFrom(config.sandbox), logger: logger.child({ component: 'bank-sandbox' }) });
      stopping.push(() => bank!.close());
      logger.info({ url: bank.url }, 'sandbox bank listening');
    }
    // The gateway talks to the sandbox over HTTP like to any bank: same client, same contract.
    const gatewayConfig = bank ? { ...config.gateway, bankUrl: bank.url, bankApiKey: bank.apiKey } : config.gateway;

    const stores = await openStores(core, logger);
    stopping.push(() => stores.close());
    const payments = createPaymentsModule({ store: stores.store });
    const checks = new Map<string, ReadinessCheck>();

    let projector: Projector | undefined;
    if (config.projector.enabled) {
      projector = createProjector({
        database: stores.database,
        store: stores.store,
        logger,
        limits: { batchSizeMax: config.projector.batchSizeMax, pollIntervalMs: config.projector.pollIntervalMs },
        lagLogIntervalMs: config.projector.lagLogIntervalMs,
      });
      await projector.start();
      stopping.push(() => projector!.stop());
      checks.set('projections', projector.readiness);
    }

    let gateway: GatewayParts | undefined;
    if (allInOne.gatewayEnabled) {
      gateway = composeBankGateway({ config: gatewayConfig, nodeEnv: core.nodeEnv, store: stores.store, database: stores.database, payments, logger: logger.child({ component: 'gateway' }) });
      await gateway.gateway.start();
      stopping.push(() => gateway!.gateway.stop());
      checks.set('gateway', gateway.gateway.readiness);
    }

    const extraRouters = await prepareStaffRoutes({
      store: stores.store,
      database: stores.database,
      gateway: gatewayConfig,
      logger,
      readWaitMsMax: core.readWaitMsMax,
      operatorDesk: operatorDeskSettingsFrom(core),
      ...(projector ? { freshness: projector.freshness } : {}),
    });
    const api = createApiServer({
      store: stores.store,
      payments,
      logger,
      ...apiSettingsFrom(core),
      extraRouters,
      readinessChecks: checks,
    });
    const { url } = await api.listen(core.port, core.host);
    stopping.push(() => api.close());
    logger.info({ url, dashboard: `${url}/dashboard`, apiDocs: `${url}/docs`, eventStore: core.eventStore }, 'paystream listening');
    printWelcome(url, core.apiKeys === undefined, bank?.url);
  } catch (error) {
    await stopAll();
    throw error;
  }
  return stopAll;
});

/** A human-readable start banner on stderr, so stdout stays one JSON log line per entry. */
function printWelcome(url: string, demoKeys: boolean, bankUrl: string | undefined): void {
  const lines = [
    '',
    `paystream is listening on ${url}`,
    `  API reference  ${url}/docs`,
    `  dashboard      ${url}/dashboard`,
    ...(bankUrl ? [`  sandbox bank   ${bankUrl}`] : []),
  ];
  if (demoKeys) {
    lines.push('', '  demo API keys (development only, never in production):');
    for (const entry of DEMO_API_KEYS) lines.push(`    ${entry.key}  ${entry.role}${entry.tenant ? ` (tenant ${entry.tenant})` : ''}`);
    lines.push('', `  try: curl -X PUT ${url}/payments/inv-1 -H 'Authorization: Bearer ${DEMO_API_KEYS[0]!.key}' -H 'Content-Type: application/json' \\`);
    lines.push(`         -d '{"amount":"125.50","currency":"EUR","debtor":{"name":"Acme Ltd","iban":"DE89370400440532013000"},"creditor":{"name":"Bob","iban":"GB82WEST12345698765432"}}'`);
  }
  process.stderr.write(`${lines.join('\n')}\n\n`);
}
