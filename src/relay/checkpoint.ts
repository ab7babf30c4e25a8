/**
 * The relay's durable checkpoint: the log position of the last event known to
 * be on the JetStream stream, one row per stream name (tests and deployments
 * with several streams keep theirs apart). Written only after the ack of every
 * event up to it, so it can lag the stream (a crash between ack and write) but
 * never run ahead of it; the relay closes such a gap from the stream's own
 * last message before it publishes again (see relay.ts).
 */
import type { Database, SqlClient } from '../db/database';
import { runMigrations, type Migration } from '../db/migrations';
import { START, type GlobalPosition } from '../event-store/port';

export const RELAY_CHECKPOINT_TABLE = 'relay_checkpoints';

/** Append-only (see runMigrations). */
export const RELAY_MIGRATIONS: readonly Migration[] = [
  `CREATE TABLE ${RELAY_CHECKPOINT_TABLE} (
     name text PRIMARY KEY,
     position_commit bigint NOT NULL,
     position_prepare bigint NOT NULL,
     stream_sequence bigint NOT NULL DEFAULT 0,
     updated_at timestamptz NOT NULL DEFAULT now())`,
];

export interface RelayCheckpoint {
  readonly position: GlobalPosition;
  /** The stream sequence of the message of the event at `position` (0: none yet). */
  readonly streamSequence: number;
  readonly updatedAt: Date;
}

export async function migrateRelay(database: Database): Promise<void> {
  await runMigrations(database, 'relay', RELAY_MIGRATIONS);
}

export async function readRelayCheckpoint(client: SqlClient, name: string): Promise<RelayCheckpoint> {
  const result = await client.query<Record<string, unknown>>(
    `SELECT position_commit::text AS c, position_prepare::text AS p, stream_sequence::text AS s, updated_at
       FROM ${RELAY_CHECKPOINT_TABLE} WHERE name = $1`,
    [name],
  );
  const row = result.rows[0];
  if (!row) return { position: START, streamSequence: 0, updatedAt: new Date(0) };
  return {
    position: { commit: BigInt(String(row['c'])), prepare: BigInt(String(row['p'])) },
    streamSequence: Number(row['s']),
    updatedAt: row['updated_at'] instanceof Date ? row['updated_at'] : new Date(String(row['updated_at'])),
  };
}

/**
 * Moves the checkpoint forward only: a slower relay process (two may run during
 * a deployment) never moves it back over a faster one's.
 */
export async function advanceRelayCheckpoint(client: SqlClient, name: string, position: GlobalPosition, streamSequence: number): Promise<void> {
  await client.query(
    `INSERT INTO ${RELAY_CHECKPOINT_TABLE} AS c (name, position_commit, position_prepare, stream_sequence)
       VALUES ($1, $2, $3, $4)
     ON CONFLICT (name) DO UPDATE SET position_commit = EXCLUDED.position_commit, position_prepare = EXCLUDED.position_prepare,
       stream_sequence = EXCLUDED.stream_sequence, updated_at = now()
     WHERE (c.position_commit, c.position_prepare) < (EXCLUDED.position_commit, EXCLUDED.position_prepare)`,
    [name, position.commit.toString(), position.prepare.toString(), streamSequence],
  );
}
