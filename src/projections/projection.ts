/**
 * What a projection is: a name, the tables it owns, the events it reads, and one
 * function that applies a batch of events to its tables inside the caller's
 * transaction. The runner and the rebuild drive every projection the same way,
 * so a projection never knows whether it writes its live tables or the shadow
 * tables of a rebuild: it only ever sees physical table names handed to it.
 */
import type { SqlClient } from '../db/database';
import type { EventFilter, RecordedEvent } from '../event-store/port';

/** One table of a read model; `create` makes it (and its indexes) under any physical name. */
export interface TableSpec {
  /** The live name, also the key under which the projection finds the physical name. */
  readonly name: string;
  /** DDL for this table named `physical`, with its primary key (the projection's upserts need it). */
  create(physical: string): readonly string[];
  /**
   * DDL for the secondary indexes, idempotent (IF NOT EXISTS); names must start
   * with `physical` so a swap can rename them. Live tables get them at creation;
   * a rebuild's shadow tables only once the replay is done, because one bulk
   * index build costs far less than maintaining the index row by row.
   */
  indexes?(physical: string): readonly string[];
}

/** Logical table name → physical table name (the live one, or a rebuild's shadow). */
export type TableNames = Readonly<Record<string, string>>;

export interface Projection {
  readonly name: string;
  readonly description: string;
  /**
   * Bumped whenever the tables' shape or the handler's meaning changes: a stored
   * version different from the code's means the read model must be rebuilt.
   */
  readonly version: number;
  readonly tables: readonly TableSpec[];
  /** Only these events are read for the projection (server-side filter). */
  readonly filter: EventFilter;
  /**
   * Applies `events` (in log order, never empty) to the tables named `tables`,
   * through `tx`, which is the batch's transaction. Throwing rolls the whole batch back.
   */
  apply(tx: SqlClient, events: readonly RecordedEvent[], tables: TableNames): Promise<void>;
}

export function liveTableNames(projection: Projection): TableNames {
  return Object.fromEntries(projection.tables.map((table) => [table.name, table.name]));
}

export const SHADOW_SUFFIX = '__rebuild';

export function shadowTableNames(projection: Projection): TableNames {
  return Object.fromEntries(projection.tables.map((table) => [table.name, `${table.name}${SHADOW_SUFFIX}`]));
}

/** Looks a physical name up, failing loudly on a typo rather than writing to the wrong table. */
export function tableName(tables: TableNames, logical: string): string {
  const physical = tables[logical];
  if (physical === undefined) throw new Error(`projection has no table ${logical}`);
  return physical;
}

const IDENTIFIER_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/** Table names are ours, never user input; this guards the string interpolation anyway. */
export function identifier(name: string): string {
  if (!IDENTIFIER_PATTERN.test(name)) throw new Error(`not a safe SQL identifier: ${name}`);
  return name;
}
