/**
 * Folded stream states kept by a subscription to the log, so that a retried
 * request can be answered without reading its stream (docs/adr/0020-retry-cache.md).
 *
 * Exact by construction:
 * - an entry exists only for a stream the subscription saw from revision 0, and
 *   it takes every later event of that stream in order; an event that does not
 *   follow the entry's revision (never expected) drops the entry;
 * - the cache answers only after checking the log's newest *committed*
 *   position, read after the request arrived: when the subscription has
 *   delivered that position, every event committed before the request arrived,
 *   whichever process wrote it, is in the entry. So the cache never answers a
 *   state older than one any client was already answered with. Otherwise, or
 *   when the subscription is down, it answers nothing and the caller reads the
 *   stream as before.
 *
 * Concurrent checks share one query (at most one in flight; a request waits for
 * one that started after it arrived), so under load the check costs a fraction
 * of a round trip per request.
 */
import { comparePositions, START, type EventStore, type GlobalPosition, type RecordedEvent } from '../event-store/port';
import type { Logger } from '../logging';

export interface StreamFold<Event, State> {
  readonly initialState: State;
  fromRecorded(event: RecordedEvent): Event | undefined;
  evolve(state: State, event: Event): State;
}

export interface CachedStream<State> {
  readonly state: State;
  readonly revision: number;
  readonly position: GlobalPosition;
}

export interface StreamStateCacheOptions<Event, State> {
  readonly store: EventStore;
  readonly fold: StreamFold<Event, State>;
  /** Only streams whose name starts with this are kept. */
  readonly streamPrefix: string;
  /** Entries kept; the least recently used go first. */
  readonly entriesMax: number;
  readonly logger?: Logger;
  /** Wait before resubscribing after the subscription failed. Default 1000. */
  readonly restartDelayMs?: number;
}

interface Waiter {
  resolve(position: GlobalPosition): void;
  reject(error: unknown): void;
}

export class StreamStateCache<Event, State> {
  /** Insertion order is recency order: a hit moves its entry to the end. */
  private readonly entries = new Map<string, CachedStream<State>>();
  private delivered: GlobalPosition = START;
  private running = false;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private closeSubscription: (() => Promise<void>) | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private headWaiters: Waiter[] = [];
  private headInFlight = false;

  constructor(private readonly options: StreamStateCacheOptions<Event, State>) {
    if (!Number.isSafeInteger(options.entriesMax) || options.entriesMax < 1) throw new RangeError(`entriesMax must be a positive integer, got ${options.entriesMax}`);
  }

  /** Subscribes from the log's current head: streams begun from now on are cached. */
  start(): void {
    if (this.loop || this.stopped) return;
    this.loop = this.follow().finally(() => {
      this.loop = undefined;
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    await this.closeSubscription?.();
    await this.loop;
  }

  /**
   * The stream's state, revision and newest position, if the cache holds the
   * stream and has seen everything committed before this call; else undefined.
   */
  async fresh(stream: string): Promise<CachedStream<State> | undefined> {
    if (!this.running || !this.entries.has(stream)) return undefined;
    const committed = await this.committedHead();
    if (!this.running || comparePositions(this.delivered, committed) < 0) return undefined;
    const entry = this.entries.get(stream);
    if (entry) {
      this.entries.delete(stream);
      this.entries.set(stream, entry);
    }
    return entry;
  }

  /** Entries held now (tests, metrics). */
  get size(): number {
    return this.entries.size;
  }

  /** Resolves once the subscription runs (streams begun from then on are cached); for tests and start-up. */
  async ready(waitMsMax = 10_000): Promise<void> {
    const deadline = Date.now() + waitMsMax;
    while (!this.running) {
      if (Date.now() > deadline) throw new Error('the retry cache did not start in time');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Whether the stream has an entry, fresh or not (tests). */
  holds(stream: string): boolean {
    return this.entries.has(stream);
  }

  private async follow(): Promise<void> {
    const { store, logger } = this.options;
    try {
      const from = await store.headPosition();
      const subscription = store.subscribeToAll({ fromPosition: from });
      this.closeSubscription = () => subscription.close();
      this.delivered = from;
      this.running = true;
      for await (const event of subscription) {
        this.take(event);
        this.delivered = event.position;
      }
    } catch (error) {
      logger?.warn({ err: error }, 'retry cache: the log subscription failed; answering from the store until it is back');
    } finally {
      this.running = false;
      this.entries.clear();
      this.closeSubscription = undefined;
    }
    if (this.stopped) return;
    this.restartTimer = setTimeout(() => this.start(), this.options.restartDelayMs ?? 1_000);
    this.restartTimer.unref();
  }

  private take(event: RecordedEvent): void {
    if (!event.streamName.startsWith(this.options.streamPrefix)) return;
    const { fold } = this.options;
    const entry = this.entries.get(event.streamName);
    if (!entry) {
      // A stream first seen in the middle is never cached: its start was before us, or it was evicted.
      if (event.revision !== 0) return;
      try {
        this.put(event.streamName, { state: apply(fold, fold.initialState, event), revision: 0, position: event.position });
      } catch {
        // Not cached: the store path reports it.
      }
      return;
    }
    if (event.revision <= entry.revision) return;
    if (event.revision !== entry.revision + 1) {
      this.entries.delete(event.streamName);
      return;
    }
    try {
      this.entries.set(event.streamName, { state: apply(fold, entry.state, event), revision: event.revision, position: event.position });
    } catch {
      // A stream the fold cannot follow is read from the store, where the same fold reports it.
      this.entries.delete(event.streamName);
    }
  }

  private put(stream: string, entry: CachedStream<State>): void {
    this.entries.set(stream, entry);
    if (this.entries.size > this.options.entriesMax) this.entries.delete(this.entries.keys().next().value!);
  }

  /** The newest committed position, from a query that started after this call. */
  private committedHead(): Promise<GlobalPosition> {
    return new Promise((resolve, reject) => {
      this.headWaiters.push({ resolve, reject });
      if (!this.headInFlight) this.readHead();
    });
  }

  private readHead(): void {
    const waiters = this.headWaiters;
    this.headWaiters = [];
    this.headInFlight = true;
    this.options.store.lastWrittenPosition().then(
      (position) => this.headRead(waiters, (waiter) => waiter.resolve(position)),
      (error: unknown) => this.headRead(waiters, (waiter) => waiter.reject(error)),
    );
  }

  private headRead(waiters: Waiter[], settle: (waiter: Waiter) => void): void {
    this.headInFlight = false;
    for (const waiter of waiters) settle(waiter);
    if (this.headWaiters.length > 0) this.readHead();
  }
}

function apply<Event, State>(fold: StreamFold<Event, State>, state: State, event: RecordedEvent): State {
  const domainEvent = fold.fromRecorded(event);
  return domainEvent ? fold.evolve(state, domainEvent) : state;
}
