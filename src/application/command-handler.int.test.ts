/**
 * The command handler's four steps against a real store, with writers racing
 * for real: a lost race re-reads and decides again within the bound, past the
 * bound the caller gets ConcurrencyExhaustedError (the API's 503
 * write-contention), and a stale If-Match is refused. Nothing is ever lost or
 * written twice.
 */
import { randomUUID } from 'node:crypto';
import { openTestDatabase, sqlEngines } from '../../test/support/databases';
import type { CommandMetadata } from '../domain/principal';
import type { EventStore } from '../event-store/port';
import { SqlEventStore } from '../event-store/sql/sql-event-store';
import { createCommandHandler, type Decider } from './command-handler';
import { ConcurrencyExhaustedError, PreconditionFailedError } from './errors';

interface Add {
  readonly type: 'Add';
  readonly data: { readonly writer: number };
  readonly metadata: CommandMetadata;
}
interface Added {
  readonly type: 'Added';
  readonly data: { readonly writer: number; readonly after: number };
}

/** Every Add appends one event naming how many came before it: a lost update would show as a repeated `after`. */
const counter: Decider<Add, Added, number> = {
  decide: (command, count) => [{ type: 'Added', data: { writer: command.data.writer, after: count } }],
  evolve: (count) => count + 1,
  initialState: 0,
  fromRecorded: (event) => (event.type === 'Added' ? ({ type: 'Added', data: event.data } as Added) : undefined),
  schemaVersion: 1,
};

const metadata: CommandMetadata = { now: new Date('2026-03-01T10:00:00Z'), principal: { kind: 'system', id: 'test' }, requestId: 'r', correlationId: 'r', causationId: 'r' };
const add = (writer: number): Add => ({ type: 'Add', data: { writer }, metadata });
const WRITERS = 12;

describe.each(sqlEngines())('the command handler on %s', (engine) => {
  let database: Awaited<ReturnType<typeof openTestDatabase>>;
  let store: EventStore;
  beforeAll(async () => {
    database = await openTestDatabase(engine);
    store = await SqlEventStore.open(database);
  });
  afterAll(async () => {
    await store.close();
    await database.dispose();
  });

  it(`when ${WRITERS} writers race on one stream within the retry bound, then every one appends once and no update is lost`, async () => {
    const stream = `counter-${randomUUID()}`;
    const handler = createCommandHandler(store, counter, { newEventId: randomUUID, conflictRetryCountMax: WRITERS });
    const results = await Promise.all(Array.from({ length: WRITERS }, (_, writer) => handler.handle(stream, add(writer))));
    const events = await store.readStream(stream);
    expect(events).toHaveLength(WRITERS);
    expect(events.map((event) => (event.data as Added['data']).after)).toEqual(Array.from({ length: WRITERS }, (_, index) => index));
    expect(new Set(events.map((event) => (event.data as Added['data']).writer)).size).toBe(WRITERS);
    expect(results.map((result) => result.revision).sort((a, b) => a - b)).toEqual(Array.from({ length: WRITERS }, (_, index) => index));
  });

  it('when writers race past a retry bound of 0, then the losers get ConcurrencyExhaustedError (503 write-contention) and wrote nothing', async () => {
    const stream = `counter-${randomUUID()}`;
    const handler = createCommandHandler(store, counter, { newEventId: randomUUID, conflictRetryCountMax: 0 });
    const settled = await Promise.allSettled(Array.from({ length: WRITERS }, (_, writer) => handler.handle(stream, add(writer))));
    const won = settled.filter((outcome) => outcome.status === 'fulfilled');
    const lost = settled.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason as unknown] : []));
    // The race is real: all twelve read the empty stream before the first append, so some must lose.
    expect(lost.length).toBeGreaterThan(0);
    for (const reason of lost) {
      expect(reason).toBeInstanceOf(ConcurrencyExhaustedError);
      expect(reason).toMatchObject({ streamName: stream, attempts: 1 });
    }
    const events = await store.readStream(stream);
    expect(events).toHaveLength(won.length);
    expect(events.map((event) => (event.data as Added['data']).after)).toEqual(Array.from({ length: won.length }, (_, index) => index));
  });

  it('when the caller expected an older revision (If-Match), then it is refused with the current revision and nothing is written', async () => {
    const stream = `counter-${randomUUID()}`;
    const handler = createCommandHandler(store, counter, { newEventId: randomUUID, conflictRetryCountMax: 5 });
    await handler.handle(stream, add(1));
    await handler.handle(stream, add(2));
    const refused = await handler.handle(stream, add(3), { expectedRevision: 0 }).then(() => undefined, (error: unknown) => error);
    expect(refused).toBeInstanceOf(PreconditionFailedError);
    expect(refused).toMatchObject({ currentRevision: 1 });
    expect(await store.readStream(stream)).toHaveLength(2);
  });
});
