/**
 * The pure translations between our event store port and the EventStoreDB
 * client (`@eventstore/db-client`): expected revisions, positions, events,
 * filters and errors. No I/O here, so each rule is tested on the client's real
 * types and error classes (mapping.unit.test.ts) without a server.
 */
import {
  ANY,
  NO_STREAM,
  START as CLIENT_START,
  STREAM_EXISTS,
  WrongExpectedVersionError as ClientWrongExpectedVersionError,
  eventTypeFilter,
  excludeSystemEvents,
  jsonEvent,
  streamNameFilter,
  type AppendExpectedRevision,
  type CurrentRevision,
  type EventData as ClientEventData,
  type Filter,
  type Position,
  type ReadPosition,
  type RecordedEvent as ClientRecordedEvent,
} from '@eventstore/db-client';
import {
  WrongExpectedVersionError,
  comparePositions,
  type EventData,
  type EventFilter,
  type ExpectedRevision,
  type GlobalPosition,
  type JsonObject,
  type RecordedEvent,
  type StreamRevision,
} from '../port';

/** Our expected revision as the client's: the three names are the same words; an exact revision becomes a bigint. */
export function toClientExpectedRevision(expected: ExpectedRevision): AppendExpectedRevision {
  switch (expected) {
    case 'no_stream':
      return NO_STREAM;
    case 'stream_exists':
      return STREAM_EXISTS;
    case 'any':
      return ANY;
    default:
      return BigInt(revisionFromNumber(expected));
  }
}

/** The client's expected revision as ours (the other way, as found in the client's errors). */
export function fromClientExpectedRevision(expected: AppendExpectedRevision): ExpectedRevision {
  switch (expected) {
    case NO_STREAM:
      return 'no_stream';
    case STREAM_EXISTS:
      return 'stream_exists';
    case ANY:
      return 'any';
    default:
      return revisionFromClient(expected);
  }
}

/** A stream's current revision as the client reports it; a negative one means the stream does not exist. */
export function fromClientCurrentRevision(current: CurrentRevision): StreamRevision | 'no_stream' {
  if (current === NO_STREAM || current < 0n) return 'no_stream';
  return revisionFromClient(current);
}

/**
 * Stream revisions are plain numbers in our port: a stream never holds 2^53
 * events. A larger one is a broken invariant, not an operating error.
 */
export function revisionFromClient(revision: bigint): StreamRevision {
  if (revision < 0n || revision > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`stream revision ${revision} is outside 0..${Number.MAX_SAFE_INTEGER}`);
  }
  return Number(revision);
}

function revisionFromNumber(revision: number): number {
  if (!Number.isSafeInteger(revision) || revision < 0) throw new RangeError(`expected revision must be a non-negative integer, got ${revision}`);
  return revision;
}

/** The client's WrongExpectedVersionError as ours, carrying the actual revision (or 'no_stream'). */
export function wrongExpectedVersionFromClient(
  error: ClientWrongExpectedVersionError,
  stream: string,
  expected: ExpectedRevision = fromClientExpectedRevision(error.expectedVersion),
): WrongExpectedVersionError {
  return new WrongExpectedVersionError(stream, expected, fromClientCurrentRevision(error.actualVersion));
}

export function isClientWrongExpectedVersion(error: unknown): error is ClientWrongExpectedVersionError {
  return error instanceof ClientWrongExpectedVersionError;
}

/** ESDB positions are the commit and prepare positions of the transaction file: the same pair as ours, 1:1. */
export function fromClientPosition(position: Position): GlobalPosition {
  return { commit: position.commit, prepare: position.prepare };
}

/**
 * Where a read or subscription starts. Our START (-1/-1) is "before the first
 * event"; ESDB has no negative positions (they are unsigned on the wire), so
 * anything with a negative half means the start of the log.
 */
export function toClientReadPosition(position: GlobalPosition): ReadPosition {
  if (position.commit < 0n || position.prepare < 0n) return CLIENT_START;
  return { commit: position.commit, prepare: position.prepare };
}

/** A port event as the client's JSON event; the id is kept, so ESDB's own idempotency sees the caller's ids. */
export function toClientEventData(event: EventData): ClientEventData {
  return jsonEvent({ id: event.id, type: event.type, data: event.data, metadata: event.metadata });
}

/** Streams and event types that begin with `$` belong to EventStoreDB itself (metadata, links, statistics). */
export function isSystemEvent(streamName: string, type: string): boolean {
  return streamName.startsWith('$') || type.startsWith('$');
}

/**
 * A recorded event from the client as ours. Every event we write is JSON with a
 * JSON-object metadata; anything else in a stream we read is a foreign writer's
 * and fails loudly rather than reaching a decider or a projection half-decoded.
 * `position` is required: ESDB sends it on stream reads from 22.6 onwards
 * (older servers send the unsigned -1, "unknown", there).
 */
/** How the server spells "no position": -1 as an unsigned 64-bit number. */
const POSITION_UNKNOWN = 18_446_744_073_709_551_615n;

export function fromClientRecordedEvent(event: ClientRecordedEvent): RecordedEvent {
  if (!event.position || event.position.commit === POSITION_UNKNOWN || event.position.prepare === POSITION_UNKNOWN) {
    throw new Error(`event ${event.id} in ${event.streamId} came without a log position: EventStoreDB 22.6 or later is required`);
  }
  if (!event.isJson || !isJsonObject(event.data)) {
    throw new Error(`event ${event.id} in ${event.streamId} (${event.type}) is not a JSON object: not written by paystream`);
  }
  const metadata = event.metadata === undefined ? {} : event.metadata;
  if (!isJsonObject(metadata)) {
    throw new Error(`event ${event.id} in ${event.streamId} (${event.type}) has metadata that is not a JSON object`);
  }
  return {
    id: event.id,
    type: event.type,
    data: event.data,
    metadata,
    streamName: event.streamId,
    revision: revisionFromClient(event.revision),
    position: fromClientPosition(event.position),
    recordedAt: event.created,
  };
}

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/** Whether an event passes our filter: every given criterion must match (prefix of the stream, exact type). */
export function matchesFilter(event: { readonly streamName: string; readonly type: string }, filter: EventFilter | undefined): boolean {
  if (isSystemEvent(event.streamName, event.type)) return false;
  if (filter?.streamPrefixes && !filter.streamPrefixes.some((prefix) => event.streamName.startsWith(prefix))) return false;
  if (filter?.eventTypes && !filter.eventTypes.includes(event.type)) return false;
  return true;
}

/**
 * The server-side part of our filter. ESDB filters on stream names or on event
 * types, never both at once, so with both the stream prefixes go to the server
 * (they are the narrower criterion in paystream: one category of streams) and
 * the types are checked here by `matchesFilter`. Event types match exactly, so
 * they go as an anchored regular expression, not as prefixes ("Opened" must not
 * match "OpenedTwice"). Without a filter the server still drops system events.
 */
export function toServerFilter(filter: EventFilter | undefined): Filter {
  if (filter?.streamPrefixes) return streamNameFilter({ prefixes: [...filter.streamPrefixes] });
  if (filter?.eventTypes) return eventTypeFilter({ regex: exactAlternativesRegex(filter.eventTypes) });
  return excludeSystemEvents();
}

const REGEX_SPECIAL = /[\\^$.*+?()[\]{}|]/g;

/** `^(?:a|b)$` with every regular-expression metacharacter escaped (.NET, the server's dialect, and JS agree on these). */
export function exactAlternativesRegex(values: readonly string[]): string {
  if (values.length === 0) throw new RangeError('an exact-match filter needs at least one value');
  return `^(?:${values.map((value) => value.replace(REGEX_SPECIAL, (character) => `\\${character}`)).join('|')})$`;
}

/** Strictly after: our reads and subscriptions are exclusive of their start, ESDB's reads are not. */
export function isAfter(position: GlobalPosition, from: GlobalPosition): boolean {
  return comparePositions(position, from) > 0;
}

/** The connection string without its user name and password, for messages and logs. */
export function redactConnectionString(url: string): string {
  return url.replace(/(:\/\/)[^@/?#]*@/, '$1***@');
}

const SCHEME_PATTERN = /^(esdb|kurrentdb|kdb)(\+discover)?:\/\//i;

/**
 * The connection string as this client (6.x) reads it. Configuration also takes
 * KurrentDB's schemes (`kurrentdb://`, `kdb://`, with or without `+discover`);
 * they mean the same as `esdb://`, which is the only spelling the client parses.
 */
export function toClientConnectionString(url: string): string {
  const match = SCHEME_PATTERN.exec(url.trim());
  if (!match) throw new RangeError('the EventStoreDB connection string must start with esdb://, esdb+discover://, kurrentdb:// or kdb://');
  return `esdb${match[2] ? '+discover' : ''}://${url.trim().slice(match[0].length)}`;
}
