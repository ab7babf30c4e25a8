/**
 * The SQL the store runs and the mapping of its rows, kept in one place so that
 * the column list and the conversions cannot drift apart.
 *
 * Rationale for `::text` on every bigint and xid8: PGlite and `pg` return int8
 * differently (number vs string), and a JS number loses precision past 2^53.
 * Text on the wire and BigInt in TypeScript is exact on both engines.
 */
import { prepared } from '../../db/database';
import type { GlobalPosition, JsonObject, RecordedEvent } from '../port';

export const EVENT_COLUMNS = `e.global_position::text AS global_position, e.transaction_id::text AS transaction_id,
  e.stream_name, e.stream_revision::text AS stream_revision, e.event_id::text AS event_id, e.event_type,
  e.data, e.metadata, e.recorded_at`;

export interface EventRow {
  readonly global_position: string;
  readonly transaction_id: string;
  readonly stream_name: string;
  readonly stream_revision: string;
  readonly event_id: string;
  readonly event_type: string;
  readonly data: JsonObject;
  readonly metadata: JsonObject;
  readonly recorded_at: Date | string;
}

export function eventFromRow(row: EventRow): RecordedEvent {
  return {
    id: row.event_id,
    type: row.event_type,
    data: row.data,
    metadata: row.metadata,
    streamName: row.stream_name,
    revision: Number(row.stream_revision),
    position: positionFromText(row.transaction_id, row.global_position),
    recordedAt: row.recorded_at instanceof Date ? row.recorded_at : new Date(row.recorded_at),
  };
}

export function positionFromText(transactionId: string, globalPosition: string): GlobalPosition {
  return { commit: BigInt(transactionId), prepare: BigInt(globalPosition) };
}

/**
 * Parameters for "strictly after `position`" in (transaction_id, global_position)
 * order. START (commit -1) cannot be cast to xid8, so it becomes (0, -1), which
 * precedes every stored row: real transaction ids start at 3.
 */
export function afterParams(position: GlobalPosition): [string, string] {
  if (position.commit < 0n) return ['0', '-1'];
  return [position.commit.toString(), position.prepare.toString()];
}

/**
 * Serializes appends per stream. Rationale: an advisory lock takes no
 * transaction id, so the writer's xid (its place in the global order) is
 * assigned at its first insert, after the previous append to the stream has
 * committed. The global order therefore always agrees with each stream's order.
 * Different streams hash to different keys and never wait for each other (a
 * 64-bit collision would only make two streams queue, never break anything).
 */
export const LOCK_STREAM_SQL = prepared(`SELECT pg_advisory_xact_lock(hashtextextended($1, 90210))`);

export const STREAM_REVISION_SQL = prepared(`SELECT max(stream_revision)::text AS revision FROM events WHERE stream_name = $1`);

export const EXISTING_EVENTS_SQL = prepared(`SELECT ${EVENT_COLUMNS} FROM events e WHERE e.event_id = ANY($1::uuid[])`);

/** One statement for the whole batch: positions are taken in batch order. */
export const INSERT_EVENTS_SQL = prepared(`INSERT INTO events (stream_name, stream_revision, event_id, event_type, data, metadata)
  SELECT $1, $2::bigint + b.ordinal - 1, (b.event->>'id')::uuid, b.event->>'type', b.event->'data', b.event->'metadata'
  FROM jsonb_array_elements($3::text::jsonb) WITH ORDINALITY AS b(event, ordinal)
  ORDER BY b.ordinal
  RETURNING global_position::text AS global_position, transaction_id::text AS transaction_id, stream_revision::text AS stream_revision`);

export interface InsertedRow {
  readonly global_position: string;
  readonly transaction_id: string;
  readonly stream_revision: string;
}

export const READ_STREAM_SQL = prepared(`SELECT ${EVENT_COLUMNS} FROM events e
  WHERE e.stream_name = $1 AND e.stream_revision >= $2 ORDER BY e.stream_revision LIMIT $3`);

/**
 * The gap-safe page: rows of transactions older than the snapshot's xmin are
 * final (committed or rolled back), so nothing can appear behind them later.
 * The horizon comes back on every row (and on one null row when the page is
 * empty) because it must come from the same snapshot as the rows.
 */
export function readAllSql(filterSql: string): string {
  return `WITH horizon AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin)
    SELECT h.xmin::text AS horizon, page.* FROM horizon h
    LEFT JOIN LATERAL (
      SELECT ${EVENT_COLUMNS} FROM events e
      WHERE (e.transaction_id, e.global_position) > ($1::text::xid8, $2::bigint)
        AND e.transaction_id < h.xmin ${filterSql}
      ORDER BY e.transaction_id, e.global_position
      LIMIT $3) page ON true
    ORDER BY page.transaction_id::xid8, page.global_position::bigint`;
}

/** `event_id` is null on the single row of an empty page. */
export type PageRow = { readonly horizon: string } & (EventRow | { readonly event_id: null });

export const HEAD_POSITION_SQL = prepared(`SELECT transaction_id::text AS transaction_id, global_position::text AS global_position
  FROM events WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
  ORDER BY transaction_id DESC, global_position DESC LIMIT 1`);

export const RESTORE_CHECK_SQL = `SELECT
  (SELECT transaction_id::text FROM events ORDER BY transaction_id DESC LIMIT 1) AS newest,
  pg_snapshot_xmax(pg_current_snapshot())::text AS xmax`;
