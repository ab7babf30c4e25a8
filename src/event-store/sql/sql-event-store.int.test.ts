/**
 * What the SQL store promises beyond the shared contract: notifications across
 * processes, ownership on close, bounds, and raw database errors never leaking
 * out of a lost race.
 */
import { randomUUID } from 'node:crypto';
import { openTestDatabase, serverPostgresUrl, sqlEngines, type EngineName } from '../../../test/support/databases';
import { PostgresDatabase, type Database } from '../../db/database';
import { nextEvents } from '../event-store.contract';
import { WrongExpectedVersionError, type EventData } from '../port';
import { SqlEventStore } from './sql-event-store';

const event = (id = randomUUID()): EventData => ({ id, type: 'Thing', data: {}, metadata: {} });
const POLL_NEVER_MS = 60_000;

/** A second handle on the same database, as a second process would have (PGlite has one process). */
async function secondHandle(engine: EngineName, database: Database): Promise<{ database: Database; close(): Promise<void> }> {
  if (engine === 'pglite') return { database, close: async () => undefined };
  const schema = (await database.query<{ schema: string }>('SELECT current_schema() AS schema')).rows[0]!.schema;
  const other = await PostgresDatabase.open({ connectionString: serverPostgresUrl()!, schema });
  return { database: other, close: () => other.close() };
}

describe.each(sqlEngines())('SqlEventStore on %s', (engine) => {
  let database: Database & { dispose(): Promise<void> };
  let store: SqlEventStore;

  beforeAll(async () => {
    database = await openTestDatabase(engine);
    store = await SqlEventStore.open(database);
  });
  afterAll(async () => {
    await store.close();
    await database.dispose();
  });

  // Server PostgreSQL is too far from its next power of ten to get there in a test; PGlite starts some hundreds in.
  (engine === 'pglite' ? it : it.skip)('when transaction ids gain a digit (999 to 1000), then headPosition and lastWrittenPosition still name the newest event', async () => {
    const nextTransactionId = async () => BigInt((await database.query<{ id: string }>('SELECT pg_current_xact_id()::text AS id')).rows[0]!.id);
    let current = await nextTransactionId();
    const boundary = 10n ** BigInt(current.toString().length);
    expect(boundary - current).toBeLessThan(10_000n);
    while (current < boundary - 3n) current = await nextTransactionId();
    const shorter = await store.appendToStream(`digits-${randomUUID()}`, [event()], { expectedRevision: 'no_stream' });
    while (current < boundary) current = await nextTransactionId();
    const longer = await store.appendToStream(`digits-${randomUUID()}`, [event()], { expectedRevision: 'no_stream' });
    // The scenario is meaningful: the ids compare the other way round as text.
    expect([shorter.position.commit < boundary, longer.position.commit > boundary, String(shorter.position.commit) > String(longer.position.commit)]).toEqual([true, true, true]);
    expect(await store.headPosition()).toEqual(longer.position);
    expect(await store.lastWrittenPosition()).toEqual(longer.position);
  });

  it('when another store instance appends, then a caught-up subscriber wakes by notification, not by its poll timer', async () => {
    const handle = await secondHandle(engine, database);
    const listener = await SqlEventStore.open(handle.database, { pollIntervalMs: POLL_NEVER_MS });
    const stream = `notified-${randomUUID()}`;
    const subscription = listener.subscribeToAll({ fromPosition: await listener.headPosition(), filter: { streamPrefixes: [stream] } });
    try {
      const iterator = subscription[Symbol.asyncIterator]();
      const first = nextEvents(iterator, 1, 5_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const written = event();
      await store.appendToStream(stream, [written], { expectedRevision: 'no_stream' });
      expect((await first)[0]!.id).toBe(written.id);
    } finally {
      await listener.close();
      await handle.close();
    }
  });

  it('when the same event id races into two streams, then one append wins and the other gets WrongExpectedVersionError', async () => {
    const id = randomUUID();
    const outcomes = await Promise.allSettled([`race-a-${id}`, `race-b-${id}`].map((stream) => store.appendToStream(stream, [event(id)], { expectedRevision: 'any' })));
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    const loser = outcomes.find((outcome) => outcome.status === 'rejected') as PromiseRejectedResult;
    expect(loser.reason).toBeInstanceOf(WrongExpectedVersionError);
    expect((loser.reason as WrongExpectedVersionError).actual).toBe('no_stream');
  });

  it('when asked beyond its bounds, then it refuses with RangeError before touching the database', async () => {
    const bounded = await SqlEventStore.open(database, { eventsPerAppendMax: 2, readCountMax: 5 });
    try {
      await expect(bounded.appendToStream('bounded', [event(), event(), event()], { expectedRevision: 'any' })).rejects.toThrow(RangeError);
      await expect(bounded.readAll({ limit: 6 })).rejects.toThrow(RangeError);
      await expect(bounded.readAll({ limit: 1, filter: { eventTypes: [] } })).rejects.toThrow(RangeError);
      expect(() => bounded.subscribeToAll({ batchSizeMax: 6 })).toThrow(RangeError);
      await expect(bounded.readStream('bounded', { maxCount: -1 })).rejects.toThrow(RangeError);
    } finally {
      await bounded.close();
    }
  });

  it('when closed, then its subscriptions end and the database it was given stays open', async () => {
    const borrower = await SqlEventStore.open(database);
    const subscription = borrower.subscribeToAll({ fromPosition: await borrower.headPosition(), filter: { streamPrefixes: ['nothing-'] } });
    const loop = (async () => {
      for await (const _ of subscription) throw new Error('no event expected');
    })();
    await borrower.close();
    await loop;
    await expect(borrower.ping()).rejects.toThrow(/closed/);
    await expect(database.query('SELECT 1')).resolves.toBeDefined();
  });
});

describe('SqlEventStore ownership', () => {
  it('when opened with ownsDatabase, then close() closes the database too', async () => {
    const database = await openTestDatabase('pglite');
    const store = await SqlEventStore.open(database, { ownsDatabase: true });
    await store.close();
    await expect(database.query('SELECT 1')).rejects.toThrow();
  });
});
