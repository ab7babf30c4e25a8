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

export const STREAM_REVISION_SQL = prepared(`SELECT max(stream_revision)::text AS revision FROM events WHERE stream_name = $1`);

/**
 * Appends of one or more requests in one statement, so one round trip and one
 * commit each (see docs/adr/0018-one-statement-append.md). `$1` is a JSON array
 * of `{ stream, expected, revision, events: [{ id, type, data, metadata }] }`,
 * one entry per request, each on its own stream. Per request, in one snapshot:
 *
 * - `stored`: the batch's ids already in the log (an idempotent repeat, or a
 *   conflict: decided in TypeScript by `repeatedAppend`);
 * - `head`: the stream's revision now;
 * - the insert, only for a request with no stored id whose expectation holds.
 *
 * Rows come back tagged: `w` a written event, `s` a stored one, `h` a request's
 * head. Rationale for the LATERAL ... OFFSET 0 and the scalar subquery: they keep
 * every lookup a per-request probe of a unique index, whatever row counts the planner guesses for the JSON,
 * so the plan a connection caches on a fresh, empty table stays right when the
 * table is large. Two writers that race for a revision or an event id meet on the
 * unique constraints: the loser's statement fails whole (23505) and is retried
 * under a fresh snapshot, where it sees the winner (sql-event-store.ts).
 */
export const APPEND_SQL = prepared(`WITH request AS (
    SELECT r.ordinality::int AS request, r.value->>'stream' AS stream_name, r.value->>'expected' AS expected,
      (r.value->>'revision')::bigint AS revision, r.value->'events' AS events
    FROM jsonb_array_elements($1::text::jsonb) WITH ORDINALITY AS r(value, ordinality)
  ), batch AS (
    SELECT q.request, q.stream_name, e.ordinality AS ordinal, (e.value->>'id')::uuid AS event_id,
      e.value->>'type' AS event_type, e.value->'data' AS data, e.value->'metadata' AS metadata
    FROM request q CROSS JOIN LATERAL jsonb_array_elements(q.events) WITH ORDINALITY AS e(value, ordinality)
  ), stored AS (
    SELECT b.request, s.*
    FROM batch b CROSS JOIN LATERAL (
      SELECT x.event_id, x.stream_name, x.stream_revision, x.transaction_id, x.global_position
      FROM events x WHERE x.event_id = b.event_id OFFSET 0) s
  ), head AS (
    SELECT q.request, q.expected, q.revision,
      (SELECT x.stream_revision FROM events x WHERE x.stream_name = q.stream_name ORDER BY x.stream_revision DESC LIMIT 1) AS actual
    FROM request q
  ), accepted AS (
    SELECT h.request, coalesce(h.actual + 1, 0) AS first_revision FROM head h
    WHERE NOT EXISTS (SELECT 1 FROM stored s WHERE s.request = h.request)
      AND CASE h.expected WHEN 'any' THEN true WHEN 'no_stream' THEN h.actual IS NULL
        WHEN 'stream_exists' THEN h.actual IS NOT NULL ELSE h.actual = h.revision END
  ), inserted AS (
    INSERT INTO events (stream_name, stream_revision, event_id, event_type, data, metadata)
    SELECT b.stream_name, a.first_revision + b.ordinal - 1, b.event_id, b.event_type, b.data, b.metadata
    FROM batch b JOIN accepted a ON a.request = b.request
    ORDER BY b.request, b.ordinal
    RETURNING stream_name, stream_revision, transaction_id, global_position
  )
  SELECT 'w' AS kind, NULL::int AS request, i.stream_name, i.stream_revision::text AS stream_revision,
    i.transaction_id::text AS transaction_id, i.global_position::text AS global_position, NULL::text AS event_id
  FROM inserted i
  UNION ALL
  SELECT 's', s.request, s.stream_name, s.stream_revision::text, s.transaction_id::text, s.global_position::text, s.event_id::text
  FROM stored s
  UNION ALL
  SELECT 'h', h.request, NULL, h.actual::text, NULL, NULL, NULL FROM head h`);

/** One row of APPEND_SQL's answer; which columns are set depends on `kind`. */
export interface AppendRow {
  readonly kind: 'w' | 's' | 'h';
  readonly request: number | null;
  readonly stream_name: string | null;
  readonly stream_revision: string | null;
  readonly transaction_id: string | null;
  readonly global_position: string | null;
  readonly event_id: string | null;
}

export const NOTIFY_SQL = prepared('SELECT pg_notify($1, $2)');

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

/*
 * The ORDER BY names the table's columns (e.), not the output's: an output column
 * of the same name would win, and text sorts "998" after "1026", so the head
 * would stick at the last id before the transaction ids gained a digit.
 */
export const HEAD_POSITION_SQL = prepared(`SELECT e.transaction_id::text AS transaction_id, e.global_position::text AS global_position
  FROM events e WHERE e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
  ORDER BY e.transaction_id DESC, e.global_position DESC LIMIT 1`);

/** Every committed event, visible to readers yet or not: the newest position any append answered. */
export const LAST_WRITTEN_POSITION_SQL = prepared(`SELECT e.transaction_id::text AS transaction_id, e.global_position::text AS global_position
  FROM events e ORDER BY e.transaction_id DESC, e.global_position DESC LIMIT 1`);

export const RESTORE_CHECK_SQL = `SELECT
  (SELECT e.transaction_id::text FROM events e ORDER BY e.transaction_id DESC LIMIT 1) AS newest,
  pg_snapshot_xmax(pg_current_snapshot())::text AS xmax`;
