/**
 * A PUT that loses the race for a payment's stream past the command handler's
 * retry bound is answered 503 write-contention with Retry-After
 * (problem+json), never 500, and writes nothing: the payment stream holds the
 * winner's one event. Real HTTP, a real PostgreSQL; the race is made certain,
 * not left to timing alone: a transaction holding the events table in
 * EXCLUSIVE mode lets every PUT read "no payment" and decide, while no append
 * can commit; the store sends one append statement at a time (the others queue
 * in its batcher), so the test waits for the first to block on the lock, gives
 * the others time to read and queue, then lets them all go. The retry bound is
 * 0, so the first lost race is the last.
 */
import pg from 'pg';
import pino from 'pino';
import { createPaymentsModule } from '../application/payments';
import { tenantDirectoryFor } from '../config/tenants';
import { PostgresDatabase } from '../db/database';
import { SqlEventStore } from '../event-store/sql/sql-event-store';
import { createTestSchema, serverPostgresUrl } from '../../test/support/databases';
import { KEYS, validPayment } from '../../test/support/api';
import { contractFetch } from '../../test/support/openapi-contract';
import { acceptedApiKeys } from './auth';
import { createApiServer, type ApiServer } from './server';
import { PROBLEM_CONTENT_TYPE } from './problem';

const RACERS = 4;

(serverPostgresUrl() ? describe : describe.skip)('the API under write contention', () => {
  const applicationName = `contention_${Date.now().toString(36)}`;
  let schema: Awaited<ReturnType<typeof createTestSchema>>;
  let database: PostgresDatabase;
  let store: SqlEventStore;
  let api: ApiServer;
  let url: string;
  let checkedFetch: typeof fetch;

  beforeAll(async () => {
    schema = await createTestSchema();
    const named = new URL(schema.url);
    named.searchParams.set('application_name', applicationName);
    database = await PostgresDatabase.open({ connectionString: named.toString(), schema: schema.schema });
    store = await SqlEventStore.open(database);
    // The module as the server builds it (same tenant rules), with no retry after a lost race.
    const payments = createPaymentsModule({ store, tenants: tenantDirectoryFor(undefined, acceptedApiKeys(undefined)), conflictRetryCountMax: 0 });
    api = createApiServer({ store, payments, logger: pino({ level: 'silent' }), apiKeys: undefined, amountMajorMax: 1_000_000, bodyBytesMax: 65_536 });
    ({ url } = await api.listen(0, '127.0.0.1'));
    // Every answer is checked against the served OpenAPI document: a 503 it does not list fails the test.
    checkedFetch = contractFetch(url);
  });
  afterAll(async () => {
    await api.close();
    await store.close();
    await database.close();
    await schema.drop();
  });

  const put = (id: string) =>
    checkedFetch(`${url}/payments/${id}`, { method: 'PUT', headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json' }, body: JSON.stringify(validPayment()) });

  it(`when ${RACERS} PUTs of one new payment race past a retry bound of 0, then one is 201 and every other is 503 write-contention with Retry-After, and only the winner's event is written`, async () => {
    const id = `contended-${Date.now().toString(36)}`;
    const locker = new pg.Client({ connectionString: schema.url });
    const admin = new pg.Client({ connectionString: schema.url });
    await Promise.all([locker.connect(), admin.connect()]);
    let answers: Response[];
    try {
      await locker.query('BEGIN');
      // EXCLUSIVE lets reads through and holds every write: each PUT reads "no payment", decides, then waits to append.
      await locker.query(`LOCK TABLE ${schema.schema}.events IN EXCLUSIVE MODE`);
      const pending = Array.from({ length: RACERS }, () => put(id));
      await waitForBlockedBackends(admin, applicationName, 1);
      // The others read "no payment" (reads pass the lock) and queue their appends behind the blocked one.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      await locker.query('ROLLBACK');
      answers = await Promise.all(pending);
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await Promise.all([locker.end(), admin.end()]);
    }

    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).toEqual([201, ...Array.from({ length: RACERS - 1 }, () => 503)]);
    for (const answer of answers.filter((candidate) => candidate.status === 503)) {
      expect(answer.headers.get('retry-after')).toBe('1');
      expect(answer.headers.get('content-type')).toContain(PROBLEM_CONTENT_TYPE);
      expect(await answer.json()).toMatchObject({ type: '/problems/write-contention', status: 503 });
    }
    // Nothing written by the losers: the stream is the winner's one event.
    expect((await store.readStream(`payment-acme:${id}`)).map((event) => event.type)).toEqual(['PaymentRequested']);
    // Nor anywhere else in the store (no audit, no reservation): the schema is this test's own.
    const all = await database.query<{ count: string }>(`SELECT count(*)::text AS count FROM ${schema.schema}.events`);
    expect(all.rows[0]!.count).toBe('1');
    // And a client that follows Retry-After gets the payment, still with one event.
    expect((await put(id)).status).toBe(200);
    expect(await store.readStream(`payment-acme:${id}`)).toHaveLength(1);
  }, 60_000);
});

/** Waits until `count` of our connections wait on a lock inside a transaction: appends the EXCLUSIVE lock holds. */
async function waitForBlockedBackends(admin: pg.Client, applicationName: string, count: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  let seen = 0;
  while (Date.now() < deadline) {
    const { rows } = await admin.query<{ count: string }>(
      `SELECT count(*)::text AS count FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock' AND xact_start IS NOT NULL`,
      [applicationName],
    );
    seen = Number(rows[0]!.count);
    if (seen >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`only ${seen} of ${count} appends ever waited on the lock`);
}
