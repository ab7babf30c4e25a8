/**
 * The one contract every event store adapter passes. It states EventStoreDB's
 * semantics through our port, so that an adapter that passes it can replace any
 * other. Adapter-neutral on purpose: each test writes streams under its own
 * random prefix and reads the global log only through that prefix and from the
 * head it saw first, so one long-lived shared server can serve every run.
 */
import { randomUUID } from 'node:crypto';
import {
  WrongExpectedVersionError,
  comparePositions,
  type AllSubscription,
  type EventData,
  type EventStore,
  type ExpectedRevision,
  type GlobalPosition,
  type JsonObject,
  type RecordedEvent,
} from './port';

export interface OpenedContractStore {
  readonly store: EventStore;
  dispose(): Promise<void>;
}

const LIVE_WAIT_MS_MAX = 10_000;

export function describeEventStoreContract(name: string, open: () => Promise<OpenedContractStore>): void {
  describe(`event store contract: ${name}`, () => {
    let opened: OpenedContractStore;
    let store: EventStore;

    beforeAll(async () => {
      opened = await open();
      store = opened.store;
    });
    afterAll(async () => {
      await opened?.dispose();
    });

    describeAppends(() => store);
    describeIdempotentAppends(() => store);
    describeReads(() => store);
    describeSubscriptions(() => store);
    describeConcurrency(() => store);
  });
}

/** A prefix no other test (in this run or any other on a shared server) uses. */
export function uniquePrefix(label: string): string {
  return `contract_${label}_${randomUUID().slice(0, 8)}-`;
}

export function eventData(type: string, data: JsonObject = {}, metadata: JsonObject = {}): EventData {
  return { id: randomUUID(), type, data, metadata };
}

function someEvents(count: number, type = 'Thing'): EventData[] {
  return Array.from({ length: count }, (_, index) => eventData(type, { index }));
}

async function conflictOf(promise: Promise<unknown>): Promise<WrongExpectedVersionError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(WrongExpectedVersionError);
  return error as WrongExpectedVersionError;
}

function describeAppends(store: () => EventStore): void {
  describe('expected revision', () => {
    let stream: string;
    beforeEach(async () => {
      stream = `${uniquePrefix('expected')}stream`;
    });

    it('when the stream does not exist, then no_stream and any append, starting at revision 0', async () => {
      const first = await store().appendToStream(stream, someEvents(2), { expectedRevision: 'no_stream' });
      expect(first.nextExpectedRevision).toBe(1);
      const other = `${stream}-any`;
      const second = await store().appendToStream(other, someEvents(1), { expectedRevision: 'any' });
      expect(second.nextExpectedRevision).toBe(0);
    });

    it('when the stream does not exist, then stream_exists and an exact revision fail with actual no_stream', async () => {
      for (const expectedRevision of ['stream_exists', 0, 3] as ExpectedRevision[]) {
        const error = await conflictOf(store().appendToStream(stream, someEvents(1), { expectedRevision }));
        expect(error.actual).toBe('no_stream');
        expect(error.expected).toBe(expectedRevision);
        expect(error.streamName).toBe(stream);
      }
      expect(await store().readStream(stream)).toEqual([]);
    });

    it('when the stream exists, then no_stream fails carrying the actual revision', async () => {
      await store().appendToStream(stream, someEvents(3), { expectedRevision: 'no_stream' });
      const error = await conflictOf(store().appendToStream(stream, someEvents(1), { expectedRevision: 'no_stream' }));
      expect(error.actual).toBe(2);
      expect(await store().readStream(stream)).toHaveLength(3);
    });

    it('when the stream exists, then stream_exists, any and the exact revision append after its last event', async () => {
      await store().appendToStream(stream, someEvents(1), { expectedRevision: 'no_stream' });
      expect((await store().appendToStream(stream, someEvents(1), { expectedRevision: 'stream_exists' })).nextExpectedRevision).toBe(1);
      expect((await store().appendToStream(stream, someEvents(1), { expectedRevision: 'any' })).nextExpectedRevision).toBe(2);
      expect((await store().appendToStream(stream, someEvents(2), { expectedRevision: 2 })).nextExpectedRevision).toBe(4);
      expect((await store().readStream(stream)).map((event) => event.revision)).toEqual([0, 1, 2, 3, 4]);
    });

    it('when the exact revision is stale or ahead, then the append fails carrying the actual revision and writes nothing', async () => {
      await store().appendToStream(stream, someEvents(3), { expectedRevision: 'no_stream' });
      for (const expectedRevision of [0, 1, 3, 10]) {
        const error = await conflictOf(store().appendToStream(stream, someEvents(1), { expectedRevision }));
        expect(error.actual).toBe(2);
      }
      expect(await store().readStream(stream)).toHaveLength(3);
    });

    it('when an event id is not a UUID, then the append is refused and writes nothing', async () => {
      const bad = { ...eventData('Thing'), id: 'not-a-uuid' };
      await expect(store().appendToStream(stream, [bad], { expectedRevision: 'any' })).rejects.toThrow();
      expect(await store().readStream(stream)).toEqual([]);
    });
  });
}

function describeIdempotentAppends(store: () => EventStore): void {
  describe('idempotent append', () => {
    let stream: string;
    beforeEach(() => {
      stream = `${uniquePrefix('idempotent')}stream`;
    });

    it('when the same ids are appended again at the same position, then the original result comes back and nothing is duplicated', async () => {
      const batch = someEvents(2);
      const original = await store().appendToStream(stream, batch, { expectedRevision: 'no_stream' });
      const again = await store().appendToStream(stream, batch, { expectedRevision: 'no_stream' });
      expect(again).toEqual(original);
      const next = someEvents(1);
      const third = await store().appendToStream(stream, next, { expectedRevision: 1 });
      expect(await store().appendToStream(stream, next, { expectedRevision: 1 })).toEqual(third);
      expect((await store().readStream(stream)).map((event) => event.id)).toEqual([...batch, ...next].map((event) => event.id));
    });

    it('when the same ids are appended at a different position, then it fails with the actual revision', async () => {
      const batch = someEvents(2);
      await store().appendToStream(stream, batch, { expectedRevision: 'no_stream' });
      const error = await conflictOf(store().appendToStream(stream, batch, { expectedRevision: 1 }));
      expect(error.actual).toBe(1);
      expect(await store().readStream(stream)).toHaveLength(2);
    });

    it('when a batch repeats only some stored ids, then it fails and writes nothing', async () => {
      const batch = someEvents(2);
      await store().appendToStream(stream, batch, { expectedRevision: 'no_stream' });
      await conflictOf(store().appendToStream(stream, [batch[0]!, eventData('Thing')], { expectedRevision: 'no_stream' }));
      expect(await store().readStream(stream)).toHaveLength(2);
    });
  });
}

function describeReads(store: () => EventStore): void {
  describe('reads', () => {
    it('readStream returns the events as written, in revision order, within the asked range', async () => {
      const stream = `${uniquePrefix('read')}stream`;
      const batch = Array.from({ length: 5 }, (_, index) => eventData(`Type${index}`, { index, nested: { list: [1, 'two', null] } }, { causation: 'test' }));
      const appended = await store().appendToStream(stream, batch, { expectedRevision: 'no_stream' });
      const all = await store().readStream(stream);
      expect(all.map(({ id, type, data, metadata }) => ({ id, type, data, metadata }))).toEqual(batch);
      expect(all.map((event) => event.revision)).toEqual([0, 1, 2, 3, 4]);
      expect(all.every((event) => event.streamName === stream && event.recordedAt instanceof Date)).toBe(true);
      expect(all[4]!.position).toEqual(appended.position);
      expect((await store().readStream(stream, { fromRevision: 2 })).map((event) => event.revision)).toEqual([2, 3, 4]);
      expect((await store().readStream(stream, { fromRevision: 1, maxCount: 2 })).map((event) => event.revision)).toEqual([1, 2]);
      expect(await store().readStream(stream, { fromRevision: 5 })).toEqual([]);
      expect(await store().readStream(`${stream}-missing`)).toEqual([]);
    });

    it('readAll returns the log in position order, strictly after fromPosition, within the limit and the filter', async () => {
      const prefix = uniquePrefix('readall');
      const head = await store().headPosition();
      const written = await appendInterleaved(store(), prefix);
      const page = await store().readAll({ fromPosition: head, limit: 100, filter: { streamPrefixes: [prefix] } });
      expect(page.map((event) => event.id)).toEqual(written.map((event) => event.id));
      expectIncreasing(page.map((event) => event.position));
      const limited = await store().readAll({ fromPosition: head, limit: 2, filter: { streamPrefixes: [prefix] } });
      expect(limited.map((event) => event.id)).toEqual(page.slice(0, 2).map((event) => event.id));
      const after = await store().readAll({ fromPosition: page[1]!.position, limit: 100, filter: { streamPrefixes: [prefix] } });
      expect(after.map((event) => event.id)).toEqual(page.slice(2).map((event) => event.id));
    });

    it('readAll filters by stream prefix, by event type, and by both together', async () => {
      const prefix = uniquePrefix('filter');
      const head = await store().headPosition();
      await store().appendToStream(`${prefix}a-1`, [eventData(`${prefix}Opened`), eventData(`${prefix}Closed`)], { expectedRevision: 'no_stream' });
      await store().appendToStream(`${prefix}b-1`, [eventData(`${prefix}Opened`)], { expectedRevision: 'no_stream' });
      const read = (filter: { streamPrefixes?: string[]; eventTypes?: string[] }) =>
        store().readAll({ fromPosition: head, limit: 100, filter }).then((events) => events.map((event) => `${event.streamName}:${event.type}`));
      expect(await read({ streamPrefixes: [`${prefix}a-`] })).toEqual([`${prefix}a-1:${prefix}Opened`, `${prefix}a-1:${prefix}Closed`]);
      expect(await read({ eventTypes: [`${prefix}Opened`] })).toEqual([`${prefix}a-1:${prefix}Opened`, `${prefix}b-1:${prefix}Opened`]);
      expect(await read({ streamPrefixes: [`${prefix}b-`], eventTypes: [`${prefix}Opened`, `${prefix}Closed`] })).toEqual([`${prefix}b-1:${prefix}Opened`]);
      expect(await read({ streamPrefixes: [`${prefix}b-`, `${prefix}a-`], eventTypes: [`${prefix}Closed`] })).toEqual([`${prefix}a-1:${prefix}Closed`]);
    });

    it('headPosition moves forward with every append and is never behind the newest append', async () => {
      const stream = `${uniquePrefix('head')}stream`;
      const before = await store().headPosition();
      const appended = await store().appendToStream(stream, someEvents(1), { expectedRevision: 'no_stream' });
      const after = await store().headPosition();
      expect(comparePositions(appended.position, before)).toBeGreaterThan(0);
      expect(comparePositions(after, appended.position)).toBeGreaterThanOrEqual(0);
      await store().ping();
    });

    it('lastWrittenPosition is never behind an acknowledged append, and no append answers a position after it', async () => {
      const stream = `${uniquePrefix('written')}stream`;
      const appended = await store().appendToStream(stream, someEvents(2), { expectedRevision: 'no_stream' });
      const written = await store().lastWrittenPosition();
      expect(comparePositions(written, appended.position)).toBeGreaterThanOrEqual(0);
      expect(comparePositions(written, await store().headPosition())).toBeGreaterThanOrEqual(0);
      const next = await store().appendToStream(stream, someEvents(1), { expectedRevision: 1 });
      expect(comparePositions(next.position, written)).toBeGreaterThan(0);
      expect(comparePositions(await store().lastWrittenPosition(), next.position)).toBeGreaterThanOrEqual(0);
    });
  });
}

/** Writes to two streams of `prefix` in an interleaved order; returns the events in write order. */
async function appendInterleaved(store: EventStore, prefix: string): Promise<EventData[]> {
  const written: EventData[] = [];
  const revisions = new Map<string, number>();
  for (const stream of ['a', 'b', 'a', 'a', 'b']) {
    const name = `${prefix}${stream}`;
    const events = someEvents(1);
    const revision = revisions.get(name);
    const result = await store.appendToStream(name, events, { expectedRevision: revision ?? 'no_stream' });
    revisions.set(name, result.nextExpectedRevision);
    written.push(...events);
  }
  return written;
}

function expectIncreasing(positions: readonly GlobalPosition[]): void {
  for (let index = 1; index < positions.length; index++) {
    expect(comparePositions(positions[index - 1]!, positions[index]!)).toBeLessThan(0);
  }
}

/** Pulls `count` events from a running subscription, failing after LIVE_WAIT_MS_MAX. */
export async function nextEvents(iterator: AsyncIterator<RecordedEvent>, count: number, waitMsMax = LIVE_WAIT_MS_MAX): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`received ${events.length} of ${count} events within ${waitMsMax} ms`)), waitMsMax);
  });
  try {
    while (events.length < count) {
      const next = await Promise.race([iterator.next(), timeout]);
      if (next.done) throw new Error(`subscription ended after ${events.length} of ${count} events`);
      events.push(next.value);
    }
    return events;
  } finally {
    clearTimeout(timer);
  }
}

function describeSubscriptions(store: () => EventStore): void {
  describe('subscribeToAll', () => {
    let subscription: AllSubscription | undefined;
    afterEach(async () => {
      await subscription?.close();
      subscription = undefined;
    });

    it('when subscribed, then history comes first and live events follow, in order', async () => {
      const prefix = uniquePrefix('subscribe');
      const head = await store().headPosition();
      const history = await appendInterleaved(store(), prefix);
      subscription = store().subscribeToAll({ fromPosition: head, filter: { streamPrefixes: [prefix] }, batchSizeMax: 2 });
      const iterator = subscription[Symbol.asyncIterator]();
      const caughtUp = await nextEvents(iterator, history.length);
      expect(caughtUp.map((event) => event.id)).toEqual(history.map((event) => event.id));
      const live = someEvents(2);
      await store().appendToStream(`${prefix}live`, live, { expectedRevision: 'no_stream' });
      const received = await nextEvents(iterator, 2);
      expect(received.map((event) => event.id)).toEqual(live.map((event) => event.id));
      expectIncreasing([...caughtUp, ...received].map((event) => event.position));
    });

    it('when resumed from a checkpoint in the middle of a stream, then exactly the rest arrives', async () => {
      const prefix = uniquePrefix('resume');
      const stream = `${prefix}stream`;
      const batch = someEvents(6);
      await store().appendToStream(stream, batch.slice(0, 3), { expectedRevision: 'no_stream' });
      await store().appendToStream(stream, batch.slice(3), { expectedRevision: 2 });
      const checkpoint = (await store().readStream(stream))[2]!.position;
      subscription = store().subscribeToAll({ fromPosition: checkpoint, filter: { streamPrefixes: [prefix] } });
      const iterator = subscription[Symbol.asyncIterator]();
      const rest = await nextEvents(iterator, 3);
      expect(rest.map((event) => event.id)).toEqual(batch.slice(3).map((event) => event.id));
      const live = someEvents(1);
      await store().appendToStream(stream, live, { expectedRevision: 5 });
      expect((await nextEvents(iterator, 1))[0]!.id).toBe(live[0]!.id);
    });

    it('when closed while a for-await waits for events, then the loop ends promptly', async () => {
      const prefix = uniquePrefix('close');
      subscription = store().subscribeToAll({ fromPosition: await store().headPosition(), filter: { streamPrefixes: [prefix] } });
      const seen: RecordedEvent[] = [];
      const loop = (async () => {
        for await (const event of subscription!) seen.push(event);
      })();
      await new Promise((resolve) => setTimeout(resolve, 100));
      const closedAt = Date.now();
      await subscription.close();
      await loop;
      expect(Date.now() - closedAt).toBeLessThan(2_000);
      expect(seen).toEqual([]);
    });
  });
}

function describeConcurrency(store: () => EventStore): void {
  describe('concurrent writers', () => {
    it('when 50 writers append to one stream with the same expected revision, then exactly one wins and the rest get WrongExpectedVersionError', async () => {
      const stream = `${uniquePrefix('race')}stream`;
      await store().appendToStream(stream, someEvents(1), { expectedRevision: 'no_stream' });
      const attempts = Array.from({ length: 50 }, () => store().appendToStream(stream, someEvents(2), { expectedRevision: 0 }));
      const outcomes = await Promise.allSettled(attempts);
      const winners = outcomes.filter((outcome) => outcome.status === 'fulfilled');
      const losers = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason as unknown] : []));
      expect(winners).toHaveLength(1);
      expect(losers).toHaveLength(49);
      for (const loser of losers) {
        expect(loser).toBeInstanceOf(WrongExpectedVersionError);
        expect((loser as WrongExpectedVersionError).actual).toBe(2);
      }
      expect(await store().readStream(stream)).toHaveLength(3);
    });

    it('when 50 writers race to create one stream, then exactly one wins', async () => {
      const stream = `${uniquePrefix('create')}stream`;
      const outcomes = await Promise.allSettled(Array.from({ length: 50 }, () => store().appendToStream(stream, someEvents(1), { expectedRevision: 'no_stream' })));
      expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
      for (const outcome of outcomes) {
        if (outcome.status === 'rejected') expect((outcome.reason as WrongExpectedVersionError).actual).toBe(0);
      }
    });

    it('when writers append to different streams at once, then all succeed and a subscriber sees each event once, in order', async () => {
      const prefix = uniquePrefix('parallel');
      const head = await store().headPosition();
      const subscription = store().subscribeToAll({ fromPosition: head, filter: { streamPrefixes: [prefix] }, batchSizeMax: 7 });
      try {
        const streams = Array.from({ length: 25 }, (_, index) => `${prefix}${index}`);
        const results = await Promise.all(streams.map((stream) => store().appendToStream(stream, someEvents(2), { expectedRevision: 'no_stream' })));
        expect(results.every((result) => result.nextExpectedRevision === 1)).toBe(true);
        const received = await nextEvents(subscription[Symbol.asyncIterator](), 50);
        expect(new Set(received.map((event) => event.id)).size).toBe(50);
        expectIncreasing(received.map((event) => event.position));
      } finally {
        await subscription.close();
      }
    });
  });
}
