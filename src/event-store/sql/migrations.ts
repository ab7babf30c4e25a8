/** The event store's tables, applied by the shared runner (src/db/migrations.ts). */
import type { Migration } from '../../db/migrations';

/** The event store's own list. Append only. */
export const EVENT_STORE_MIGRATIONS: readonly Migration[] = [
  [
    `CREATE TABLE events (
       global_position bigserial PRIMARY KEY,
       transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
       stream_name text NOT NULL CHECK (stream_name <> ''),
       stream_revision bigint NOT NULL CHECK (stream_revision >= 0),
       event_id uuid NOT NULL,
       event_type text NOT NULL CHECK (event_type <> ''),
       data jsonb NOT NULL,
       metadata jsonb NOT NULL,
       recorded_at timestamptz NOT NULL DEFAULT now(),
       CONSTRAINT events_event_id_key UNIQUE (event_id),
       CONSTRAINT events_stream_revision_key UNIQUE (stream_name, stream_revision))`,
    // The global read order: every readAll, subscription and head lookup walks it.
    `CREATE INDEX events_transaction_position ON events (transaction_id, global_position)`,
  ],
];
