/**
 * The pure rules of an append: what a valid request is, whether the stream is
 * where the writer expects it, and whether a batch is a repeat of one already
 * written (EventStoreDB's idempotent append). No I/O here, so every branch is
 * cheap to reason about and to test.
 */
import {
  WrongExpectedVersionError,
  type AppendResult,
  type EventData,
  type ExpectedRevision,
  type RecordedEvent,
  type StreamRevision,
} from './port';

export type ActualRevision = StreamRevision | 'no_stream';

/** Where a stored event sits: all `repeatedAppend` needs of it. */
export type StoredPlace = Pick<RecordedEvent, 'id' | 'streamName' | 'revision' | 'position'>;

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface AppendLimits {
  readonly eventsPerAppendMax: number;
  readonly streamNameLengthMax: number;
}

/** Programmer errors: a request no store could accept. Throws RangeError. */
export function assertValidAppend(stream: string, events: readonly EventData[], expected: ExpectedRevision, limits: AppendLimits): void {
  assertValidStreamName(stream, limits.streamNameLengthMax);
  if (events.length === 0 || events.length > limits.eventsPerAppendMax) {
    throw new RangeError(`an append carries 1 to ${limits.eventsPerAppendMax} events, got ${events.length}`);
  }
  if (typeof expected === 'number' && !(Number.isSafeInteger(expected) && expected >= 0)) {
    throw new RangeError(`expected revision must be a non-negative integer, got ${expected}`);
  }
  const ids = new Set<string>();
  for (const event of events) {
    if (!UUID_PATTERN.test(event.id)) throw new RangeError(`event id must be a UUID, got ${JSON.stringify(event.id)}`);
    if (typeof event.type !== 'string' || event.type === '') throw new RangeError('event type must be a non-empty string');
    if (!isPlainObject(event.data) || !isPlainObject(event.metadata)) throw new RangeError(`event ${event.id}: data and metadata must be JSON objects`);
    ids.add(event.id.toLowerCase());
  }
  if (ids.size !== events.length) throw new RangeError('event ids repeat within one append');
}

export function assertValidStreamName(stream: string, lengthMax: number): void {
  if (typeof stream !== 'string' || stream.length === 0 || stream.length > lengthMax) {
    throw new RangeError(`stream name must have 1 to ${lengthMax} characters`);
  }
}

function isPlainObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Throws WrongExpectedVersionError unless `actual` satisfies `expected`. */
export function assertExpectedRevision(stream: string, expected: ExpectedRevision, actual: ActualRevision): void {
  if (!satisfies(expected, actual)) throw new WrongExpectedVersionError(stream, expected, actual);
}

function satisfies(expected: ExpectedRevision, actual: ActualRevision): boolean {
  if (expected === 'any') return true;
  if (expected === 'no_stream') return actual === 'no_stream';
  if (expected === 'stream_exists') return actual !== 'no_stream';
  return actual === expected;
}

/**
 * When every event of the batch is already stored, in this stream, in batch
 * order, at the place the writer's expectation puts them, the append is a repeat
 * and its original result is returned. Any other overlap with stored ids is a
 * conflict: the ids are taken, so the batch cannot be written as asked.
 */
export function repeatedAppend(
  stream: string,
  events: readonly EventData[],
  expected: ExpectedRevision,
  stored: readonly StoredPlace[],
): AppendResult | undefined {
  const byId = new Map(stored.map((event) => [event.id.toLowerCase(), event]));
  const found = events.map((event) => byId.get(event.id.toLowerCase()));
  const first = found[0];
  if (first === undefined || first.streamName !== stream) return undefined;
  const inPlace = found.every((event, index) => event !== undefined && event.streamName === stream && event.revision === first.revision + index);
  if (!inPlace || !placeMatches(expected, first.revision)) return undefined;
  const last = found[found.length - 1]!;
  return { nextExpectedRevision: last.revision, position: last.position };
}

function placeMatches(expected: ExpectedRevision, firstRevisionStored: StreamRevision): boolean {
  if (expected === 'no_stream') return firstRevisionStored === 0;
  if (typeof expected === 'number') return firstRevisionStored === expected + 1;
  return true;
}
