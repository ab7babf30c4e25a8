/**
 * The shared event store contract on EventStoreDB, when the test run found one
 * (EVENTSTORE_URL, or a testcontainers container where a Docker engine answers:
 * see test/support/external-services.ts). Without one, every contract test is
 * registered as skipped under a name that says why, and a warning is printed,
 * so the run's totals never count them as passed.
 *
 * Runs never collide on a long-lived shared server: every contract test writes
 * under its own random prefix (`uniquePrefix`) and reads $all only through it.
 *
 * The connect tests at the end need no server: they prove the fail-fast start.
 */
import { randomUUID } from 'node:crypto';
import { eventStoreDbSkipReason, eventStoreDbUrl } from '../../../test/support/databases';
import { describeEventStoreContract, eventData, uniquePrefix, type OpenedContractStore } from '../event-store.contract';
import { EventStoreDbEventStore, EventStoreDbUnreachableError } from './eventstoredb-event-store';

const url = eventStoreDbUrl();
const open = async (): Promise<OpenedContractStore> => {
  const store = await EventStoreDbEventStore.connect(url!, { timeoutMs: 10_000 });
  return { store, dispose: () => store.close() };
};

if (url) {
  describeEventStoreContract('EventStoreDbEventStore', open);
  describeEventStoreDbSpecifics();
} else {
  const reason = eventStoreDbSkipReason();
  console.warn(`[paystream tests] SKIPPED: the EventStoreDB event store contract did not run: ${reason}`);
  describe.skip(`SKIPPED, no EventStoreDB (${reason})`, () => {
    describeEventStoreContract('EventStoreDbEventStore', open);
    describeEventStoreDbSpecifics();
  });
}

/** What only this adapter does: the places where EventStoreDB and the port differ. */
function describeEventStoreDbSpecifics(): void {
  describe('EventStoreDbEventStore specifics', () => {
    let store: EventStoreDbEventStore;
    beforeAll(async () => {
      store = await EventStoreDbEventStore.connect(url!, { timeoutMs: 10_000 });
    });
    afterAll(async () => {
      await store?.close();
    });

    it('when ids stored earlier in the stream come again at the current revision, then it is a conflict, not a second copy (the server alone would write them)', async () => {
      const stream = `${uniquePrefix('esdb-duplicate')}stream`;
      const first = eventData('Thing');
      await store.appendToStream(stream, [first, eventData('Thing')], { expectedRevision: 'no_stream' });
      await expect(store.appendToStream(stream, [first], { expectedRevision: 1 })).rejects.toMatchObject({ name: 'WrongExpectedVersionError', actual: 1 });
      await expect(store.appendToStream(stream, [first], { expectedRevision: 'any' })).rejects.toMatchObject({ name: 'WrongExpectedVersionError' });
      expect(await store.readStream(stream)).toHaveLength(2);
    });

    it('when $all is read without a filter, then no system record ($-streams, $-types) comes back', async () => {
      const head = await store.headPosition();
      await store.appendToStream(`${uniquePrefix('esdb-system')}stream`, [eventData('Thing')], { expectedRevision: 'no_stream' });
      const page = await store.readAll({ fromPosition: head, limit: 1_000 });
      expect(page.length).toBeGreaterThan(0);
      expect(page.every((event) => !event.streamName.startsWith('$') && !event.type.startsWith('$'))).toBe(true);
    });

    it('when a stream name begins with $, then the append is refused before it reaches the server', async () => {
      await expect(store.appendToStream(`$${randomUUID()}`, [eventData('Thing')], { expectedRevision: 'any' })).rejects.toThrow(RangeError);
    });
  });
}

describe('EventStoreDbEventStore.connect, without a server', () => {
  it('when the connection string is malformed, then it fails at once, naming EVENTSTORE_URL and hiding the password', async () => {
    const failure = EventStoreDbEventStore.connect('esdb://admin:secret@', { timeoutMs: 1_000 });
    await expect(failure).rejects.toThrow(RangeError);
    await expect(failure).rejects.toThrow(/EVENTSTORE_URL/);
    await expect(failure).rejects.not.toThrow(/secret/);
  });

  it('when the scheme is not EventStoreDB/KurrentDB, then it fails at once', async () => {
    await expect(EventStoreDbEventStore.connect('postgres://localhost:5432/db', { timeoutMs: 1_000 })).rejects.toThrow(/EVENTSTORE_URL/);
  });

  it('when nothing listens at the address, then it fails within the timeout, naming the address without its credentials', async () => {
    const startedAt = Date.now();
    const failure = EventStoreDbEventStore.connect('esdb://admin:secret@127.0.0.1:1?tls=false', { timeoutMs: 1_500 });
    await expect(failure).rejects.toThrow(EventStoreDbUnreachableError);
    await expect(failure).rejects.toThrow(/127\.0\.0\.1:1/);
    await expect(failure).rejects.not.toThrow(/secret/);
    expect(Date.now() - startedAt).toBeLessThan(1_500 + 2_000);
  });
});
