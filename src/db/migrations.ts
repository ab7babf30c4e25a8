/**
 * Versioned schema migrations over the shared SQL port, for every module that
 * owns tables (the event store, the projections, the gateway's work queue and
 * the sandbox bank, each with its own list). A migration list is append-only:
 * its version is its 1-based index, so never edit or reorder a shipped entry,
 * add a new one instead.
 *
 * Each migration runs in its own transaction together with its row in
 * `schema_migrations`, so it is applied entirely or not at all, and exactly once.
 * Processes that start at the same time serialize on a transaction-scoped
 * advisory lock and the loser finds the work done.
 */
import type { Database, SqlClient } from './database';

/** One SQL statement, or several run in order (the port runs one statement per query). */
export type Migration = string | readonly string[];

export const MIGRATIONS_TABLE = 'schema_migrations';

const LIST_NAME_PATTERN = /^[a-z][a-z0-9_.-]{0,62}$/;

/**
 * Rationale: the key includes the schema so that test schemas on one server do
 * not queue behind each other; the seed keeps us clear of other hashtext users.
 */
const LOCK_SQL = `SELECT pg_advisory_xact_lock(hashtextextended('paystream.migrations:' || current_schema(), 1729))`;

const CREATE_TABLE_SQL = `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
  name text NOT NULL,
  version integer NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, version))`;

/**
 * Applies the migrations of list `name` that are not yet applied, in order.
 * Returns the versions it applied (empty when the schema was already current).
 */
export async function runMigrations(db: Database, name: string, migrations: readonly Migration[]): Promise<number[]> {
  if (!LIST_NAME_PATTERN.test(name)) throw new Error(`invalid migration list name: ${name}`);
  await db.transaction(async (tx) => {
    await tx.query(LOCK_SQL);
    await tx.query(CREATE_TABLE_SQL);
  });
  const applied: number[] = [];
  for (let index = 0; index < migrations.length; index++) {
    const version = index + 1;
    if (await applyOnce(db, name, version, migrations[index]!)) applied.push(version);
  }
  return applied;
}

async function applyOnce(db: Database, name: string, version: number, migration: Migration): Promise<boolean> {
  return db.transaction(async (tx) => {
    await tx.query(LOCK_SQL);
    if (await isApplied(tx, name, version)) return false;
    const statements = typeof migration === 'string' ? [migration] : migration;
    for (const statement of statements) await tx.query(statement);
    await tx.query(`INSERT INTO ${MIGRATIONS_TABLE} (name, version) VALUES ($1, $2)`, [name, version]);
    return true;
  });
}

async function isApplied(tx: SqlClient, name: string, version: number): Promise<boolean> {
  const result = await tx.query(`SELECT 1 FROM ${MIGRATIONS_TABLE} WHERE name = $1 AND version = $2`, [name, version]);
  return result.rows.length > 0;
}

/** The versions of list `name` applied so far, ascending (operators, tests). */
export async function appliedMigrations(db: SqlClient, name: string): Promise<number[]> {
  const result = await db.query<{ version: number }>(
    `SELECT version FROM ${MIGRATIONS_TABLE} WHERE name = $1 ORDER BY version`,
    [name],
  );
  return result.rows.map((row) => Number(row.version));
}
