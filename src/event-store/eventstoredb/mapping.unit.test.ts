/**
 * The EventStoreDB mapping on the client library's real types: its error
 * classes built the way the client builds them from a server answer, its
 * constants, its filters, and recorded events decoded by the client's own
 * wire conversion (`convertGrpcRecord`) from protobuf messages shaped like the
 * server's. No server is needed; what only a server can show is in the
 * contract suite (eventstoredb-event-store.contract.test.ts).
 */
import { randomUUID } from 'node:crypto';
import {
  ANY,
  EventStoreDBClient,
  NO_STREAM,
  START as CLIENT_START,
  STREAM_EXISTS,
  WrongExpectedVersionError as ClientWrongExpectedVersionError,
  excludeSystemEvents,
  type RecordedEvent as ClientRecordedEvent,
  type RegexFilter,
  type PrefixesFilter,
} from '@eventstore/db-client';
import { convertGrpcRecord } from '@eventstore/db-client/dist/utils/convertGrpcEvent';
import { Empty, StreamIdentifier, UUID, WrongExpectedVersion } from '@eventstore/db-client/generated/shared_pb';
import { ReadResp } from '@eventstore/db-client/generated/streams_pb';
import { START, WrongExpectedVersionError, type EventData, type ExpectedRevision } from '../port';
import {
  exactAlternativesRegex,
  fromClientCurrentRevision,
  fromClientExpectedRevision,
  fromClientPosition,
  fromClientRecordedEvent,
  isAfter,
  isClientWrongExpectedVersion,
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

/** `created` as the server stamps it: 100 ns ticks since the Unix epoch. */
const ticksOf = (date: Date) => (BigInt(date.getTime()) * 10_000n).toString();

interface WireRecord {
  id?: string;
  stream?: string;
  revision?: bigint;
  type?: string;
  contentType?: string;
  data?: string | Uint8Array;
  metadata?: string;
  position?: { commit: bigint; prepare: bigint };
  created?: Date;
}

/** A recorded event as the server sends it, decoded by the client exactly as in a read. */
function decoded(record: WireRecord = {}): ClientRecordedEvent {
  const message = new ReadResp.ReadEvent.RecordedEvent();
  message.setId(new UUID().setString(record.id ?? randomUUID()));
  message.setStreamIdentifier(new StreamIdentifier().setStreamName(new Uint8Array(Buffer.from(record.stream ?? 'payment-t:1'))));
  message.setStreamRevision((record.revision ?? 0n).toString());
  const metadata = message.getMetadataMap();
  metadata.set('type', record.type ?? 'PaymentRequested');
  metadata.set('content-type', record.contentType ?? 'application/json');
  metadata.set('created', ticksOf(record.created ?? new Date('2024-05-06T07:08:09.123Z')));
  const data = record.data ?? '{}';
  message.setData(typeof data === 'string' ? Buffer.from(data) : data);
  message.setCustomMetadata(Buffer.from(record.metadata ?? ''));
  if (record.position) {
    message.setCommitPosition(record.position.commit.toString());
    message.setPreparePosition(record.position.prepare.toString());
  }
  return convertGrpcRecord(message) as ClientRecordedEvent;
}

describe('expected revision, both ways', () => {
  it.each([
    ['no_stream', NO_STREAM],
    ['stream_exists', STREAM_EXISTS],
    ['any', ANY],
    [0, 0n],
    [41, 41n],
    [Number.MAX_SAFE_INTEGER, BigInt(Number.MAX_SAFE_INTEGER)],
  ] as const)('when ours is %p, then the client gets %p and it maps back unchanged', (ours, theirs) => {
    expect(toClientExpectedRevision(ours)).toBe(theirs);
    expect(fromClientExpectedRevision(theirs)).toBe(ours);
  });

  it.each([-1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1])('when ours is the invalid %p, then it throws RangeError', (bad) => {
    expect(() => toClientExpectedRevision(bad as ExpectedRevision)).toThrow(RangeError);
  });

  it('when the client reports a revision beyond 2^53 or below 0, then it is refused, never rounded', () => {
    expect(() => revisionFromClient(BigInt(Number.MAX_SAFE_INTEGER) + 1n)).toThrow(RangeError);
    expect(() => revisionFromClient(-2n)).toThrow(RangeError);
  });

  it('when the client reports the current revision, then no_stream and negative numbers mean the stream does not exist', () => {
    expect(fromClientCurrentRevision(NO_STREAM)).toBe('no_stream');
    expect(fromClientCurrentRevision(-1n)).toBe('no_stream');
    expect(fromClientCurrentRevision(0n)).toBe(0);
    expect(fromClientCurrentRevision(7n)).toBe(7);
  });
});

describe('WrongExpectedVersionError from the client', () => {
  /** The server's answer to a batch append that lost, as the client turns it into its error. */
  function fromServer(stream: string, expected: 'no_stream' | 'stream_exists' | 'any' | bigint, current: bigint | 'no_stream') {
    const details = new WrongExpectedVersion();
    if (current === 'no_stream') details.setCurrentNoStream(new Empty());
    else details.setCurrentStreamRevision(current.toString());
    if (expected === 'no_stream') details.setExpectedNoStream(new Empty());
    else if (expected === 'stream_exists') details.setExpectedStreamExists(new Empty());
    else if (expected === 'any') details.setExpectedAny(new Empty());
    else details.setExpectedStreamPosition(expected.toString());
    return ClientWrongExpectedVersionError.fromWrongExpectedVersion(details, stream);
  }

  it('when an exact revision lost to a newer one, then ours carries the stream, our expectation and the actual revision', () => {
    const error = wrongExpectedVersionFromClient(fromServer('payment-t:1', 0n, 2n), 'payment-t:1', 0);
    expect(error).toBeInstanceOf(WrongExpectedVersionError);
    expect(error).toMatchObject({ streamName: 'payment-t:1', expected: 0, actual: 2 });
  });

  it('when stream_exists met no stream, then the actual revision is no_stream', () => {
    expect(wrongExpectedVersionFromClient(fromServer('s', 'stream_exists', 'no_stream'), 's', 'stream_exists')).toMatchObject({ expected: 'stream_exists', actual: 'no_stream' });
  });

  it('when no expectation is given, then it is read from the client error (the other direction of the mapping)', () => {
    expect(wrongExpectedVersionFromClient(fromServer('s', 'no_stream', 4n), 's')).toMatchObject({ expected: 'no_stream', actual: 4 });
    expect(wrongExpectedVersionFromClient(fromServer('s', 9n, 4n), 's')).toMatchObject({ expected: 9, actual: 4 });
  });

  it('when the client builds the error from its own details, then the mapping reads it the same way', () => {
    const error = new ClientWrongExpectedVersionError(undefined, { streamName: 's', expected: 3n, current: 5n });
    expect(wrongExpectedVersionFromClient(error, 's')).toMatchObject({ expected: 3, actual: 5 });
  });

  it('recognises only the client error class', () => {
    expect(isClientWrongExpectedVersion(fromServer('s', 0n, 1n))).toBe(true);
    expect(isClientWrongExpectedVersion(new WrongExpectedVersionError('s', 0, 1))).toBe(false);
    expect(isClientWrongExpectedVersion(new Error('wrong expected version'))).toBe(false);
  });
});

describe('positions', () => {
  it('maps commit and prepare one to one', () => {
    expect(fromClientPosition({ commit: 1_234n, prepare: 1_200n })).toEqual({ commit: 1_234n, prepare: 1_200n });
    expect(toClientReadPosition({ commit: 1_234n, prepare: 1_200n })).toEqual({ commit: 1_234n, prepare: 1_200n });
  });

  it('when reading from our START (-1/-1), then the client reads from its start: ESDB positions are unsigned', () => {
    expect(toClientReadPosition(START)).toBe(CLIENT_START);
    expect(toClientReadPosition({ commit: -1n, prepare: 5n })).toBe(CLIENT_START);
  });

  it('compares strictly after, on the pair', () => {
    expect(isAfter({ commit: 10n, prepare: 12n }, { commit: 10n, prepare: 11n })).toBe(true);
    expect(isAfter({ commit: 10n, prepare: 11n }, { commit: 10n, prepare: 11n })).toBe(false);
    expect(isAfter({ commit: 9n, prepare: 99n }, { commit: 10n, prepare: 0n })).toBe(false);
    expect(isAfter({ commit: 0n, prepare: 0n }, START)).toBe(true);
  });
});

describe('events to the client', () => {
  it('keeps the caller id (so the server deduplicates by it), the type, and sends data and metadata as JSON', () => {
    const event: EventData = { id: randomUUID(), type: 'PaymentRequested', data: { amountMinor: 1_050, nested: { list: [1, 'two', null] } }, metadata: { requestId: 'r-1' } };
    expect(toClientEventData(event)).toEqual({ id: event.id, contentType: 'application/json', type: 'PaymentRequested', data: event.data, metadata: event.metadata });
  });
});

describe('recorded events from the client', () => {
  it('round-trips data and metadata JSON and carries stream, revision, position and time', () => {
    const id = randomUUID();
    const data = { amountMinor: 1_050, nested: { list: [1, 'two', null], flag: false } };
    const metadata = { requestId: 'r-1', principal: { kind: 'client', id: 'k' } };
    const event = fromClientRecordedEvent(
      decoded({ id, stream: 'payment-t:1', revision: 3n, type: 'PaymentSettled', data: JSON.stringify(data), metadata: JSON.stringify(metadata), position: { commit: 900n, prepare: 950n }, created: new Date('2024-05-06T07:08:09.123Z') }),
    );
    expect(event).toEqual({
      id,
      type: 'PaymentSettled',
      data,
      metadata,
      streamName: 'payment-t:1',
      revision: 3,
      position: { commit: 900n, prepare: 950n },
      recordedAt: new Date('2024-05-06T07:08:09.123Z'),
    });
  });

  it('when an event has no metadata bytes, then its metadata is an empty object', () => {
    expect(fromClientRecordedEvent(decoded({ metadata: '', position: { commit: 1n, prepare: 1n } })).metadata).toEqual({});
  });

  it('when the server sends no position (older than 22.6: unsigned -1, or none), then it fails naming the version needed', () => {
    const unknown = 18_446_744_073_709_551_615n;
    expect(() => fromClientRecordedEvent(decoded({ position: { commit: unknown, prepare: unknown } }))).toThrow(/22\.6/);
    expect(() => fromClientRecordedEvent({ ...decoded(), position: undefined } as ClientRecordedEvent)).toThrow(/22\.6/);
  });

  it.each([
    ['binary data', { contentType: 'application/octet-stream', data: new Uint8Array([1, 2, 3]) }],
    ['JSON that is an array', { data: '[1,2]' }],
    ['JSON that does not parse', { data: '{"a":' }],
    ['metadata that is not JSON', { metadata: 'not json' }],
    ['metadata that is a JSON array', { metadata: '[]' }],
  ] as const)('when an event holds %s (a foreign writer), then it fails loudly instead of decoding half of it', (_, record) => {
    expect(() => fromClientRecordedEvent(decoded({ ...record, position: { commit: 1n, prepare: 1n } }))).toThrow();
  });
});

describe('filters', () => {
  const payment = { streamName: 'payment-t:1', type: 'PaymentRequested' };

  it.each([
    ['no filter', undefined, true],
    ['a matching prefix', { streamPrefixes: ['other-', 'payment-'] }, true],
    ['no matching prefix', { streamPrefixes: ['other-'] }, false],
    ['a matching type', { eventTypes: ['PaymentRequested'] }, true],
    ['a type that only starts the same', { eventTypes: ['Payment'] }, false],
    ['both matching', { streamPrefixes: ['payment-'], eventTypes: ['PaymentRequested'] }, true],
    ['prefix matching, type not', { streamPrefixes: ['payment-'], eventTypes: ['PaymentSettled'] }, false],
  ] as const)('when the filter is %s, then a payment event passes: %p', (_, filter, passes) => {
    expect(matchesFilter(payment, filter)).toBe(passes);
  });

  it('never lets a system stream or system event type through, whatever the filter', () => {
    expect(matchesFilter({ streamName: '$$payment-t:1', type: '$metadata' }, undefined)).toBe(false);
    expect(matchesFilter({ streamName: 'payment-t:1', type: '$>' }, { streamPrefixes: ['payment-'] })).toBe(false);
    expect(matchesFilter({ streamName: '$ce-payment', type: 'PaymentRequested' }, { eventTypes: ['PaymentRequested'] })).toBe(false);
  });

  it('when the filter has stream prefixes, then the server filters on stream name prefixes (types are checked here)', () => {
    const filter = toServerFilter({ streamPrefixes: ['payment-'], eventTypes: ['PaymentRequested'] }) as PrefixesFilter;
    expect(filter).toMatchObject({ filterOn: 'streamName', prefixes: ['payment-'] });
  });

  it('when the filter has only event types, then the server filters on an anchored regex that matches exactly those types', () => {
    const filter = toServerFilter({ eventTypes: ['PaymentRequested', 'PaymentSettled'] }) as RegexFilter;
    expect(filter.filterOn).toBe('eventType');
    const regex = new RegExp(filter.regex);
    expect(['PaymentRequested', 'PaymentSettled'].every((type) => regex.test(type))).toBe(true);
    expect(['PaymentRequestedTwice', 'XPaymentSettled', 'Payment', '$metadata'].some((type) => regex.test(type))).toBe(false);
  });

  it('when there is no filter, then the server still excludes system events, as the client helper does', () => {
    expect(toServerFilter(undefined)).toEqual(excludeSystemEvents());
  });

  it('escapes regular-expression syntax in event types', () => {
    const regex = new RegExp(exactAlternativesRegex(['a.b', 'c+d', 'e$', '(f|g)', 'h[i]']));
    expect(['a.b', 'c+d', 'e$', '(f|g)', 'h[i]'].every((type) => regex.test(type))).toBe(true);
    expect(['axb', 'ccd', 'e', 'f', 'g', 'hi'].some((type) => regex.test(type))).toBe(false);
    expect(() => exactAlternativesRegex([])).toThrow(RangeError);
  });
});

describe('connection strings', () => {
  it.each([
    ['esdb://localhost:2113?tls=false', 'esdb://localhost:2113?tls=false'],
    ['kurrentdb://localhost:2113?tls=false', 'esdb://localhost:2113?tls=false'],
    ['kdb+discover://a:2113,b:2113,c:2113', 'esdb+discover://a:2113,b:2113,c:2113'],
    ['esdb+discover://admin:changeit@cluster.local:2113', 'esdb+discover://admin:changeit@cluster.local:2113'],
  ])('when configured as %s, then the client gets %s and parses it', async (configured, forClient) => {
    expect(toClientConnectionString(configured)).toBe(forClient);
    // Parsing is all the constructor does: the channel opens on the first call.
    const client = EventStoreDBClient.connectionString(forClient);
    await client.dispose();
  });

  it('when the scheme is not one of EventStoreDB/KurrentDB, then it is refused', () => {
    expect(() => toClientConnectionString('postgres://localhost:5432')).toThrow(RangeError);
  });

  it('hides the user name and password in messages', () => {
    expect(redactConnectionString('esdb://admin:changeit@node1:2113,node2:2113?tls=true')).toBe('esdb://***@node1:2113,node2:2113?tls=true');
    expect(redactConnectionString('esdb://node1:2113?tls=false')).toBe('esdb://node1:2113?tls=false');
  });
});
