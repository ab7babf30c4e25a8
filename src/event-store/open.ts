/**
 * Opens the configured event store and the SQL database that holds read models
 * and the gateway's work queue. With the embedded default and PostgreSQL they are
 * one database (so a projection's batch and checkpoint commit together with no
 * distributed transaction); with EventStoreDB, read models live in PostgreSQL.
 * A wrong or unreachable store fails here, at start-up, never at the first request.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CoreConfig } from '../config/core';
import { PgliteDatabase, PostgresDatabase, type Database } from '../db/database';
import type { Logger } from '../logging';
import { instrumentEventStore } from './instrumented';
import type { EventStore } from './port';
import { SqlEventStore } from './sql/sql-event-store';
import { EventStoreDbEventStore } from './eventstoredb/eventstoredb-event-store';

export interface OpenedStores {
  readonly store: EventStore;
  readonly database: Database;
  close(): Promise<void>;
}

export type StoreConfig = Pick<CoreConfig, 'eventStore' | 'dataDir' | 'databaseUrl' | 'databaseSchema' | 'eventStoreUrl'>;

export interface OpenStoresOptions {
  /** How long PostgreSQL may take to answer at start-up before the process gives up. */
  readonly connectTimeoutMs?: number;
}

export const POSTGRES_CONNECT_MS_MAX = 10_000;

export async function openStores(config: StoreConfig, logger: Logger, options: OpenStoresOptions = {}): Promise<OpenedStores> {
  const database = await openDatabase(config, options.connectTimeoutMs ?? POSTGRES_CONNECT_MS_MAX);
  try {
    const store = instrumentEventStore(await openEventStore(config, database));
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

async function openDatabase(config: StoreConfig, connectTimeoutMs: number): Promise<Database> {
  if (config.eventStore === 'pglite') {
    const dir = resolve(config.dataDir, 'paystream');
    mkdirSync(dir, { recursive: true });
    return PgliteDatabase.open(dir);
  }
  if (!config.databaseUrl) throw new Error('DATABASE_URL is required');
  const where = `PostgreSQL at DATABASE_URL (${safeLocation(config.databaseUrl)})`;
  const opening = openPostgres(config.databaseUrl, config.databaseSchema, where);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${where} did not answer within ${connectTimeoutMs} ms`)), connectTimeoutMs);
  });
  try {
    return await Promise.race([opening, deadline]);
  } catch (error) {
    // Given up on: a connection that answers after all must not be left open.
    opening.then((late) => late.close(), () => undefined).catch(() => undefined);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Opens the pool and proves the server answers; every failure names DATABASE_URL (never its credentials). */
async function openPostgres(connectionString: string, schema: string, where: string): Promise<Database> {
  let database: Database | undefined;
  try {
    // open() itself talks to the server when the schema is not public (CREATE SCHEMA IF NOT EXISTS).
    database = await PostgresDatabase.open({ connectionString, schema });
    await database.query('SELECT 1');
    return database;
  } catch (error) {
    await database?.close().catch(() => undefined);
    throw new Error(`${where} is unreachable: ${describeError(error)}`, { cause: error });
  }
}

/** host:port/database of a connection string, without user or password. */
function safeLocation(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    return `${url.hostname}:${url.port || '5432'}${url.pathname}`;
  } catch {
    return 'unparsable connection string';
  }
}

/** A refused connection to a name with several addresses is an AggregateError whose own message is empty. */
function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return error.errors.map(describeError).join('; ');
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

async function openEventStore(config: StoreConfig, database: Database): Promise<EventStore> {
  if (config.eventStore !== 'eventstoredb') return SqlEventStore.open(database);
  if (!config.eventStoreUrl) throw new Error('EVENTSTORE_URL is required');
  return EventStoreDbEventStore.connect(config.eventStoreUrl, { timeoutMs: 10_000 });
}
