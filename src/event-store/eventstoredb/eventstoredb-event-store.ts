/**
 * The event store on EventStoreDB (KurrentDB), through `@eventstore/db-client`.
 * The port's semantics are EventStoreDB's, so most calls map one to one; the
 * few places where the server and the port differ are handled here and named in
 * docs/eventstoredb.md ("Mapping decisions"):
 *
 * - Idempotent appends: the server checks a batch's ids only where the expected
 *   revision points (and, for `any`, in a bounded cache). The adapter reads the
 *   stream before appending and applies the same rule as the SQL adapter
 *   (`repeatedAppend`), so a batch whose ids are stored elsewhere in the stream
 *   is refused instead of written twice.
 * - Append positions: the server answers with the write's commit position,
 *   which for a batch is not its last event's; the adapter reads the last event
 *   back and returns the position readers will see.
 * - readAll filters: this client version sends no filter with `readAll`, so the
 *   adapter pages through $all and filters here. Subscriptions filter on the
 *   server (see `toServerFilter`).
 * - System streams and events (`$…`) never reach a caller.
 */
import {
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  StreamNotFoundError,
  type AllStreamResolvedEvent,
} from '@eventstore/db-client';
import {
  START,
  WrongExpectedVersionError,
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
  type StreamRevision,
  type SubscribeToAllOptions,
} from '../port';
import { assertExpectedRevision, assertValidAppend, assertValidStreamName, repeatedAppend } from '../append-rules';
import {
  fromClientPosition,
  fromClientRecordedEvent,
  isAfter,
  isClientWrongExpectedVersion,
  isSystemEvent,
  matchesFilter,
  redactConnectionString,
  revisionFromClient,
  toClientConnectionString,
  toClientEventData,
  toClientExpectedRevision,
  toClientReadPosition,
  toServerFilter,
  wrongExpectedVersionFromClient,
} from './mapping';
import { EventStoreDbSubscription } from './subscription';

export interface EventStoreDbEventStoreOptions {
  /** Bound on the connection probe in `connect`, in ms. */
  readonly timeoutMs: number;
  /** Deadline of each read and append, in ms. Default 30 000. */
  readonly operationTimeoutMs?: number;
  /** Events in one append. Default 1000. */
  readonly eventsPerAppendMax?: number;
  /** Events in one readAll page or subscription buffer. Default 10 000. */
  readonly readCountMax?: number;
  /** Events a readStream without maxCount may return before it fails loudly. Default 100 000. */
  readonly streamReadCountMax?: number;
  /** Subscription buffer when the caller gives no batch size. Default 500. */
  readonly batchSizeDefault?: number;
}

type Settings = Required<EventStoreDbEventStoreOptions> & { readonly streamNameLengthMax: number };

const DEFAULTS = {
  operationTimeoutMs: 30_000,
  eventsPerAppendMax: 1_000,
  readCountMax: 10_000,
  streamReadCountMax: 100_000,
  batchSizeDefault: 500,
  streamNameLengthMax: 1_000,
} as const;

/** Records read at least per $all page when filtering here: few round trips for a sparse filter. */
const SCAN_PAGE_SIZE_MIN = 512;
/** System records looked past, newest first, to find the newest event of ours for `headPosition`. */
const HEAD_SCAN_COUNT_MAX = 100;
const FILTER_ENTRIES_MAX = 100;

/** The server did not answer the probe in `connect`: wrong address, down, or TLS settings that do not match. */
export class EventStoreDbUnreachableError extends Error {
  override readonly name = 'EventStoreDbUnreachableError';
}

export class EventStoreDbEventStore implements EventStore {
  private closed = false;
  private readonly subscriptions = new Set<EventStoreDbSubscription>();

  private constructor(
    private readonly client: EventStoreDBClient,
    private readonly settings: Settings,
  ) {}

  /**
   * Parses the connection string, then reads one record of $all to prove the
   * server answers, within `timeoutMs`. Fails fast with a message naming the
   * (redacted) address; it never waits for the first request to find out.
   */
  static async connect(url: string, options: EventStoreDbEventStoreOptions): Promise<EventStoreDbEventStore> {
    return EventStoreDbEventStore.withClient(clientFor(url), options, redactConnectionString(url));
  }

  /**
   * The same over a client the caller built (the adapter's unit test passes a
   * simulated server). The store owns the client from here on: it disposes it
   * in `close()`, or at once when the probe fails.
   */
  static async withClient(client: EventStoreDBClient, options: EventStoreDbEventStoreOptions, address = 'the given client'): Promise<EventStoreDbEventStore> {
    let settings: Settings;
    try {
      settings = settingsFrom(options);
    } catch (error) {
      await client.dispose().catch(() => undefined);
      throw error;
    }
    const store = new EventStoreDbEventStore(client, settings);
    try {
      await withTimeout(store.probe(settings.timeoutMs), settings.timeoutMs);
    } catch (error) {
      await client.dispose().catch(() => undefined);
      throw new EventStoreDbUnreachableError(
        `EventStoreDB at ${address} is unreachable (probe bounded by ${settings.timeoutMs} ms): ${reasonOf(error)}. ` +
          'Check the host and port, that the server runs, and that tls=false is set for an insecure server (or a CA for a secure one).',
      );
    }
    return store;
  }

  /**
   * The client itself, for what only EventStoreDB has (persistent subscriptions,
   * see src/bank-gateway/eventstoredb-work-source.ts). The store still owns it:
   * it is disposed by `close()`.
   */
  esdbClient(): EventStoreDBClient {
    this.assertOpen();
    return this.client;
  }

  async appendToStream(stream: string, events: readonly EventData[], options: AppendOptions): Promise<AppendResult> {
    this.assertOpen();
    assertValidAppend(stream, events, options.expectedRevision, this.settings);
    if (stream.startsWith('$')) throw new RangeError(`stream ${stream}: names beginning with $ belong to EventStoreDB`);
    const stored = await this.readStream(stream);
    const actual = stored.length === 0 ? 'no_stream' : stored[stored.length - 1]!.revision;
    const ids = new Set(events.map((event) => event.id.toLowerCase()));
    const overlap = stored.filter((event) => ids.has(event.id.toLowerCase()));
    if (overlap.length > 0) {
      const repeat = repeatedAppend(stream, events, options.expectedRevision, overlap);
      if (repeat) return repeat;
      throw new WrongExpectedVersionError(stream, options.expectedRevision, actual);
    }
    assertExpectedRevision(stream, options.expectedRevision, actual);
    const revision = await this.write(stream, events, options);
    return { nextExpectedRevision: revision, position: await this.positionOf(stream, revision) };
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    this.assertOpen();
    assertValidStreamName(stream, this.settings.streamNameLengthMax);
    const fromRevision = options.fromRevision ?? 0;
    assertCount('fromRevision', fromRevision, Number.MAX_SAFE_INTEGER);
    if (options.maxCount !== undefined) assertCount('maxCount', options.maxCount, Number.MAX_SAFE_INTEGER);
    if (options.maxCount === 0) return [];
    const limit = options.maxCount ?? this.settings.streamReadCountMax + 1;
    const events: RecordedEvent[] = [];
    try {
      const read = this.client.readStream(stream, {
        fromRevision: BigInt(fromRevision),
        maxCount: limit,
        direction: FORWARDS,
        resolveLinkTos: false,
        deadline: this.settings.operationTimeoutMs,
      });
      for await (const resolved of read) if (resolved.event) events.push(fromClientRecordedEvent(resolved.event));
    } catch (error) {
      // The SQL adapter's answer for a stream that does not exist: no events.
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
    if (options.maxCount === undefined && events.length > this.settings.streamReadCountMax) {
      throw new RangeError(`stream ${stream} holds more than ${this.settings.streamReadCountMax} events: read it in pages with maxCount`);
    }
    return events;
  }

  /**
   * Pages through $all from `fromPosition` until `limit` events pass the filter
   * or the log ends. A short answer therefore always means "nothing more now",
   * as the projection runner and the rebuild rely on.
   */
  async readAll(options: ReadAllOptions): Promise<RecordedEvent[]> {
    this.assertOpen();
    assertCount('limit', options.limit, this.settings.readCountMax);
    if (options.filter) assertFilter(options.filter);
    if (options.limit === 0) return [];
    const pageSize = Math.min(this.settings.readCountMax + 1, Math.max(options.limit + 1, SCAN_PAGE_SIZE_MIN));
    const matched: RecordedEvent[] = [];
    let cursor = options.fromPosition ?? START;
    for (;;) {
      const page = await this.readAllPage(cursor, pageSize);
      const scanned = this.collectPage(page, cursor, options.filter, options.limit - matched.length);
      matched.push(...scanned.events);
      if (matched.length >= options.limit || page.length < pageSize || scanned.last === undefined) return matched;
      cursor = scanned.last;
    }
  }

  subscribeToAll(options: SubscribeToAllOptions = {}): AllSubscription {
    this.assertOpen();
    const batchSizeMax = options.batchSizeMax ?? Math.min(this.settings.batchSizeDefault, this.settings.readCountMax);
    assertCount('batchSizeMax', batchSizeMax, this.settings.readCountMax);
    if (batchSizeMax === 0) throw new RangeError('batchSizeMax must be at least 1');
    if (options.filter) assertFilter(options.filter);
    const fromPosition = options.fromPosition ?? START;
    const source = this.client.subscribeToAll(
      { fromPosition: toClientReadPosition(fromPosition), filter: toServerFilter(options.filter), resolveLinkTos: false },
      { highWaterMark: batchSizeMax },
    );
    const subscription = new EventStoreDbSubscription({
      source,
      fromPosition,
      filter: options.filter,
      onClose: (closed) => this.subscriptions.delete(closed),
    });
    this.subscriptions.add(subscription);
    return subscription;
  }

  /** The newest event of ours (system records after it are looked past), or START on a log without one. */
  async headPosition(): Promise<GlobalPosition> {
    this.assertOpen();
    const newestFirst = await collect(
      this.client.readAll({ fromPosition: END, direction: BACKWARDS, maxCount: HEAD_SCAN_COUNT_MAX, deadline: this.settings.operationTimeoutMs }),
    );
    const records = newestFirst.flatMap((resolved) => (resolved.event ? [resolved.event] : []));
    const newest = records.find((record) => !isSystemEvent(record.streamId, record.type)) ?? records[0];
    // Only system records in the newest ones: their position is still a safe place to read on from.
    return newest ? fromClientPosition(newest.position) : START;
  }

  /** EventStoreDB shows an event to readers once it is written: the head is the newest written. */
  async lastWrittenPosition(): Promise<GlobalPosition> {
    return this.headPosition();
  }

  async ping(): Promise<void> {
    this.assertOpen();
    await this.probe(this.settings.operationTimeoutMs);
  }

  /** Ends every subscription, then disposes the client. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((subscription) => subscription.close()));
    await this.client.dispose();
  }

  private async probe(deadlineMs: number): Promise<void> {
    await collect(this.client.readAll({ fromPosition: END, direction: BACKWARDS, maxCount: 1, deadline: deadlineMs }));
  }

  /** The append itself; a lost race (someone wrote since our read) is our WrongExpectedVersionError. */
  private async write(stream: string, events: readonly EventData[], options: AppendOptions): Promise<StreamRevision> {
    try {
      const result = await this.client.appendToStream(stream, events.map(toClientEventData), {
        expectedRevision: toClientExpectedRevision(options.expectedRevision),
        deadline: this.settings.operationTimeoutMs,
      });
      // Only with throwOnAppendFailure=false in the connection string; its revision is then unreliable, so read it.
      if (!result.success) throw new WrongExpectedVersionError(stream, options.expectedRevision, await this.currentRevision(stream));
      return revisionFromClient(result.nextExpectedRevision);
    } catch (error) {
      if (isClientWrongExpectedVersion(error)) throw wrongExpectedVersionFromClient(error, stream, options.expectedRevision);
      throw error;
    }
  }

  /** The position readers see for the event at `revision`. */
  private async positionOf(stream: string, revision: StreamRevision): Promise<GlobalPosition> {
    const [event] = await this.readStream(stream, { fromRevision: revision, maxCount: 1 });
    if (!event) throw new Error(`stream ${stream}: the event just appended at revision ${revision} cannot be read back`);
    return event.position;
  }

  private async currentRevision(stream: string): Promise<StreamRevision | 'no_stream'> {
    const stored = await this.readStream(stream);
    return stored.length === 0 ? 'no_stream' : stored[stored.length - 1]!.revision;
  }

  /** Raw records of $all from `from` (inclusive: ESDB reads include their start), system records too. */
  private readAllPage(from: GlobalPosition, count: number): Promise<AllStreamResolvedEvent[]> {
    return collect(
      this.client.readAll({ fromPosition: toClientReadPosition(from), direction: FORWARDS, maxCount: count, resolveLinkTos: false, deadline: this.settings.operationTimeoutMs }),
    );
  }

  /** The page's events after `cursor` that pass the filter (at most `wanted`), and the position scanned up to. */
  private collectPage(page: readonly AllStreamResolvedEvent[], cursor: GlobalPosition, filter: EventFilter | undefined, wanted: number) {
    const events: RecordedEvent[] = [];
    let last: GlobalPosition | undefined;
    for (const resolved of page) {
      const record = resolved.event;
      if (!record) continue;
      const position = fromClientPosition(record.position);
      if (!isAfter(position, cursor)) continue;
      last = position;
      if (!matchesFilter({ streamName: record.streamId, type: record.type }, filter)) continue;
      events.push(fromClientRecordedEvent(record));
      if (events.length === wanted) break;
    }
    return { events, last };
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the event store is closed');
  }
}

function settingsFrom(options: EventStoreDbEventStoreOptions): Settings {
  const defined = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
  const settings: Settings = { ...DEFAULTS, ...defined } as Settings;
  for (const key of ['timeoutMs', 'operationTimeoutMs', 'eventsPerAppendMax', 'readCountMax', 'streamReadCountMax', 'batchSizeDefault'] as const) {
    const value = settings[key];
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${key} must be a positive integer, got ${value}`);
  }
  return settings;
}

/** The client for a connection string; a malformed one fails here, without echoing its credentials. */
function clientFor(url: string): EventStoreDBClient {
  try {
    return EventStoreDBClient.connectionString(toClientConnectionString(url));
  } catch (error) {
    const expected = (error as { expected?: unknown }).expected;
    const detail = typeof expected === 'string' ? `expected ${expected}` : reasonOf(error);
    throw new RangeError(`EVENTSTORE_URL is not a valid EventStoreDB connection string (${redactConnectionString(url)}): ${detail}`);
  }
}

async function collect<T>(read: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of read) items.push(item);
  return items;
}

/** Rejects after `ms` even when the operation never settles (a client still discovering a cluster). */
async function withTimeout<T>(operation: Promise<T>, ms: number): Promise<T> {
  operation.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([operation, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}

function assertCount(name: string, value: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) throw new RangeError(`${name} must be an integer from 0 to ${max}, got ${value}`);
}

function assertFilter(filter: EventFilter): void {
  for (const [name, list] of [['streamPrefixes', filter.streamPrefixes], ['eventTypes', filter.eventTypes]] as const) {
    if (list === undefined) continue;
    if (list.length === 0 || list.length > FILTER_ENTRIES_MAX) {
      throw new RangeError(`filter ${name} takes 1 to ${FILTER_ENTRIES_MAX} entries (omit it to match everything)`);
    }
    if (list.some((entry) => typeof entry !== 'string' || entry === '')) throw new RangeError(`filter ${name} entries must be non-empty strings`);
  }
}
