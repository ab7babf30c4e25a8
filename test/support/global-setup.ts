import { findExternalServices, ENV_ESDB_SKIP, ENV_ESDB_SOURCE, ENV_PG_SKIP, ENV_PG_SOURCE } from './external-services';

export default async function globalSetup(): Promise<void> {
  const services = await findExternalServices();
  (globalThis as { __paystreamServices?: unknown }).__paystreamServices = services;
  const pg = process.env[ENV_PG_SOURCE] ?? `SKIPPED (${process.env[ENV_PG_SKIP]})`;
  const esdb = process.env[ENV_ESDB_SOURCE] ?? `SKIPPED (${process.env[ENV_ESDB_SKIP]})`;
  process.stdout.write(`\n[paystream tests] server PostgreSQL: ${pg}\n[paystream tests] EventStoreDB: ${esdb}\n`);
}
