/**
 * Opens the configured event store and the SQL database that holds read models
 * and the gateway's work queue. With the embedded default and PostgreSQL they are
 * one database (so a projection's batch and checkpoint commit together with no
 * distributed transaction); with EventStoreDB, read models live in PostgreSQL.
 * A wrong or unreachable store fails here, at start-up, never at the first request.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CoreConfig } from '../config/core';
import { PgliteDatabase, PostgresDatabase, type Database } from '../db/database';
import type { Logger } from '../logging';
import type { EventStore } from './port';
import { SqlEventStore } from './sql/sql-event-store';
import { EventStoreDbEventStore } from './eventstoredb/eventstoredb-event-store';

export interface OpenedStores {
  readonly store: EventStore;
  readonly database: Database;
  close(): Promise<void>;
}

export type StoreConfig = Pick<CoreConfig, 'eventStore' | 'dataDir' | 'databaseUrl' | 'databaseSchema' | 'eventStoreUrl'>;

export async function openStores(config: StoreConfig, logger: Logger): Promise<OpenedStores> {
  const database = await openDatabase(config);
  try {
    const store = await openEventStore(config, database);
    logger.info({ eventStore: config.eventStore, readModels: database.engine }, 'event store opened');
    return {
      store,
      database,
      close: async () => {
        await store.close();
        await database.close();
      },
    };
  } catch (error) {
    await database.close().catch(() => undefined);
    throw error;
  }
}

async function openDatabase(config: StoreConfig): Promise<Database> {
  if (config.eventStore === 'pglite') {
    const dir = resolve(config.dataDir, 'paystream');
    mkdirSync(dir, { recursive: true });
    return PgliteDatabase.open(dir);
  }
  if (!config.databaseUrl) throw new Error('DATABASE_URL is required');
  const database = await PostgresDatabase.open({ connectionString: config.databaseUrl, schema: config.databaseSchema });
  await database.query('SELECT 1').catch((error: unknown) => {
    throw new Error(`PostgreSQL at DATABASE_URL is unreachable: ${String(error)}`);
  });
  return database;
}

async function openEventStore(config: StoreConfig, database: Database): Promise<EventStore> {
  if (config.eventStore !== 'eventstoredb') return SqlEventStore.open(database);
  if (!config.eventStoreUrl) throw new Error('EVENTSTORE_URL is required');
  return EventStoreDbEventStore.connect(config.eventStoreUrl, { timeoutMs: 10_000 });
}

export const embeddedDataDir = (dataDir: string, name: string) => join(resolve(dataDir), name);
