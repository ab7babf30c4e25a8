/**
 * The event store port. Its semantics are EventStoreDB's, so that the PostgreSQL,
 * PGlite and EventStoreDB adapters are interchangeable behind it. It knows nothing
 * about payments: streams, events, revisions and global positions only.
 */

/** Expected state of a stream before an append (optimistic concurrency). */
export type ExpectedRevision = 'no_stream' | 'stream_exists' | 'any' | number;

/**
 * A stream's revision is the 0-based index of its last event. Stream revisions are
 * plain numbers: a stream never holds 2^53 events.
 */
export type StreamRevision = number;

/**
 * A place in the global log, ordered by (commit, prepare). On PostgreSQL and PGlite
 * `commit` is the writing transaction's id (xid8) and `prepare` the row's sequence
 * number; on EventStoreDB they are its commit and prepare positions. Subscribers
 * resume from the pair, never from one half of it.
 */
export interface GlobalPosition {
  readonly commit: bigint;
  readonly prepare: bigint;
}

export const START: GlobalPosition = Object.freeze({ commit: -1n, prepare: -1n });

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** What a writer hands to the store. `id` must be a UUID (EventStoreDB requires one). */
export interface EventData {
  readonly id: string;
  readonly type: string;
  readonly data: JsonObject;
  readonly metadata: JsonObject;
}

/** What a reader gets back. */
export interface RecordedEvent extends EventData {
  readonly streamName: string;
  readonly revision: StreamRevision;
  readonly position: GlobalPosition;
  readonly recordedAt: Date;
}

export interface AppendResult {
  /** The stream's revision after the append: pass it as the next expected revision. */
  readonly nextExpectedRevision: StreamRevision;
  /** Global position of the last event written (or found, for an idempotent re-append). */
  readonly position: GlobalPosition;
}

export interface AppendOptions {
  readonly expectedRevision: ExpectedRevision;
}

export interface ReadStreamOptions {
  /** First revision to read, inclusive. Default 0. */
  readonly fromRevision?: StreamRevision;
  /** At most this many events. Default: all. */
  readonly maxCount?: number;
}

/** Server-side filter. An event passes when it matches every given criterion. */
export interface EventFilter {
  readonly streamPrefixes?: readonly string[];
  readonly eventTypes?: readonly string[];
}

export interface ReadAllOptions {
  /** Exclusive: events strictly after this position. Default START. */
  readonly fromPosition?: GlobalPosition;
  readonly limit: number;
  readonly filter?: EventFilter;
}

export interface SubscribeToAllOptions {
  /** Exclusive: events strictly after this position. Default START. */
  readonly fromPosition?: GlobalPosition;
  readonly filter?: EventFilter;
  /** Batch size for catching up. */
  readonly batchSizeMax?: number;
}

/**
 * A catch-up subscription: history first, then live events, in global order,
 * never skipping one. Iterate it with `for await`; `close()` ends the iteration.
 */
export interface AllSubscription extends AsyncIterable<RecordedEvent> {
  close(): Promise<void>;
}

export interface EventStore {
  appendToStream(stream: string, events: readonly EventData[], options: AppendOptions): Promise<AppendResult>;
  /** Events of one stream in revision order; an empty array when the stream does not exist. */
  readStream(stream: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /** A page of the global log in position order, only up to what is safe to read (no gaps behind). */
  readAll(options: ReadAllOptions): Promise<RecordedEvent[]>;
  subscribeToAll(options?: SubscribeToAllOptions): AllSubscription;
  /** The position of the newest event readers may see, or START on an empty log. */
  headPosition(): Promise<GlobalPosition>;
  /**
   * The position of the newest event written, or START on an empty log. It may
   * be ahead of `headPosition`: on the SQL store a transaction that began later
   * can commit first, and readers hold back until the older one ends. No append
   * ever answered a position after this one, so a position beyond it was never
   * given out (what a read that waits for a position checks first).
   */
  lastWrittenPosition(): Promise<GlobalPosition>;
  /** Cheap readiness probe. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Every adapter throws this when the store cannot be reached or lost the
 * connection (see its definition for what it promises about the write).
 */
export { StoreUnavailableError } from '../db/errors';

/** The stream was not at the revision the writer expected. */
export class WrongExpectedVersionError extends Error {
  override readonly name = 'WrongExpectedVersionError';
  constructor(
    readonly streamName: string,
    readonly expected: ExpectedRevision,
    /** 'no_stream' when the stream does not exist. */
    readonly actual: StreamRevision | 'no_stream',
  ) {
    super(`stream ${streamName}: expected revision ${String(expected)}, actual ${String(actual)}`);
  }
}

export function comparePositions(a: GlobalPosition, b: GlobalPosition): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

/** Positions travel as text ("commit/prepare") in checkpoints, headers and logs. */
export function formatPosition(position: GlobalPosition): string {
  return `${position.commit}/${position.prepare}`;
}

const POSITION_PATTERN = /^(-1|\d{1,20})\/(-1|\d{1,20})$/;

export function parsePosition(text: string): GlobalPosition | undefined {
  const match = POSITION_PATTERN.exec(text);
  if (!match) return undefined;
  return { commit: BigInt(match[1]!), prepare: BigInt(match[2]!) };
}
