/**
 * The event store on PostgreSQL and PGlite: one SQL implementation over the
 * shared `Database` port. See docs/event-store.md for the schema, the gap-safe
 * global order, idempotent appends, notifications and the restore check.
 *
 * Ownership: the store does not close the Database it was given, unless opened
 * with `ownsDatabase: true`. Whoever opened the Database closes it, after the
 * store.
 */
import { createHash } from 'node:crypto';
import type { Database, SqlClient } from '../../db/database';
import {
  START,
  WrongExpectedVersionError,
  formatPosition,
  type AllSubscription,
  type AppendOptions,
  type AppendResult,
  type EventData,
  type EventFilter,
  type EventStore,
  type GlobalPosition,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type SubscribeToAllOptions,
} from '../port';
import {
  assertExpectedRevision,
  assertValidAppend,
  assertValidStreamName,
  firstRevision,
  repeatedAppend,
  type ActualRevision,
} from './append-rules';
import { EVENT_STORE_MIGRATIONS, runMigrations } from './migrations';
import {
  EXISTING_EVENTS_SQL,
  HEAD_POSITION_SQL,
  INSERT_EVENTS_SQL,
  LOCK_STREAM_SQL,
  READ_STREAM_SQL,
  RESTORE_CHECK_SQL,
  STREAM_REVISION_SQL,
  afterParams,
  eventFromRow,
  positionFromText,
  readAllSql,
  type EventRow,
  type InsertedRow,
  type PageRow,
} from './rows';
import { PollingSubscription, type Page } from './subscription';

export interface SqlEventStoreOptions {
  /** LISTEN/NOTIFY channel that wakes subscribers. Default: derived from the current schema. */
  readonly channel?: string;
  /** How often a caught-up subscriber polls when no notification comes. Default 250. */
  readonly pollIntervalMs?: number;
  /** Events in one append. Default 1000. */
  readonly eventsPerAppendMax?: number;
  /** Events in one readAll page or subscription batch. Default 10 000. */
  readonly readCountMax?: number;
  /** Events a readStream without maxCount may return before it fails loudly. Default 100 000. */
  readonly streamReadCountMax?: number;
  /** Default subscription batch when the caller gives none. Default 500. */
  readonly batchSizeDefault?: number;
  /** Close the Database in close(). Default false: the caller owns it. */
  readonly ownsDatabase?: boolean;
}

type Settings = Required<Omit<SqlEventStoreOptions, 'channel'>> & { readonly channel: string; readonly streamNameLengthMax: number };

const DEFAULTS = {
  pollIntervalMs: 250,
  eventsPerAppendMax: 1_000,
  readCountMax: 10_000,
  streamReadCountMax: 100_000,
  batchSizeDefault: 500,
  ownsDatabase: false,
  streamNameLengthMax: 1_000,
} as const;

const FILTER_ENTRIES_MAX = 100;
const CHANNEL_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;
const UNIQUE_VIOLATION = '23505';

/** Stored transaction ids lie beyond this cluster's: see docs/event-store.md, "Restore safety". */
export class EventLogFromAnotherClusterError extends Error {
  override readonly name = 'EventLogFromAnotherClusterError';
}

export class SqlEventStore implements EventStore {
  private closed = false;
  private readonly subscriptions = new Set<PollingSubscription>();
  private readonly notifications = new Set<Promise<unknown>>();
  private listening: Promise<(() => Promise<void>) | undefined> | undefined;

  private constructor(
    private readonly db: Database,
    private readonly settings: Settings,
  ) {}

  /** Migrates the schema, refuses a log restored from another cluster, and opens the store. */
  static async open(db: Database, options: SqlEventStoreOptions = {}): Promise<SqlEventStore> {
    await runMigrations(db, 'event-store', EVENT_STORE_MIGRATIONS);
    await assertLogBelongsToCluster(db);
    const channel = options.channel ?? (await defaultChannel(db));
    if (!CHANNEL_PATTERN.test(channel)) throw new Error(`invalid notification channel: ${channel}`);
    const settings: Settings = { ...DEFAULTS, ...withoutUndefined(options), channel };
    assertPositiveLimits(settings);
    return new SqlEventStore(db, settings);
  }

  async appendToStream(stream: string, events: readonly EventData[], options: AppendOptions): Promise<AppendResult> {
    this.assertOpen();
    assertValidAppend(stream, events, options.expectedRevision, this.settings);
    const outcome = await this.appendInTransaction(stream, events, options).catch((error: unknown) =>
      this.conflictFromUniqueViolation(error, stream, options),
    );
    if (outcome.written) this.notify(outcome.result.position);
    return outcome.result;
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    this.assertOpen();
    assertValidStreamName(stream, this.settings.streamNameLengthMax);
    const fromRevision = options.fromRevision ?? 0;
    assertCount('fromRevision', fromRevision, Number.MAX_SAFE_INTEGER);
    if (options.maxCount !== undefined) assertCount('maxCount', options.maxCount, Number.MAX_SAFE_INTEGER);
    const limit = options.maxCount ?? this.settings.streamReadCountMax + 1;
    const result = await this.db.query<EventRow>(READ_STREAM_SQL, [stream, fromRevision, limit]);
    if (options.maxCount === undefined && result.rows.length > this.settings.streamReadCountMax) {
      throw new RangeError(`stream ${stream} holds more than ${this.settings.streamReadCountMax} events: read it in pages with maxCount`);
    }
    return result.rows.map(eventFromRow);
  }

  async readAll(options: ReadAllOptions): Promise<RecordedEvent[]> {
    this.assertOpen();
    assertCount('limit', options.limit, this.settings.readCountMax);
    const page = await this.readPage(options.fromPosition ?? START, options.limit, options.filter);
    return page.events;
  }

  subscribeToAll(options: SubscribeToAllOptions = {}): AllSubscription {
    this.assertOpen();
    const batchSizeMax = options.batchSizeMax ?? Math.min(this.settings.batchSizeDefault, this.settings.readCountMax);
    assertCount('batchSizeMax', batchSizeMax, this.settings.readCountMax);
    if (batchSizeMax === 0) throw new RangeError('batchSizeMax must be at least 1');
    if (options.filter) filterSql(options.filter, 4);
    const subscription = new PollingSubscription({
      readPage: (after, limit, filter) => this.readPage(after, limit, filter),
      fromPosition: options.fromPosition ?? START,
      filter: options.filter,
      batchSizeMax,
      pollIntervalMs: this.settings.pollIntervalMs,
      onClose: (closed) => this.subscriptions.delete(closed),
    });
    this.subscriptions.add(subscription);
    void this.ensureListening();
    return subscription;
  }

  async headPosition(): Promise<GlobalPosition> {
    this.assertOpen();
    const result = await this.db.query<{ transaction_id: string; global_position: string }>(HEAD_POSITION_SQL);
    const row = result.rows[0];
    return row ? positionFromText(row.transaction_id, row.global_position) : START;
  }

  async ping(): Promise<void> {
    this.assertOpen();
    await this.db.query('SELECT 1');
  }

  /** Ends every subscription, stops listening, and closes the Database only when it owns it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((subscription) => subscription.close()));
    await Promise.all([...this.notifications]);
    const unlisten = await this.listening;
    await unlisten?.().catch(() => undefined);
    if (this.settings.ownsDatabase) await this.db.close();
  }

  private async appendInTransaction(stream: string, events: readonly EventData[], options: AppendOptions) {
    return this.db.transaction(async (tx) => {
      await tx.query(LOCK_STREAM_SQL, [stream]);
      const stored = await storedEvents(tx, events);
      if (stored.length > 0) return { written: false, result: await this.repeatOrConflict(tx, stream, events, options, stored) };
      const actual = await streamRevision(tx, stream);
      assertExpectedRevision(stream, options.expectedRevision, actual);
      return { written: true, result: await insertEvents(tx, stream, firstRevision(actual), events) };
    });
  }

  private async repeatOrConflict(
    tx: SqlClient,
    stream: string,
    events: readonly EventData[],
    options: AppendOptions,
    stored: readonly RecordedEvent[],
  ): Promise<AppendResult> {
    const repeat = repeatedAppend(stream, events, options.expectedRevision, stored);
    if (repeat) return repeat;
    throw new WrongExpectedVersionError(stream, options.expectedRevision, await streamRevision(tx, stream));
  }

  /**
   * A unique violation means another writer took an event id (or, if anyone
   * bypassed the stream lock, a revision) first. The caller gets the same error
   * as any other lost race, never a raw database error.
   */
  private async conflictFromUniqueViolation(error: unknown, stream: string, options: AppendOptions): Promise<never> {
    if ((error as { code?: unknown } | null)?.code !== UNIQUE_VIOLATION) throw error;
    throw new WrongExpectedVersionError(stream, options.expectedRevision, await streamRevision(this.db, stream));
  }

  private async readPage(after: GlobalPosition, limit: number, filter: EventFilter | undefined): Promise<Page> {
    const { sql: filterText, params } = filter ? filterSql(filter, 4) : { sql: '', params: [] };
    const result = await this.db.query<PageRow>(readAllSql(filterText), [...afterParams(after), limit, ...params]);
    const events: RecordedEvent[] = [];
    for (const row of result.rows) if (row.event_id !== null) events.push(eventFromRow(row));
    return { events, horizon: BigInt(result.rows[0]!.horizon) };
  }

  /**
   * Rationale: NOTIFY is sent after the commit, not inside the transaction,
   * because a notifying transaction holds a cluster-wide lock while it commits.
   * A lost notification costs one poll interval, nothing more.
   */
  private notify(position: GlobalPosition): void {
    const sent = this.db
      .query('SELECT pg_notify($1, $2)', [this.settings.channel, formatPosition(position)])
      .catch(() => undefined)
      .finally(() => this.notifications.delete(sent));
    this.notifications.add(sent);
    for (const subscription of this.subscriptions) subscription.wake();
  }

  private ensureListening(): Promise<unknown> {
    this.listening ??= this.db
      .listen(this.settings.channel, () => this.subscriptions.forEach((subscription) => subscription.wake()))
      .catch(() => {
        // Polling still delivers everything; try to listen again with the next subscription.
        this.listening = undefined;
        return undefined;
      });
    return this.listening;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the event store is closed');
  }
}

async function storedEvents(tx: SqlClient, events: readonly EventData[]): Promise<RecordedEvent[]> {
  const result = await tx.query<EventRow>(EXISTING_EVENTS_SQL, [events.map((event) => event.id)]);
  return result.rows.map(eventFromRow);
}

async function streamRevision(client: SqlClient, stream: string): Promise<ActualRevision> {
  const result = await client.query<{ revision: string | null }>(STREAM_REVISION_SQL, [stream]);
  const revision = result.rows[0]?.revision ?? null;
  return revision === null ? 'no_stream' : Number(revision);
}

async function insertEvents(tx: SqlClient, stream: string, first: number, events: readonly EventData[]): Promise<AppendResult> {
  const batch = JSON.stringify(events.map(({ id, type, data, metadata }) => ({ id, type, data, metadata })));
  const result = await tx.query<InsertedRow>(INSERT_EVENTS_SQL, [stream, first, batch]);
  const last = result.rows.reduce((a, b) => (BigInt(a.global_position) > BigInt(b.global_position) ? a : b));
  return { nextExpectedRevision: Number(last.stream_revision), position: positionFromText(last.transaction_id, last.global_position) };
}

/**
 * The filter as SQL with numbered parameters from `firstParam`. Prefixes match
 * with starts_with, so `%` and `_` in a prefix are plain characters.
 */
function filterSql(filter: EventFilter, firstParam: number): { sql: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  if (filter.streamPrefixes !== undefined) {
    assertFilterList('streamPrefixes', filter.streamPrefixes);
    params.push([...filter.streamPrefixes]);
    parts.push(`AND EXISTS (SELECT 1 FROM unnest($${firstParam + params.length - 1}::text[]) AS p(prefix) WHERE starts_with(e.stream_name, p.prefix))`);
  }
  if (filter.eventTypes !== undefined) {
    assertFilterList('eventTypes', filter.eventTypes);
    params.push([...filter.eventTypes]);
    parts.push(`AND e.event_type = ANY($${firstParam + params.length - 1}::text[])`);
  }
  return { sql: parts.join(' '), params };
}

function assertFilterList(name: string, list: readonly string[]): void {
  if (list.length === 0 || list.length > FILTER_ENTRIES_MAX) {
    throw new RangeError(`filter ${name} takes 1 to ${FILTER_ENTRIES_MAX} entries (omit it to match everything)`);
  }
  if (list.some((entry) => typeof entry !== 'string' || entry === '')) throw new RangeError(`filter ${name} entries must be non-empty strings`);
}

function assertCount(name: string, value: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) throw new RangeError(`${name} must be an integer from 0 to ${max}, got ${value}`);
}

function assertPositiveLimits(settings: Settings): void {
  for (const key of ['pollIntervalMs', 'eventsPerAppendMax', 'readCountMax', 'streamReadCountMax', 'batchSizeDefault'] as const) {
    const value = settings[key];
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${key} must be a positive integer, got ${value}`);
  }
}

function withoutUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/**
 * One channel per schema, so that test schemas (and tenants sharing a server)
 * do not wake each other. Channel names are identifiers: at most 63 bytes.
 */
async function defaultChannel(db: Database): Promise<string> {
  const result = await db.query<{ schema: string }>('SELECT current_schema() AS schema');
  const channel = `paystream_events_${result.rows[0]!.schema}`;
  if (CHANNEL_PATTERN.test(channel)) return channel;
  return `paystream_events_${createHash('sha256').update(channel).digest('hex').slice(0, 32)}`;
}

/**
 * A logical restore (pg_dump into another cluster) keeps the stored transaction
 * ids but not the cluster's xid counter. Rows whose ids lie beyond the current
 * snapshot would stay invisible to every gap-safe reader, silently, so we refuse
 * to start instead.
 */
async function assertLogBelongsToCluster(db: Database): Promise<void> {
  const result = await db.query<{ newest: string | null; xmax: string }>(RESTORE_CHECK_SQL);
  const row = result.rows[0]!;
  if (row.newest === null || BigInt(row.newest) < BigInt(row.xmax)) return;
  throw new EventLogFromAnotherClusterError(
    `the events table holds transaction id ${row.newest}, beyond this cluster's next transaction id ${row.xmax}: ` +
      'it was probably restored from another cluster. Readers would see none of the new events. ' +
      'See docs/event-store.md, "Restore safety", before starting.',
  );
}
