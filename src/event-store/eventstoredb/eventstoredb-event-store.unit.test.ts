/**
 * The shared contract against a simulated EventStoreDB (testing/simulated-server.ts):
 * proof of the adapter's own logic (pre-read, read-back, paging through $all,
 * exclusive starts, filters, close) on any machine. It proves nothing about the
 * server itself; that is the live contract run in
 * eventstoredb-event-store.contract.test.ts.
 */
import { Readable } from 'node:stream';
import { describeEventStoreContract, eventData, uniquePrefix } from '../event-store.contract';
import { EventStoreDbEventStore, EventStoreDbUnreachableError } from './eventstoredb-event-store';
import { SimulatedEventStoreDb } from './testing/simulated-server';

describeEventStoreContract('EventStoreDbEventStore on a simulated server (adapter logic only)', async () => {
  const store = await EventStoreDbEventStore.withClient(new SimulatedEventStoreDb().asClient(), { timeoutMs: 1_000 });
  return { store, dispose: () => store.close() };
});

describe('EventStoreDbEventStore on a simulated server', () => {
  let server: SimulatedEventStoreDb;
  let store: EventStoreDbEventStore;
  beforeEach(async () => {
    server = new SimulatedEventStoreDb();
    store = await EventStoreDbEventStore.withClient(server.asClient(), { timeoutMs: 1_000 });
  });
  afterEach(async () => {
    await store.close();
  });

  it('when a batch of several events is appended, then its position is its last event as readers see it, not the write commit position the server answers', async () => {
    const stream = `${uniquePrefix('position')}stream`;
    const appended = await store.appendToStream(stream, [eventData('A'), eventData('B'), eventData('C')], { expectedRevision: 'no_stream' });
    const read = await store.readStream(stream);
    expect(appended.position).toEqual(read[2]!.position);
    expect(read[2]!.position.prepare).toBeGreaterThan(read[2]!.position.commit);
  });

  it('when readAll pages past many non-matching records, then it still returns the asked number of matching events', async () => {
    const prefix = uniquePrefix('sparse');
    const head = await store.headPosition();
    for (let index = 0; index < 600; index += 1) await store.appendToStream(`${prefix}noise-${index}`, [eventData('Noise')], { expectedRevision: 'no_stream' });
    await store.appendToStream(`${prefix}wanted-1`, [eventData('Wanted'), eventData('Wanted')], { expectedRevision: 'no_stream' });
    const page = await store.readAll({ fromPosition: head, limit: 2, filter: { eventTypes: ['Wanted'] } });
    expect(page.map((event) => event.streamName)).toEqual([`${prefix}wanted-1`, `${prefix}wanted-1`]);
  });

  it('when the newest records are system records, then headPosition is the newest event of ours', async () => {
    const stream = `${uniquePrefix('head')}stream`;
    let last;
    for (let index = 0; index < 3; index += 1) last = await store.appendToStream(stream, [eventData('Thing')], { expectedRevision: index === 0 ? 'no_stream' : index - 1 });
    expect(await store.headPosition()).toEqual(last!.position);
  });

  it.each([
    ['ends the subscription by itself', (readable: Readable) => readable.push(null), /ended the subscription/],
    ['fails the subscription', (readable: Readable) => readable.destroy(new Error('connection reset')), /connection reset/],
  ] as const)('when the server %s, then the iteration fails, so the consumer resubscribes from its checkpoint', async (_, end, message) => {
    const original = server.subscribeToAll.bind(server);
    server.subscribeToAll = (options) => {
      const readable = original(options);
      setTimeout(() => end(readable), 20);
      return readable;
    };
    const subscription = store.subscribeToAll({ filter: { streamPrefixes: [uniquePrefix('ended')] } });
    const consume = (async () => {
      for await (const _event of subscription) continue;
    })();
    await expect(consume).rejects.toThrow(message);
  });

  it('when closed, then the client is disposed and every call fails as closed', async () => {
    await store.close();
    expect(server.disposed).toBe(true);
    await expect(store.readStream('any')).rejects.toThrow(/closed/);
  });

  it('when the server never answers the probe, then withClient fails within the timeout and disposes the client', async () => {
    const silent = new SimulatedEventStoreDb();
    silent.readAll = () => new Readable({ objectMode: true, read() {} });
    const startedAt = Date.now();
    await expect(EventStoreDbEventStore.withClient(silent.asClient(), { timeoutMs: 300 })).rejects.toThrow(EventStoreDbUnreachableError);
    expect(Date.now() - startedAt).toBeLessThan(2_000);
    expect(silent.disposed).toBe(true);
  });
});
