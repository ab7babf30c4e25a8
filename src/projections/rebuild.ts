/**
 * Rebuild by replay: the whole log into fresh shadow tables (`<table>__rebuild`)
 * under their own checkpoint row, while the live tables keep answering queries
 * and the live runner keeps following the log. Near the head, one transaction
 * applies the last page, drops the live tables, renames the shadow ones into
 * their place and moves the live checkpoint to the shadow's position. Readers
 * see the old table or the new one, never a half-built one.
 *
 * The shadow tables get their secondary indexes only when the replay is done
 * (one bulk build instead of row-by-row maintenance), just before the swap.
 *
 * Interrupted, the shadow tables and their checkpoint stay consistent with each
 * other (every batch commits both), so a re-run resumes where it stopped; a
 * changed projection version (or --restart) starts again from an empty shadow.
 * Two rebuilds of one projection at once cannot corrupt it: every batch
 * compares-and-sets the shadow checkpoint, so the slower one fails with
 * CheckpointMovedError (and can simply be run again).
 */
import type { Database, SqlClient } from '../db/database';
import { comparePositions, formatPosition, START, type EventStore, type GlobalPosition, type RecordedEvent } from '../event-store/port';
import type { Logger } from '../logging';
import { CheckpointMovedError, commitBatch, yieldToEventLoop, type BatchTarget } from './batch';
import {
  CHECKPOINT_TABLE,
  createIndexes,
  createTables,
  ensureProjectionSchema,
  insertCheckpoint,
  lockCheckpoint,
  rebuildCheckpointName,
} from './checkpoints';
import { identifier, liveTableNames, shadowTableNames, type Projection } from './projection';

export interface RebuildProgress {
  readonly projection: string;
  readonly eventsApplied: number;
  readonly position: GlobalPosition;
  readonly head: GlobalPosition;
  /** The position the rebuild started from (START, or where a resumed one stood). */
  readonly from: GlobalPosition;
  readonly elapsedMs: number;
}

export interface RebuildOptions {
  readonly database: Database;
  readonly store: EventStore;
  readonly logger: Logger;
  readonly projection: Projection;
  /** Events per read and per committed batch. */
  readonly batchSizeMax?: number;
  /** Drop a rebuild in progress and start from the beginning of the log. */
  readonly restart?: boolean;
  readonly onProgress?: (progress: RebuildProgress) => void;
  /** Aborting stops between batches; the shadow tables stay resumable. */
  readonly signal?: AbortSignal;
}

export interface RebuildResult {
  readonly projection: string;
  readonly resumed: boolean;
  /** Events applied by this run (not counting those of an interrupted earlier run). */
  readonly eventsApplied: number;
  readonly position: GlobalPosition;
  readonly elapsedMs: number;
  readonly eventsPerSecond: number;
}

export class RebuildInterruptedError extends Error {
  override readonly name = 'RebuildInterruptedError';
}

/**
 * Events per read and per committed batch of a rebuild. Rationale: larger than
 * the live runner's, because a rebuild reads a long backlog. Measured on
 * PostgreSQL (bench/projections.ts): 5 000 rebuilds about 1.5 to 2 times as fast
 * as 2 000 (more of a payment's events fall in one batch, so fewer rows are
 * loaded and written per event); the stores page at most 10 000.
 */
export const REBUILD_BATCH_SIZE_MAX = 5_000;

/** Creates the shadow tables and their checkpoint, or finds an interrupted rebuild to resume. */
async function prepareShadow(database: Database, projection: Projection, restart: boolean): Promise<{ position: GlobalPosition; resumed: boolean }> {
  const name = rebuildCheckpointName(projection.name);
  const shadow = shadowTableNames(projection);
  return database.transaction(async (tx) => {
    const existing = await lockCheckpoint(tx, name);
    if (existing && !restart && existing.version === projection.version && existing.status === 'rebuilding') {
      return { position: existing.position, resumed: true };
    }
    await tx.query(`DELETE FROM ${CHECKPOINT_TABLE} WHERE name = $1`, [name]);
    for (const table of projection.tables) await tx.query(`DROP TABLE IF EXISTS ${identifier(shadow[table.name]!)}`);
    await createTables(tx, projection, shadow, false);
    await insertCheckpoint(tx, name, 'rebuilding', projection.version);
    return { position: START, resumed: false };
  });
}

export async function rebuildProjection(options: RebuildOptions): Promise<RebuildResult> {
  const { database, store, projection } = options;
  const batchSizeMax = options.batchSizeMax ?? REBUILD_BATCH_SIZE_MAX;
  const log = options.logger.child({ projection: projection.name, task: 'rebuild' });
  await ensureProjectionSchema(database, [projection]);
  const started = Date.now();
  const prepared = await prepareShadow(database, projection, options.restart ?? false);
  log.info({ resumed: prepared.resumed, from: formatPosition(prepared.position) }, prepared.resumed ? 'resuming rebuild' : 'rebuild started into shadow tables');
  const target: BatchTarget = { projection, tables: shadowTableNames(projection), checkpointName: rebuildCheckpointName(projection.name), expectedStatus: 'rebuilding' };
  const head = await store.headPosition();
  let position = prepared.position;
  let applied = 0;
  const report = () => options.onProgress?.({ projection: projection.name, eventsApplied: applied, position, head, from: prepared.position, elapsedMs: Date.now() - started });
  let page = await store.readAll({ fromPosition: position, limit: batchSizeMax, filter: projection.filter });
  // A full page means there may be more: apply it while the next one is already being read.
  while (page.length === batchSizeMax) {
    await yieldToEventLoop();
    if (options.signal?.aborted) throw new RebuildInterruptedError(`rebuild of ${projection.name} interrupted at ${formatPosition(position)}; run it again to resume`);
    const next = store.readAll({ fromPosition: page[page.length - 1]!.position, limit: batchSizeMax, filter: projection.filter });
    next.catch(() => undefined);
    position = await commitBatch(database, target, position, page);
    applied += page.length;
    report();
    page = await next;
  }
  // The replay is done but for the last page: build the secondary indexes in one go (see TableSpec.indexes).
  await database.transaction((tx) => createIndexes(tx, projection, shadowTableNames(projection)));
  position = await swap(database, projection, position, page);
  applied += page.length;
  report();
  const elapsedMs = Date.now() - started;
  const result = { projection: projection.name, resumed: prepared.resumed, eventsApplied: applied, position, elapsedMs, eventsPerSecond: applied / Math.max(elapsedMs / 1000, 0.001) };
  // Without `projection`: the child logger already carries it (pino would write the key twice).
  log.info({ resumed: result.resumed, eventsApplied: applied, position: formatPosition(position), elapsedMs, eventsPerSecond: Math.round(result.eventsPerSecond) }, 'rebuild swapped in');
  return result;
}

/**
 * The swap, in one transaction: the last page into the shadow tables, the shadow
 * tables into the live names, the live checkpoint to the shadow's position.
 * The live checkpoint row is locked before any table is touched, in the same
 * order the live runner locks, so the two wait for each other instead of deadlocking.
 */
async function swap(database: Database, projection: Projection, expected: GlobalPosition, lastPage: readonly RecordedEvent[]): Promise<GlobalPosition> {
  const rebuildName = rebuildCheckpointName(projection.name);
  return database.transaction(async (tx) => {
    const shadowCheckpoint = await lockCheckpoint(tx, rebuildName);
    if (!shadowCheckpoint || comparePositions(shadowCheckpoint.position, expected) !== 0) {
      throw new CheckpointMovedError(rebuildName, expected, shadowCheckpoint?.position, shadowCheckpoint?.status);
    }
    const live = await lockCheckpoint(tx, projection.name);
    if (!live) throw new Error(`projection ${projection.name} has no live checkpoint`);
    if (lastPage.length > 0) await projection.apply(tx, lastPage, shadowTableNames(projection));
    const position = lastPage.length > 0 ? lastPage[lastPage.length - 1]!.position : expected;
    await renameShadowIntoLive(tx, projection);
    await tx.query(
      `UPDATE ${CHECKPOINT_TABLE} SET position_commit = $2, position_prepare = $3, status = 'running', version = $4,
         events_applied = $5, error = NULL, error_position_commit = NULL, error_position_prepare = NULL,
         error_event_id = NULL, error_event_type = NULL, updated_at = now() WHERE name = $1`,
      [projection.name, position.commit.toString(), position.prepare.toString(), projection.version, shadowCheckpoint.eventsApplied + lastPage.length],
    );
    await tx.query(`DELETE FROM ${CHECKPOINT_TABLE} WHERE name = $1`, [rebuildName]);
    return position;
  });
}

async function renameShadowIntoLive(tx: SqlClient, projection: Projection): Promise<void> {
  const live = liveTableNames(projection);
  const shadow = shadowTableNames(projection);
  for (const table of projection.tables) {
    const liveName = identifier(live[table.name]!);
    const shadowName = identifier(shadow[table.name]!);
    await tx.query(`DROP TABLE IF EXISTS ${liveName}`);
    await tx.query(`ALTER TABLE ${shadowName} RENAME TO ${liveName}`);
    // Index (and so primary key) names follow the table's, so the next rebuild can create its shadow's again.
    const indexes = await tx.query<{ indexname: string }>(
      `SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1`,
      [liveName],
    );
    for (const { indexname } of indexes.rows) {
      if (!indexname.startsWith(shadowName)) continue;
      await tx.query(`ALTER INDEX ${identifier(indexname)} RENAME TO ${identifier(liveName + indexname.slice(shadowName.length))}`);
    }
  }
}

