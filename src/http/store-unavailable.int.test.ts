/**
 * A store that is unreachable or loses its connection is answered 503 with
 * Retry-After (problem+json), never 500, and the API serves again as soon as the
 * store is back. Real HTTP, a real PostgreSQL reached through a TCP proxy that
 * the test cuts, and a real backend terminated in the middle of a transaction.
 */
import pg from 'pg';
import pino from 'pino';
import { PostgresDatabase } from '../db/database';
import { SqlEventStore } from '../event-store/sql/sql-event-store';
import { createTestSchema, serverPostgresUrl } from '../../test/support/databases';
import { KEYS, validPayment } from '../../test/support/api';
import { startTcpProxy, viaProxy, type TcpProxy } from '../../test/support/tcp-proxy';
import { createApiServer, type ApiServer } from './server';
import { PROBLEM_CONTENT_TYPE } from './problem';

(serverPostgresUrl() ? describe : describe.skip)('the API when its PostgreSQL store is unavailable', () => {
  const applicationName = `unavailable_${Date.now().toString(36)}`;
  let schema: Awaited<ReturnType<typeof createTestSchema>>;
  let proxy: TcpProxy;
  let database: PostgresDatabase;
  let store: SqlEventStore;
  let api: ApiServer;
  let url: string;

  beforeAll(async () => {
    schema = await createTestSchema();
    const server = new URL(schema.url);
    proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
    const proxied = new URL(viaProxy(schema.url, proxy));
    proxied.searchParams.set('application_name', applicationName);
    database = await PostgresDatabase.open({ connectionString: proxied.toString(), schema: schema.schema, connectTimeoutMs: 1_000 });
    store = await SqlEventStore.open(database);
    api = createApiServer({ store, logger: pino({ level: 'silent' }), apiKeys: undefined, amountMajorMax: 1_000_000, bodyBytesMax: 65_536 });
    ({ url } = await api.listen(0, '127.0.0.1'));
  });
  afterAll(async () => {
    await api.close();
    await store.close();
    await database.close();
    await proxy.close();
    await schema.drop();
  });

  const put = (id: string) =>
    fetch(`${url}/payments/${id}`, { method: 'PUT', headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json' }, body: JSON.stringify(validPayment()) });
  const get = (id: string) => fetch(`${url}/payments/${id}`, { headers: { authorization: `Bearer ${KEYS.acme}` } });

  async function expectStoreUnavailable(response: Response): Promise<void> {
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('2');
    expect(response.headers.get('content-type')).toContain(PROBLEM_CONTENT_TYPE);
    const body = (await response.json()) as { type: string; status: number; detail: string };
    expect(body).toMatchObject({ type: '/problems/store-unavailable', status: 503 });
    // The driver's text (hosts, codes) stays in the log.
    expect(body.detail).not.toMatch(/ECONN|127\.0\.0\.1|terminat/i);
  }

  it('when the store cannot be reached, then writes and reads are 503 with Retry-After and readiness fails; once it is back, the retried PUT is 201 and nothing was lost', async () => {
    expect((await put('before-cut')).status).toBe(201);
    await proxy.cut();
    try {
      await expectStoreUnavailable(await put('during-cut'));
      await expectStoreUnavailable(await get('before-cut'));
      expect((await fetch(`${url}/health/ready`)).status).toBe(503);
    } finally {
      await proxy.restore();
    }
    expect((await put('during-cut')).status).toBe(201);
    expect((await get('before-cut')).status).toBe(200);
    expect((await get('during-cut')).status).toBe(200);
    expect((await fetch(`${url}/health/ready`)).status).toBe(200);
  });

  it('when the connection is lost in the middle of the append transaction, then that PUT is 503 and its retry is 201 with one payment', async () => {
    const locker = new pg.Client({ connectionString: schema.url });
    const admin = new pg.Client({ connectionString: schema.url });
    await Promise.all([locker.connect(), admin.connect()]);
    try {
      // Hold the append inside its transaction: it waits on this lock until we end its connection.
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE ${schema.schema}.events IN EXCLUSIVE MODE`);
      const answer = put('mid-transaction');
      const pid = await waitForBlockedBackend(admin, applicationName);
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      await expectStoreUnavailable(await answer);
      await locker.query('ROLLBACK');
      expect((await put('mid-transaction')).status).toBe(201);
      expect((await put('mid-transaction')).status).toBe(200);
      const stream = await store.readStream('payment-acme:mid-transaction');
      expect(stream.map((event) => event.type)).toEqual(['PaymentRequested']);
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await Promise.all([locker.end(), admin.end()]);
    }
  });
});

async function waitForBlockedBackend(admin: pg.Client, applicationName: string): Promise<number> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const { rows } = await admin.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock' AND xact_start IS NOT NULL`,
      [applicationName],
    );
    if (rows[0]) return rows[0].pid;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the append never waited on the lock');
}
