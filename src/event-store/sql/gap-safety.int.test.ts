/**
 * The SQL store's hardest promise: with many concurrent writers, a subscriber
 * never skips an event that commits after a later-numbered one became visible.
 *
 * Writers are made slow or doomed by a trigger in the test schema: an event of
 * type `Gated*` waits (inside its open transaction, after taking its position)
 * on an advisory lock the test holds, so the test decides exactly when it
 * commits; `*Doomed` raises after that, so the append rolls back. Each scenario
 * also asserts that a naive reader (by global_position alone) would have
 * skipped, so a pass means something.
 */
import { randomInt, randomUUID } from 'node:crypto';
import pg from 'pg';
import { PostgresDatabase } from '../../db/database';
import { createTestSchema, openTestDatabase, serverPostgresSkipReason, serverPostgresUrl, sqlEngines } from '../../../test/support/databases';
import { comparePositions, type AllSubscription, type EventData, type GlobalPosition, type RecordedEvent } from '../port';
import { EventLogFromAnotherClusterError, SqlEventStore } from './sql-event-store';

const POLL_INTERVAL_MS = 50;
const WAIT_MS_MAX = 10_000;

const serverUrl = serverPostgresUrl();
const describeOnServer = serverUrl ? describe : describe.skip;
const serverTitle = serverUrl
  ? 'gap-safe global order on server PostgreSQL'
  : `gap-safe global order on server PostgreSQL: SKIPPED, ${serverPostgresSkipReason()}`;

function event(type: string): EventData {
  return { id: randomUUID(), type, data: {}, metadata: {} };
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, waitMsMax = WAIT_MS_MAX): Promise<void> {
  const deadline = Date.now() + waitMsMax;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${waitMsMax} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs a subscription in the background, recording what it delivers. */
function collect(store: SqlEventStore, fromPosition?: GlobalPosition) {
  const subscription: AllSubscription = store.subscribeToAll({ ...(fromPosition ? { fromPosition } : {}), batchSizeMax: 5 });
  const received: RecordedEvent[] = [];
  const done = (async () => {
    for await (const recorded of subscription) received.push(recorded);
  })();
  return {
    received,
    ids: () => received.map((recorded) => recorded.id),
    stop: async () => {
      await subscription.close();
      await done;
    },
  };
}

function expectExactlyOnceInOrder(received: readonly RecordedEvent[], log: readonly RecordedEvent[]): void {
  expect(received.map((recorded) => recorded.id)).toEqual(log.map((recorded) => recorded.id));
  expect(new Set(received.map((recorded) => recorded.id)).size).toBe(received.length);
  for (let index = 1; index < received.length; index++) {
    expect(comparePositions(received[index - 1]!.position, received[index]!.position)).toBeLessThan(0);
  }
}

describeOnServer(serverTitle, () => {
  let schema: Awaited<ReturnType<typeof createTestSchema>>;
  let database: PostgresDatabase;
  let store: SqlEventStore;
  let admin: pg.Client;
  let gateKey: number;

  beforeEach(async () => {
    schema = await createTestSchema();
    database = await PostgresDatabase.open({ connectionString: schema.url, schema: schema.schema, poolSizeMax: 40 });
    store = await SqlEventStore.open(database, { pollIntervalMs: POLL_INTERVAL_MS });
    admin = new pg.Client({ connectionString: schema.url, options: `-c search_path=${schema.schema}` });
    await admin.connect();
    gateKey = randomInt(1, 2 ** 31 - 1);
    await installGateTrigger(admin, gateKey);
  });

  afterEach(async () => {
    await admin.query('SELECT pg_advisory_unlock_all()');
    await admin.end();
    await store.close();
    await database.close();
    await schema.drop();
  });

  const closeGate = () => admin.query('SELECT pg_advisory_lock($1)', [gateKey]);
  const openGate = () => admin.query('SELECT pg_advisory_unlock($1)', [gateKey]);
  const writersAtGate = async () => {
    const result = await admin.query<{ count: string }>(
      `SELECT count(*)::text AS count FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = 0 AND objid = $1`,
      [gateKey],
    );
    return Number(result.rows[0]!.count);
  };
  const naiveMaxPosition = async () => {
    const result = await admin.query<{ max: string }>('SELECT max(global_position)::text AS max FROM events');
    return BigInt(result.rows[0]!.max);
  };
  const fullLog = () => store.readAll({ limit: 10_000 });
  const appendFast = (count: number, label: string) =>
    Promise.all(Array.from({ length: count }, (_, index) => store.appendToStream(`fast-${label}-${index}`, [event('Fast')], { expectedRevision: 'no_stream' })));

  it('when a slow writer commits last with the lowest position, then the subscriber holds back and delivers every event once, in order', async () => {
    const subscriber = collect(store);
    await appendFast(3, 'warmup');
    await waitFor('the warm-up events', () => subscriber.received.length === 3);

    await closeGate();
    const slow = store.appendToStream('slow', [event('GatedSlow')], { expectedRevision: 'no_stream' });
    await waitFor('the slow writer at the gate', async () => (await writersAtGate()) === 1);
    await appendFast(30, 'during');

    // The scenario is meaningful: a naive reader already sees positions above the slow event's.
    const naiveSeen = await naiveMaxPosition();
    await sleep(POLL_INTERVAL_MS * 4);
    expect(subscriber.received).toHaveLength(3);
    expect(await store.readAll({ fromPosition: subscriber.received[2]!.position, limit: 100 })).toEqual([]);

    await openGate();
    const slowResult = await slow;
    expect(slowResult.position.prepare).toBeLessThan(naiveSeen);

    await waitFor('all 34 events', () => subscriber.received.length >= 34);
    await sleep(POLL_INTERVAL_MS * 3);
    await subscriber.stop();
    expectExactlyOnceInOrder(subscriber.received, await fullLog());
    expect(subscriber.received).toHaveLength(34);
    expect(subscriber.received[3]!.streamName).toBe('slow');
  });

  it('when an older transaction is still open, then headPosition holds back but lastWrittenPosition covers the append just acknowledged', async () => {
    const older = new pg.Client({ connectionString: schema.url });
    await older.connect();
    try {
      await older.query('BEGIN');
      await older.query('SELECT pg_current_xact_id()');
      const appended = await store.appendToStream('after-older', [event('Fast')], { expectedRevision: 'no_stream' });
      // The scenario is meaningful: readers do not see the append yet.
      expect(comparePositions(await store.headPosition(), appended.position)).toBeLessThan(0);
      expect(comparePositions(await store.lastWrittenPosition(), appended.position)).toBe(0);
      await older.query('COMMIT');
      await waitFor('readers to see the append', async () => comparePositions(await store.headPosition(), appended.position) >= 0);
    } finally {
      await older.end();
    }
  });

  it('when appends roll back, then the subscriber passes over their gaps, including one that held its transaction open', async () => {
    const subscriber = collect(store);
    await expect(store.appendToStream('doomed-quick', [event('QuickDoomed'), event('QuickDoomed')], { expectedRevision: 'any' })).rejects.toThrow(/doomed by the test/);
    await closeGate();
    const doomed = store.appendToStream('doomed-slow', [event('GatedDoomed')], { expectedRevision: 'no_stream' });
    await waitFor('the doomed writer at the gate', async () => (await writersAtGate()) === 1);
    await appendFast(10, 'after');
    await sleep(POLL_INTERVAL_MS * 4);
    expect(subscriber.received).toEqual([]);

    await openGate();
    await expect(doomed).rejects.toThrow(/doomed by the test/);
    await waitFor('the ten committed events', () => subscriber.received.length >= 10);
    await subscriber.stop();

    const log = await fullLog();
    expectExactlyOnceInOrder(subscriber.received, log);
    expect(log).toHaveLength(10);
    // The rolled-back appends consumed positions 1 to 3: the log really has holes.
    expect(log.map((recorded) => recorded.position.prepare).every((prepare) => prepare > 3n)).toBe(true);
    expect(await store.readStream('doomed-slow')).toEqual([]);
  });

  it('when a subscriber stops at a checkpoint while a slow writer is open and resumes later, then it misses nothing and repeats nothing', async () => {
    await appendFast(5, 'before');
    await closeGate();
    const slow = store.appendToStream('slow', [event('GatedSlow')], { expectedRevision: 'no_stream' });
    await waitFor('the slow writer at the gate', async () => (await writersAtGate()) === 1);
    await appendFast(5, 'during');

    const first = collect(store);
    await waitFor('the visible events', () => first.received.length >= 5);
    await sleep(POLL_INTERVAL_MS * 4);
    await first.stop();
    expect(first.received).toHaveLength(5);
    const checkpoint = first.received[4]!.position;
    const naiveCheckpoint = await naiveMaxPosition();

    await openGate();
    const slowResult = await slow;
    await appendFast(5, 'after');
    // Resuming from the position alone (global_position > naiveCheckpoint) would skip the slow event.
    expect(slowResult.position.prepare).toBeLessThan(naiveCheckpoint);

    const second = collect(store, checkpoint);
    await waitFor('the rest of the log', () => second.received.length >= 11);
    await sleep(POLL_INTERVAL_MS * 3);
    await second.stop();
    expectExactlyOnceInOrder([...first.received, ...second.received], await fullLog());
    expect(second.received[0]!.streamName).toBe('slow');
  });

  it('when many writers race with random delays inside their transactions, then the subscriber sees every committed event once, in order', async () => {
    await admin.query(`CREATE OR REPLACE FUNCTION sleepy_events() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_sleep(random() * 0.03); RETURN NULL; END $$`);
    await admin.query(`CREATE TRIGGER sleepy AFTER INSERT ON events FOR EACH ROW WHEN (NEW.event_type = 'Sleepy') EXECUTE FUNCTION sleepy_events()`);
    const subscriber = collect(store);
    const naive = naiveReader(admin);
    const writers = Array.from({ length: 12 }, (_, writer) => writeMany(store, writer, 15));
    const written = (await Promise.all(writers)).flat();

    await waitFor('every committed event', () => subscriber.received.length >= written.length);
    await sleep(POLL_INTERVAL_MS * 3);
    await subscriber.stop();
    const naiveSeen = await naive.stop();
    const log = await fullLog();
    expectExactlyOnceInOrder(subscriber.received, log);
    expect(new Set(subscriber.ids())).toEqual(new Set(written));
    // Meaningful only if commits overtook each other: a reader resuming from global_position alone skipped some.
    expect(naiveSeen.size).toBeLessThan(written.length);
  });
});

/**
 * The reader this store exists to avoid: polls `global_position > last seen`
 * and advances to the highest position it saw. Returns the ids it saw.
 */
function naiveReader(client: pg.Client) {
  const seen = new Set<string>();
  let stopped = false;
  const loop = (async () => {
    let last = 0n;
    while (!stopped) {
      const result = await client.query<{ id: string; position: string }>(
        'SELECT event_id::text AS id, global_position::text AS position FROM events WHERE global_position > $1 ORDER BY global_position',
        [last.toString()],
      );
      for (const row of result.rows) {
        seen.add(row.id);
        last = BigInt(row.position);
      }
      await sleep(2);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return seen;
    },
  };
}

/** One writer's loop: appends to a few streams of its own, some slow, some rolled back. Returns the ids committed. */
async function writeMany(store: SqlEventStore, writer: number, appendsCount: number): Promise<string[]> {
  const committed: string[] = [];
  const revisions = new Map<string, number>();
  for (let index = 0; index < appendsCount; index++) {
    const stream = `writer-${writer}-${index % 3}`;
    const type = index % 7 === 3 ? 'SleepyDoomed' : 'Sleepy';
    const events = [event(type), event('Sleepy')];
    const expected = revisions.get(stream);
    try {
      const result = await store.appendToStream(stream, events, { expectedRevision: expected ?? 'no_stream' });
      revisions.set(stream, result.nextExpectedRevision);
      committed.push(...events.map((recorded) => recorded.id));
    } catch (error) {
      if (!String(error).includes('doomed by the test')) throw error;
    }
  }
  return committed;
}

async function installGateTrigger(client: pg.Client, gateKey: number): Promise<void> {
  await client.query(`CREATE FUNCTION gate_events() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.event_type LIKE 'Gated%' THEN PERFORM pg_advisory_xact_lock_shared(${gateKey}::bigint); END IF;
      IF NEW.event_type LIKE '%Doomed' THEN RAISE EXCEPTION 'doomed by the test'; END IF;
      RETURN NULL;
    END $$`);
  await client.query('CREATE TRIGGER gate AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION gate_events()');
}

describe.each(sqlEngines())('restore safety on %s', (engine) => {
  it('when stored transaction ids lie beyond the current snapshot, then open refuses to start with a clear error', async () => {
    const database = await openTestDatabase(engine);
    try {
      const store = await SqlEventStore.open(database);
      await store.appendToStream('before-restore', [event('Thing')], { expectedRevision: 'no_stream' });
      await store.close();
      await database.query(
        `INSERT INTO events (transaction_id, stream_name, stream_revision, event_id, event_type, data, metadata)
         VALUES ('9000000000000'::xid8, 'restored', 0, $1, 'Thing', '{}', '{}')`,
        [randomUUID()],
      );
      await expect(SqlEventStore.open(database)).rejects.toThrow(EventLogFromAnotherClusterError);
      await expect(SqlEventStore.open(database)).rejects.toThrow(/9000000000000.*restored from another cluster/);
    } finally {
      await database.dispose();
    }
  });
});
