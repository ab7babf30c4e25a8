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
  comparePositions,
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
import { isTransientDatabaseError } from '../../db/errors';
import { runMigrations } from '../../db/migrations';
import { assertValidAppend, assertValidStreamName, repeatedAppend, type ActualRevision, type StoredPlace } from '../append-rules';
import { GroupCommit } from './group-commit';
import { EVENT_STORE_MIGRATIONS } from './migrations';
import {
  APPEND_SQL,
  HEAD_POSITION_SQL,
  LAST_WRITTEN_POSITION_SQL,
  STREAM_REVISION_SQL,
  NOTIFY_SQL,
  READ_STREAM_SQL,
  RESTORE_CHECK_SQL,
  afterParams,
  eventFromRow,
  positionFromText,
  readAllSql,
  type AppendRow,
  type EventRow,
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
  /**
   * Append statements on their way to the database at once (group commit, docs/adr/0019-group-commit.md).
   * Default 1 on PGlite (one connection), 4 on server PostgreSQL.
   */
  readonly appendsInFlightMax?: number;
  /** Append requests one statement may carry. Default 64; 1 turns group commit off. */
  readonly appendBatchRequestsMax?: number;
}

type Settings = Required<Omit<SqlEventStoreOptions, 'channel' | 'appendsInFlightMax'>> & {
  readonly channel: string;
  readonly streamNameLengthMax: number;
  readonly appendsInFlightMax: number;
};

const DEFAULTS = {
  pollIntervalMs: 250,
  eventsPerAppendMax: 1_000,
  readCountMax: 10_000,
  streamReadCountMax: 100_000,
  batchSizeDefault: 500,
  ownsDatabase: false,
  streamNameLengthMax: 1_000,
  appendBatchRequestsMax: 64,
} as const;

const APPENDS_IN_FLIGHT_DEFAULT = { pglite: 1, postgres: 4 } as const;

/**
 * How often one batch is sent again after losing a race on a unique constraint
 * (or a deadlock) to another process. Each loss means another writer committed,
 * and the retry runs under a fresh snapshot that sees it, so this bound is a
 * backstop against a storm, not an expected path.
 */
const RACE_RETRIES_MAX = 20;
const DEADLOCK = '40P01';

const FILTER_ENTRIES_MAX = 100;
const CHANNEL_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;
const UNIQUE_VIOLATION = '23505';

/** Stored transaction ids lie beyond this cluster's: see docs/event-store.md, "Restore safety". */
export class EventLogFromAnotherClusterError extends Error {
  override readonly name = 'EventLogFromAnotherClusterError';
}

/** One caller's append, waiting in the group commit. */
interface PendingAppend {
  readonly stream: string;
  readonly eventIds: readonly string[];
  readonly events: readonly EventData[];
  readonly expected: AppendOptions['expectedRevision'];
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

/** A request's answer from one statement: written, a repeat of a stored append, or a conflict. */
interface Outcome {
  readonly written: boolean;
  readonly result?: AppendResult;
  readonly error?: Error;
}

export class SqlEventStore implements EventStore {
  private closed = false;
  private readonly subscriptions = new Set<PollingSubscription>();
  private listening: Promise<(() => Promise<void>) | undefined> | undefined;
  private readonly appends: GroupCommit<PendingAppend>;
  /** The coalesced notification: at most one pg_notify in flight (see notify). */
  private notifier: Promise<void> | undefined;
  private notifyAgain = false;
  private newestWritten: GlobalPosition = START;

  private constructor(
    private readonly db: Database,
    private readonly settings: Settings,
  ) {
    this.appends = new GroupCommit<PendingAppend>(
      { inFlightMax: settings.appendsInFlightMax, requestsMax: settings.appendBatchRequestsMax, eventsMax: settings.eventsPerAppendMax },
      (batch) => this.runBatch(batch),
    );
  }

  /** Migrates the schema, refuses a log restored from another cluster, and opens the store. */
  static async open(db: Database, options: SqlEventStoreOptions = {}): Promise<SqlEventStore> {
    await runMigrations(db, 'event-store', EVENT_STORE_MIGRATIONS);
    await assertLogBelongsToCluster(db);
    const channel = options.channel ?? (await defaultChannel(db));
    if (!CHANNEL_PATTERN.test(channel)) throw new Error(`invalid notification channel: ${channel}`);
    const settings: Settings = { appendsInFlightMax: APPENDS_IN_FLIGHT_DEFAULT[db.engine], ...DEFAULTS, ...withoutUndefined(options), channel };
    assertPositiveLimits(settings);
    return new SqlEventStore(db, settings);
  }

  async appendToStream(stream: string, events: readonly EventData[], options: AppendOptions): Promise<AppendResult> {
    this.assertOpen();
    assertValidAppend(stream, events, options.expectedRevision, this.settings);
    return new Promise<AppendResult>((resolve, reject) => {
      const eventIds = events.map((event) => event.id.toLowerCase());
      this.appends.add({ stream, eventIds, events, expected: options.expectedRevision, resolve, reject });
    });
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

  async lastWrittenPosition(): Promise<GlobalPosition> {
    this.assertOpen();
    const result = await this.db.query<{ transaction_id: string; global_position: string }>(LAST_WRITTEN_POSITION_SQL);
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
    await this.appends.idle();
    await this.notifier;
    const unlisten = await this.listening;
    await unlisten?.().catch(() => undefined);
    if (this.settings.ownsDatabase) await this.db.close();
  }

  /**
   * Sends one batch and settles each of its requests on its own: a conflict or a
   * repeat is that request's answer, never the batch's. A statement that fails
   * for another reason (a bad value, a trigger) is sent again one request at a
   * time, so only the guilty request fails; a lost connection fails them all,
   * as StoreUnavailableError (nothing of a statement that failed is stored).
   */
  private async runBatch(batch: PendingAppend[]): Promise<void> {
    try {
      const outcomes = await this.appendOnce(batch);
      batch.forEach((request, index) => settle(request, outcomes[index]!));
      this.notifyWritten(outcomes);
    } catch (error) {
      if (batch.length === 1 || (isTransientDatabaseError(error) && !isRace(error))) {
        for (const request of batch) request.reject(await this.conflictFromRace(error, request));
        return;
      }
      for (const request of batch) {
        try {
          const [outcome] = await this.appendOnce([request]);
          settle(request, outcome!);
          this.notifyWritten([outcome!]);
        } catch (single) {
          request.reject(await this.conflictFromRace(single, request));
        }
      }
    }
  }

  /** One statement for the batch (in stream-name order, so two processes never deadlock), retried on a lost race. */
  private async appendOnce(batch: readonly PendingAppend[]): Promise<Outcome[]> {
    const ordered = batch.length === 1 ? batch : [...batch].sort((a, b) => (a.stream < b.stream ? -1 : 1));
    const payload = JSON.stringify(
      ordered.map(({ stream, expected, events }) => ({
        stream,
        expected: typeof expected === 'number' ? 'exact' : expected,
        revision: typeof expected === 'number' ? expected : null,
        events: events.map(({ id, type, data, metadata }) => ({ id, type, data, metadata })),
      })),
    );
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.db.query<AppendRow>(APPEND_SQL, [payload]);
        const outcomes = outcomesOf(ordered, result.rows);
        return batch.map((request) => outcomes.get(request)!);
      } catch (error) {
        if (!isRace(error) || attempt >= RACE_RETRIES_MAX) throw error;
      }
    }
  }

  /**
   * A race still lost after every retry (a storm of writers in other processes)
   * reaches the caller as the conflict it is, never as a raw database error.
   */
  private async conflictFromRace(error: unknown, request: PendingAppend): Promise<unknown> {
    if (!isRace(error)) return error;
    try {
      return new WrongExpectedVersionError(request.stream, request.expected, await streamRevision(this.db, request.stream));
    } catch (lookup) {
      return lookup;
    }
  }

  private notifyWritten(outcomes: readonly Outcome[]): void {
    let newest: GlobalPosition | undefined;
    for (const outcome of outcomes) {
      const position = outcome.written ? outcome.result?.position : undefined;
      if (position && (newest === undefined || comparePositions(position, newest) > 0)) newest = position;
    }
    if (newest !== undefined) this.notify(newest);
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
   * It is coalesced: at most one pg_notify is in flight, and appends committed
   * meanwhile are announced by one more after it, carrying the newest position.
   * Under load that is one notification per round trip, not one per append. A
   * lost notification costs one poll interval, nothing more.
   */
  private notify(position: GlobalPosition): void {
    if (comparePositions(position, this.newestWritten) > 0) this.newestWritten = position;
    for (const subscription of this.subscriptions) subscription.wake();
    if (this.notifier) {
      this.notifyAgain = true;
      return;
    }
    this.notifier = this.sendNotifications();
  }

  private async sendNotifications(): Promise<void> {
    do {
      this.notifyAgain = false;
      await this.db.query(NOTIFY_SQL, [this.settings.channel, formatPosition(this.newestWritten)]).catch(() => undefined);
    } while (this.notifyAgain);
    // Synchronously after the last check, so a notify() from now on starts a new round.
    this.notifier = undefined;
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

async function streamRevision(client: SqlClient, stream: string): Promise<ActualRevision> {
  const result = await client.query<{ revision: string | null }>(STREAM_REVISION_SQL, [stream]);
  const revision = result.rows[0]?.revision ?? null;
  return revision === null ? 'no_stream' : Number(revision);
}

function settle(request: PendingAppend, outcome: Outcome): void {
  if (outcome.result) request.resolve(outcome.result);
  else request.reject(outcome.error);
}

/** A unique violation or a deadlock: another writer got there first; a fresh snapshot sees it. */
function isRace(error: unknown): boolean {
  const code = sqlState(error) ?? sqlState((error as { cause?: unknown } | null)?.cause);
  return code === UNIQUE_VIOLATION || code === DEADLOCK;
}

function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Each request's outcome from APPEND_SQL's rows (`ordered[i]` is request i + 1 there). */
function outcomesOf(ordered: readonly PendingAppend[], rows: readonly AppendRow[]): Map<PendingAppend, Outcome> {
  const lastWritten = new Map<string, AppendRow>();
  const stored = new Map<number, StoredPlace[]>();
  const heads = new Map<number, ActualRevision>();
  for (const row of rows) {
    if (row.kind === 'w') {
      const previous = lastWritten.get(row.stream_name!);
      if (!previous || BigInt(row.global_position!) > BigInt(previous.global_position!)) lastWritten.set(row.stream_name!, row);
    } else if (row.kind === 's') {
      const place: StoredPlace = {
        id: row.event_id!,
        streamName: row.stream_name!,
        revision: Number(row.stream_revision),
        position: positionFromText(row.transaction_id!, row.global_position!),
      };
      const request = Number(row.request);
      stored.set(request, [...(stored.get(request) ?? []), place]);
    } else {
      heads.set(Number(row.request), row.stream_revision === null ? 'no_stream' : Number(row.stream_revision));
    }
  }
  const outcomes = new Map<PendingAppend, Outcome>();
  ordered.forEach((request, index) => {
    const written = lastWritten.get(request.stream);
    if (written) {
      const result = { nextExpectedRevision: Number(written.stream_revision), position: positionFromText(written.transaction_id!, written.global_position!) };
      outcomes.set(request, { written: true, result });
      return;
    }
    const found = stored.get(index + 1);
    const repeat = found ? repeatedAppend(request.stream, request.events, request.expected, found) : undefined;
    if (repeat) outcomes.set(request, { written: false, result: repeat });
    else outcomes.set(request, { written: false, error: new WrongExpectedVersionError(request.stream, request.expected, heads.get(index + 1) ?? 'no_stream') });
  });
  return outcomes;
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
