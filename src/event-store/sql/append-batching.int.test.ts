/**
 * The append path's round trips and its group commit, on a real database:
 * one statement per append and no transaction of its own, concurrent appends
 * leaving together, every request of a batch answered on its own (a conflict,
 * a repeat, a value the database refuses), coalesced notifications, and writers
 * in two processes racing on one stream through the unique constraints.
 */
import { randomUUID } from 'node:crypto';
import { openTestDatabase, serverPostgresUrl, sqlEngines } from '../../../test/support/databases';
import { PostgresDatabase, type Database, type SqlClient } from '../../db/database';
import { WrongExpectedVersionError, comparePositions, type EventData } from '../port';
import { APPEND_SQL, NOTIFY_SQL } from './rows';
import { SqlEventStore } from './sql-event-store';

const event = (data: EventData['data'] = {}): EventData => ({ id: randomUUID(), type: 'Thing', data, metadata: {} });

/** The real database, with a count of what goes through it (statements, transactions, notifications at once). */
function counted(database: Database) {
  const counts = { appends: 0, transactions: 0, notifications: 0, notificationsAtOnce: 0, notificationsAtOnceMax: 0 };
  const query: SqlClient['query'] = async (text, params) => {
    if (text === APPEND_SQL) counts.appends++;
    if (text !== NOTIFY_SQL) return database.query(text, params);
    counts.notifications++;
    counts.notificationsAtOnceMax = Math.max(counts.notificationsAtOnceMax, ++counts.notificationsAtOnce);
    try {
      return await database.query(text, params);
    } finally {
      counts.notificationsAtOnce--;
    }
  };
  const wrapped: Database = {
    engine: database.engine,
    query,
    transaction: (work) => {
      counts.transactions++;
      return database.transaction(work);
    },
    listen: (channel, onNotification) => database.listen(channel, onNotification),
    close: () => database.close(),
  };
  return { database: wrapped, counts };
}

describe.each(sqlEngines())('the append path on %s', (engine) => {
  let database: Database & { dispose(): Promise<void> };

  beforeAll(async () => {
    database = await openTestDatabase(engine);
  });
  afterAll(() => database.dispose());

  it('when one append runs, then it is one statement and no transaction of its own, and one notification follows', async () => {
    const { database: seen, counts } = counted(database);
    const store = await SqlEventStore.open(seen);
    try {
      const transactionsBefore = counts.transactions;
      const result = await store.appendToStream(`single-${randomUUID()}`, [event(), event()], { expectedRevision: 'no_stream' });
      await store.close();
      expect(result.nextExpectedRevision).toBe(1);
      expect(counts.appends).toBe(1);
      expect(counts.transactions).toBe(transactionsBefore);
      expect(counts.notifications).toBe(1);
    } finally {
      await store.close();
    }
  });

  it('when 40 appends to different streams arrive at once, then they leave in a few statements, each lands on its own stream, and notifications never overlap', async () => {
    const { database: seen, counts } = counted(database);
    const store = await SqlEventStore.open(seen, { appendsInFlightMax: 1 });
    try {
      const prefix = `many-${randomUUID()}-`;
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, index) => store.appendToStream(`${prefix}${index}`, [event({ index })], { expectedRevision: 'no_stream' })),
      );
      expect(results.every((result) => result.nextExpectedRevision === 0)).toBe(true);
      expect(counts.appends).toBe(2);
      for (let index = 0; index < 40; index++) {
        const [stored] = await store.readStream(`${prefix}${index}`);
        expect(stored!.data).toEqual({ index });
        expect(stored!.position).toEqual(results[index]!.position);
      }
      await store.close();
      expect(counts.notificationsAtOnceMax).toBe(1);
      expect(counts.notifications).toBeLessThanOrEqual(2);
    } finally {
      await store.close();
    }
  });

  it('when one batch holds a stale revision, a repeat, a partial repeat, a good exact revision and a new stream, then each gets its own answer', async () => {
    const { database: seen, counts } = counted(database);
    const store = await SqlEventStore.open(seen, { appendsInFlightMax: 1 });
    try {
      const prefix = `mixed-${randomUUID()}-`;
      const original = [event(), event()];
      const first = await store.appendToStream(`${prefix}repeat`, original, { expectedRevision: 'no_stream' });
      await store.appendToStream(`${prefix}stale`, [event(), event(), event()], { expectedRevision: 'no_stream' });
      await store.appendToStream(`${prefix}exact`, [event()], { expectedRevision: 'no_stream' });
      const before = counts.appends;
      const blocker = store.appendToStream(`${prefix}blocker`, [event()], { expectedRevision: 'no_stream' });
      const [stale, repeat, partial, exact, fresh] = await Promise.allSettled([
        store.appendToStream(`${prefix}stale`, [event()], { expectedRevision: 0 }),
        store.appendToStream(`${prefix}repeat-again`, original, { expectedRevision: 'no_stream' }),
        store.appendToStream(`${prefix}partial`, [original[0]!, event()], { expectedRevision: 'any' }),
        store.appendToStream(`${prefix}exact`, [event()], { expectedRevision: 0 }),
        store.appendToStream(`${prefix}fresh`, [event()], { expectedRevision: 'no_stream' }),
      ]);
      await blocker;
      // The blocker went alone; four waited for it and left together; the partial repeat shares an id
      // with the repeat, so it waited for that batch and left in a third.
      expect(counts.appends - before).toBe(3);
      expect(stale.status === 'rejected' && stale.reason instanceof WrongExpectedVersionError && stale.reason.actual === 2).toBe(true);
      // The same ids in another stream are taken: a conflict, not a repeat.
      expect(repeat.status === 'rejected' && repeat.reason instanceof WrongExpectedVersionError && repeat.reason.actual === 'no_stream').toBe(true);
      expect(partial.status === 'rejected' && partial.reason instanceof WrongExpectedVersionError).toBe(true);
      expect(exact.status === 'fulfilled' && exact.value.nextExpectedRevision === 1).toBe(true);
      expect(fresh.status === 'fulfilled' && fresh.value.nextExpectedRevision === 0).toBe(true);
      expect(await store.appendToStream(`${prefix}repeat`, original, { expectedRevision: 'no_stream' })).toEqual(first);
      expect(await store.readStream(`${prefix}stale`)).toHaveLength(3);
      expect(await store.readStream(`${prefix}partial`)).toEqual([]);
      expect(await store.readStream(`${prefix}repeat-again`)).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('when one request of a batch carries a value the database refuses, then only that request fails', async () => {
    const store = await SqlEventStore.open(database, { appendsInFlightMax: 1 });
    try {
      const prefix = `refused-${randomUUID()}-`;
      const blocker = store.appendToStream(`${prefix}blocker`, [event()], { expectedRevision: 'no_stream' });
      const outcomes = await Promise.allSettled([
        store.appendToStream(`${prefix}good-1`, [event()], { expectedRevision: 'no_stream' }),
        // jsonb refuses the NUL character.
        store.appendToStream(`${prefix}bad`, [event({ text: 'nul \u0000 here' })], { expectedRevision: 'no_stream' }),
        store.appendToStream(`${prefix}good-2`, [event()], { expectedRevision: 'no_stream' }),
      ]);
      await blocker;
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(await store.readStream(`${prefix}good-1`)).toHaveLength(1);
      expect(await store.readStream(`${prefix}good-2`)).toHaveLength(1);
      expect(await store.readStream(`${prefix}bad`)).toEqual([]);
    } finally {
      await store.close();
    }
  });
});

(serverPostgresUrl() ? describe : describe.skip)('appends from two processes on one stream (server PostgreSQL)', () => {
  let database: Database & { dispose(): Promise<void> };
  let other: PostgresDatabase;
  let mine: SqlEventStore;
  let theirs: SqlEventStore;

  beforeAll(async () => {
    database = await openTestDatabase('postgres');
    const schema = (await database.query<{ schema: string }>('SELECT current_schema() AS schema')).rows[0]!.schema;
    other = await PostgresDatabase.open({ connectionString: serverPostgresUrl()!, schema });
    mine = await SqlEventStore.open(database);
    theirs = await SqlEventStore.open(other);
  });
  afterAll(async () => {
    await mine.close();
    await theirs.close();
    await other.close();
    await database.dispose();
  });

  it('when both append with any, then every append lands, revisions are contiguous, and the global order agrees with the stream order', async () => {
    const stream = `any-${randomUUID()}`;
    const appends = Array.from({ length: 30 }, (_, index) => (index % 2 === 0 ? mine : theirs).appendToStream(stream, [event({ index })], { expectedRevision: 'any' }));
    const results = await Promise.all(appends);
    expect(results.map((result) => result.nextExpectedRevision).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, index) => index));
    const stored = await mine.readStream(stream);
    expect(stored.map((recorded) => recorded.revision)).toEqual(Array.from({ length: 30 }, (_, index) => index));
    for (let index = 1; index < stored.length; index++) expect(comparePositions(stored[index - 1]!.position, stored[index]!.position)).toBeLessThan(0);
  });

  it('when both race to create the stream or to write at one exact revision, then exactly one append wins each race', async () => {
    const stream = `create-${randomUUID()}`;
    const creations = await Promise.allSettled(
      Array.from({ length: 20 }, (_, index) => (index % 2 === 0 ? mine : theirs).appendToStream(stream, [event()], { expectedRevision: 'no_stream' })),
    );
    expect(creations.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    const exact = await Promise.allSettled(
      Array.from({ length: 20 }, (_, index) => (index % 2 === 0 ? mine : theirs).appendToStream(stream, [event(), event()], { expectedRevision: 0 })),
    );
    expect(exact.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    for (const outcome of [...creations, ...exact]) {
      if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(WrongExpectedVersionError);
    }
    expect(await mine.readStream(stream)).toHaveLength(3);
  });
});
