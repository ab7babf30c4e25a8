/**
 * Real databases for tests: an in-memory PGlite, or a fresh schema on the server
 * PostgreSQL found by global setup. Every suite gets its own schema, so parallel
 * workers and repeated runs never see each other's rows.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PgliteDatabase, PostgresDatabase, type Database } from '../../src/db/database';
import { ENV_ESDB_SKIP, ENV_ESDB_URL, ENV_PG_SKIP, ENV_PG_URL } from './external-services';

export interface ServerPostgres {
  readonly url: string;
  readonly schema: string;
}

export function serverPostgresUrl(): string | undefined {
  return process.env[ENV_PG_URL];
}

export function serverPostgresSkipReason(): string {
  return process.env[ENV_PG_SKIP] ?? 'server PostgreSQL not found';
}

/** The EventStoreDB the run found (EVENTSTORE_URL or a testcontainers container), if any. */
export function eventStoreDbUrl(): string | undefined {
  return process.env[ENV_ESDB_URL];
}

export function eventStoreDbSkipReason(): string {
  return process.env[ENV_ESDB_SKIP] ?? 'EventStoreDB not found';
}

export function uniqueSchemaName(prefix = 't'): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

/** A fresh schema on the server PostgreSQL; `drop()` removes it and everything in it. */
export async function createTestSchema(): Promise<ServerPostgres & { drop(): Promise<void> }> {
  const url = serverPostgresUrl();
  if (!url) throw new Error(`server PostgreSQL unavailable: ${serverPostgresSkipReason()}`);
  const schema = uniqueSchemaName();
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  return {
    url,
    schema,
    drop: async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    },
  };
}

export type EngineName = 'pglite' | 'postgres';

/**
 * The engines every SQL-backed suite runs on: PGlite always, server PostgreSQL
 * when found. Without one, the postgres variant does not silently disappear:
 * the calling file gets a skipped test naming the reason (the totals reporter
 * lists it with the file), and a console warning.
 */
export function sqlEngines(): EngineName[] {
  if (serverPostgresUrl()) return ['pglite', 'postgres'];
  const reason = serverPostgresSkipReason();
  console.warn(`[paystream tests] SKIPPED: a suite's server PostgreSQL variant: ${reason}`);
  describe.skip(`on postgres: SKIPPED (${reason})`, () => {
    it('the server PostgreSQL variant of this suite', () => undefined);
  });
  return ['pglite'];
}

/** Opens a fresh, empty database on the named engine. */
export async function openTestDatabase(engine: EngineName): Promise<Database & { dispose(): Promise<void> }> {
  if (engine === 'pglite') {
    const database = await PgliteDatabase.open();
    return Object.assign(database, { dispose: () => database.close() });
  }
  const schema = await createTestSchema();
  const database = await PostgresDatabase.open({ connectionString: schema.url, schema: schema.schema });
  return Object.assign(database, {
    dispose: async () => {
      await database.close();
      await schema.drop();
    },
  });
}
