/**
 * One checkpoint row per projection (and one per rebuild in progress): where in
 * the log its tables are, whether it runs, and why it stopped. The row is updated
 * in the same transaction as the tables it describes, and every writer locks it
 * and compares positions first, so two processes (or a rebuild and the live
 * runner) can never apply the same batch twice.
 */
import type { Database, SqlClient } from '../db/database';
import { runMigrations, type Migration } from '../db/migrations';
import { START, type GlobalPosition } from '../event-store/port';
import { identifier, liveTableNames, type Projection } from './projection';

export const CHECKPOINT_TABLE = 'projection_checkpoints';
export const SKIPPED_EVENTS_TABLE = 'projection_skipped_events';

export type CheckpointStatus = 'running' | 'stopped' | 'rebuilding';

export interface Checkpoint {
  readonly name: string;
  readonly position: GlobalPosition;
  readonly status: CheckpointStatus;
  readonly version: number;
  readonly eventsApplied: number;
  readonly error: string | null;
  readonly errorPosition: GlobalPosition | null;
  readonly errorEventId: string | null;
  readonly errorEventType: string | null;
  readonly updatedAt: Date;
}

/** The checkpoint row of a rebuild of `name`: lives beside the live one until the swap. */
export const rebuildCheckpointName = (name: string) => `${name}#rebuild`;

/**
 * Serialises the creation of read-model tables across processes starting at once.
 * Per schema, like the migrations' lock, so test schemas do not queue behind each other.
 */
const SCHEMA_LOCK_SQL = `SELECT pg_advisory_xact_lock(hashtextextended('paystream.projections:' || current_schema(), 1729))`;

/** Append-only (see runMigrations): a change to these tables is a new entry. */
export const PROJECTION_MIGRATIONS: readonly Migration[] = [[
  `CREATE TABLE ${CHECKPOINT_TABLE} (
     name text PRIMARY KEY,
     position_commit bigint NOT NULL,
     position_prepare bigint NOT NULL,
     status text NOT NULL CHECK (status IN ('running', 'stopped', 'rebuilding')),
     version integer NOT NULL,
     events_applied bigint NOT NULL DEFAULT 0,
     error text,
     error_position_commit bigint,
     error_position_prepare bigint,
     error_event_id text,
     error_event_type text,
     updated_at timestamptz NOT NULL DEFAULT now())`,
  `CREATE TABLE ${SKIPPED_EVENTS_TABLE} (
     name text NOT NULL,
     position_commit bigint NOT NULL,
     position_prepare bigint NOT NULL,
     event_id text,
     event_type text,
     error text,
     skipped_by text NOT NULL,
     skipped_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (name, position_commit, position_prepare))`,
]];

const SELECT_COLUMNS = `name, position_commit::text AS position_commit, position_prepare::text AS position_prepare, status, version,
  events_applied::text AS events_applied, error, error_position_commit::text AS error_position_commit,
  error_position_prepare::text AS error_position_prepare, error_event_id, error_event_type, updated_at`;

function checkpointFromRow(row: Record<string, unknown>): Checkpoint {
  const errorCommit = row['error_position_commit'];
  return {
    name: String(row['name']),
    position: { commit: BigInt(String(row['position_commit'])), prepare: BigInt(String(row['position_prepare'])) },
    status: String(row['status']) as CheckpointStatus,
    version: Number(row['version']),
    eventsApplied: Number(row['events_applied']),
    error: (row['error'] as string | null) ?? null,
    errorPosition: errorCommit === null || errorCommit === undefined ? null : { commit: BigInt(String(errorCommit)), prepare: BigInt(String(row['error_position_prepare'])) },
    errorEventId: (row['error_event_id'] as string | null) ?? null,
    errorEventType: (row['error_event_type'] as string | null) ?? null,
    updatedAt: row['updated_at'] instanceof Date ? row['updated_at'] : new Date(String(row['updated_at'])),
  };
}

export async function readCheckpoint(client: SqlClient, name: string): Promise<Checkpoint | undefined> {
  const result = await client.query<Record<string, unknown>>(`SELECT ${SELECT_COLUMNS} FROM ${CHECKPOINT_TABLE} WHERE name = $1`, [name]);
  return result.rows[0] && checkpointFromRow(result.rows[0]);
}

/** Reads and row-locks the checkpoint until the end of `tx`. */
export async function lockCheckpoint(tx: SqlClient, name: string): Promise<Checkpoint | undefined> {
  const result = await tx.query<Record<string, unknown>>(`SELECT ${SELECT_COLUMNS} FROM ${CHECKPOINT_TABLE} WHERE name = $1 FOR UPDATE`, [name]);
  return result.rows[0] && checkpointFromRow(result.rows[0]);
}

export async function listCheckpoints(client: SqlClient): Promise<Checkpoint[]> {
  const result = await client.query<Record<string, unknown>>(`SELECT ${SELECT_COLUMNS} FROM ${CHECKPOINT_TABLE} ORDER BY name`);
  return result.rows.map(checkpointFromRow);
}

export async function advanceCheckpoint(tx: SqlClient, name: string, position: GlobalPosition, appliedCount: number): Promise<void> {
  await tx.query(
    `UPDATE ${CHECKPOINT_TABLE} SET position_commit = $2, position_prepare = $3, events_applied = events_applied + $4, updated_at = now() WHERE name = $1`,
    [name, position.commit.toString(), position.prepare.toString(), appliedCount],
  );
}

export interface StopDetails {
  readonly error: string;
  readonly position: GlobalPosition;
  readonly eventId: string;
  readonly eventType: string;
}

export async function markStopped(tx: SqlClient, name: string, details: StopDetails): Promise<void> {
  await tx.query(
    `UPDATE ${CHECKPOINT_TABLE} SET status = 'stopped', error = $2, error_position_commit = $3, error_position_prepare = $4,
       error_event_id = $5, error_event_type = $6, updated_at = now() WHERE name = $1`,
    [name, details.error, details.position.commit.toString(), details.position.prepare.toString(), details.eventId, details.eventType],
  );
}

/** Back to running from where it stopped, errors cleared (after a fix, or after a skip moved the position). */
export async function markRunning(tx: SqlClient, name: string, position?: GlobalPosition): Promise<void> {
  await tx.query(
    `UPDATE ${CHECKPOINT_TABLE} SET status = 'running', error = NULL, error_position_commit = NULL, error_position_prepare = NULL,
       error_event_id = NULL, error_event_type = NULL, updated_at = now(),
       position_commit = COALESCE($2::bigint, position_commit), position_prepare = COALESCE($3::bigint, position_prepare)
     WHERE name = $1`,
    [name, position?.commit.toString() ?? null, position?.prepare.toString() ?? null],
  );
}

export async function insertCheckpoint(tx: SqlClient, name: string, status: CheckpointStatus, version: number, position: GlobalPosition = START): Promise<void> {
  await tx.query(
    `INSERT INTO ${CHECKPOINT_TABLE} (name, position_commit, position_prepare, status, version) VALUES ($1, $2, $3, $4, $5)`,
    [name, position.commit.toString(), position.prepare.toString(), status, version],
  );
}

/** Creates the projection's tables under `names`, with their secondary indexes unless `withIndexes` is false. */
export async function createTables(tx: SqlClient, projection: Projection, names: Readonly<Record<string, string>>, withIndexes = true): Promise<void> {
  for (const table of projection.tables) {
    for (const statement of table.create(identifier(names[table.name] ?? table.name))) await tx.query(statement);
  }
  if (withIndexes) await createIndexes(tx, projection, names);
}

export async function createIndexes(tx: SqlClient, projection: Projection, names: Readonly<Record<string, string>>): Promise<void> {
  for (const table of projection.tables) {
    for (const statement of table.indexes?.(identifier(names[table.name] ?? table.name)) ?? []) await tx.query(statement);
  }
}

/**
 * Creates the checkpoint tables, and for each projection without a checkpoint its
 * live tables and a checkpoint at the start of the log. Tables left behind without
 * a checkpoint hold rows from an unknown position, so they are dropped first.
 */
export async function ensureProjectionSchema(database: Database, projections: readonly Projection[]): Promise<void> {
  await runMigrations(database, 'projections', PROJECTION_MIGRATIONS);
  await database.transaction(async (tx) => {
    await tx.query(SCHEMA_LOCK_SQL);
    for (const projection of projections) {
      if (await readCheckpoint(tx, projection.name)) continue;
      for (const table of projection.tables) await tx.query(`DROP TABLE IF EXISTS ${identifier(table.name)}`);
      await createTables(tx, projection, liveTableNames(projection));
      await insertCheckpoint(tx, projection.name, 'running', projection.version);
    }
  });
}
