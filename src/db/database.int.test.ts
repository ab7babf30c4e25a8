import pg from 'pg';
import { PostgresDatabase, prepared } from './database';
import { StoreUnavailableError } from './errors';
import { createTestSchema, openTestDatabase, serverPostgresUrl, sqlEngines } from '../../test/support/databases';

describe.each(sqlEngines())('Database on %s', (engine) => {
  let database: Awaited<ReturnType<typeof openTestDatabase>>;
  beforeAll(async () => {
    database = await openTestDatabase(engine);
    await database.query('CREATE TABLE counter (id int PRIMARY KEY, value int NOT NULL)');
    await database.query('INSERT INTO counter VALUES (1, 0)');
  });
  afterAll(() => database.dispose());

  it('when the work throws, then the transaction is rolled back', async () => {
    await expect(
      database.transaction(async (tx) => {
        await tx.query('UPDATE counter SET value = 99 WHERE id = 1');
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const { rows } = await database.query<{ value: number }>('SELECT value FROM counter WHERE id = 1');
    expect(rows[0]?.value).toBe(0);
  });

  it('when plain queries race an open transaction, then they never run inside it', async () => {
    let releaseTransaction!: () => void;
    const gate = new Promise<void>((resolve) => (releaseTransaction = resolve));
    const transaction = database.transaction(async (tx) => {
      await tx.query('UPDATE counter SET value = value + 1 WHERE id = 1');
      await gate;
      throw new Error('roll back');
    });
    const outside = database.query('UPDATE counter SET value = value + 10 WHERE id = 1');
    releaseTransaction();
    await expect(transaction).rejects.toThrow('roll back');
    await outside;
    const { rows } = await database.query<{ value: number }>('SELECT value FROM counter WHERE id = 1');
    expect(rows[0]?.value).toBe(10);
  });
});

(serverPostgresUrl() ? describe : describe.skip)('prepared statements on server PostgreSQL', () => {
  it('when a statement marked prepared runs twice, then the connection holds it as one named statement; an unmarked one is not kept', async () => {
    const schema = await createTestSchema();
    // One connection, so pg_prepared_statements (per session) sees what the store's queries left.
    const database = await PostgresDatabase.open({ connectionString: schema.url, schema: schema.schema, poolSizeMax: 1 });
    try {
      const marked = prepared(`SELECT $1::int + 1 AS next /* ${schema.schema} */`);
      for (const value of [1, 2]) expect((await database.query<{ next: number }>(marked, [value])).rows[0]!.next).toBe(value + 1);
      await database.transaction((tx) => tx.query(marked, [3]));
      await database.query('SELECT 42 AS unmarked');
      const held = await database.query<{ statement: string }>('SELECT statement FROM pg_prepared_statements');
      expect(held.rows.filter((row) => row.statement === marked)).toHaveLength(1);
      expect(held.rows.some((row) => row.statement.includes('unmarked'))).toBe(false);
    } finally {
      await database.close();
      await schema.drop();
    }
  });

  it('when a second copy of the module marks the statement, then the first copy still runs it as a named statement', async () => {
    const schema = await createTestSchema();
    const database = await PostgresDatabase.open({ connectionString: schema.url, schema: schema.schema, poolSizeMax: 1 });
    try {
      let otherCopy!: typeof import('./database');
      jest.isolateModules(() => {
        otherCopy = jest.requireActual<typeof import('./database')>('./database');
      });
      expect(otherCopy.prepared).not.toBe(prepared);
      const marked = otherCopy.prepared(`SELECT $1::int * 2 AS doubled /* ${schema.schema} */`);
      for (const value of [1, 2]) expect((await database.query<{ doubled: number }>(marked, [value])).rows[0]!.doubled).toBe(value * 2);
      const held = await database.query<{ statement: string }>('SELECT statement FROM pg_prepared_statements');
      expect(held.rows.filter((row) => row.statement === marked)).toHaveLength(1);
    } finally {
      await database.close();
      await schema.drop();
    }
  });
});

(serverPostgresUrl() ? describe : describe.skip)('a lost PostgreSQL connection', () => {
  let schema: Awaited<ReturnType<typeof createTestSchema>>;
  let database: PostgresDatabase;
  let admin: pg.Client;
  // Holds the table lock; a separate session, since pg_stat_activity is a snapshot inside a transaction.
  let locker: pg.Client;
  const applicationName = `lost_${Date.now().toString(36)}`;

  beforeAll(async () => {
    schema = await createTestSchema();
    const url = new URL(schema.url);
    url.searchParams.set('application_name', applicationName);
    database = await PostgresDatabase.open({ connectionString: url.toString(), schema: schema.schema, poolSizeMax: 2 });
    await database.query('CREATE TABLE counter (id int PRIMARY KEY, value int NOT NULL)');
    await database.query('INSERT INTO counter VALUES (1, 0)');
    admin = new pg.Client({ connectionString: schema.url });
    await admin.connect();
    locker = new pg.Client({ connectionString: schema.url });
    await locker.connect();
  });
  afterAll(async () => {
    await admin.end();
    await locker.end();
    await database.close();
    await schema.drop();
  });

  const terminate = (pid: number) => admin.query('SELECT pg_terminate_backend($1)', [pid]);
  const counter = async () => (await database.query<{ value: number }>('SELECT value FROM counter WHERE id = 1')).rows[0]!.value;

  it('when the backend is terminated between two statements of a transaction, then that transaction fails as unavailable, nothing is written and the next ones succeed', async () => {
    const failed = database.transaction(async (tx) => {
      await tx.query('UPDATE counter SET value = value + 1 WHERE id = 1');
      const { rows } = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await terminate(rows[0]!.pid);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await tx.query('UPDATE counter SET value = value + 1 WHERE id = 1');
    });
    await expect(failed).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(await counter()).toBe(0);
    for (let i = 0; i < 4; i += 1) await database.transaction((tx) => tx.query('UPDATE counter SET value = value + 1 WHERE id = 1'));
    expect(await counter()).toBe(4);
  });

  it('when the backend is terminated while its statement waits on a lock, then the transaction fails as unavailable and the pool recovers', async () => {
    await locker.query('BEGIN');
    await locker.query(`LOCK TABLE ${schema.schema}.counter IN ACCESS EXCLUSIVE MODE`);
    const blocked = database.transaction((tx) => tx.query('UPDATE counter SET value = value + 100 WHERE id = 1'));
    const pid = await waitForBackend(admin, applicationName, `wait_event_type = 'Lock' AND query LIKE 'UPDATE counter%'`);
    await terminate(pid);
    await expect(blocked).rejects.toBeInstanceOf(StoreUnavailableError);
    await locker.query('ROLLBACK');
    expect(await counter()).toBe(4);
    await database.transaction((tx) => tx.query('UPDATE counter SET value = value + 1 WHERE id = 1'));
    expect(await counter()).toBe(5);
  });

  it('when the backend of a plain query is terminated, then the query fails as unavailable and the next one succeeds', async () => {
    const { rows } = await database.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    await locker.query('BEGIN');
    await locker.query(`LOCK TABLE ${schema.schema}.counter IN ACCESS EXCLUSIVE MODE`);
    const blocked = database.query('SELECT value FROM counter');
    const pid = await waitForBackend(admin, applicationName, `wait_event_type = 'Lock'`);
    expect(typeof rows[0]!.pid).toBe('number');
    await terminate(pid);
    await expect(blocked).rejects.toBeInstanceOf(StoreUnavailableError);
    await locker.query('ROLLBACK');
    expect(await counter()).toBe(5);
  });

  it('when the LISTEN connection is terminated, then the listener reconnects, says it may have missed notifications, and hears the next ones', async () => {
    const heard: string[] = [];
    const stop = await database.listen('lost_channel', (payload) => heard.push(payload));
    try {
      const pid = await waitForBackend(admin, applicationName, `query LIKE 'LISTEN%'`);
      await terminate(pid);
      await waitUntil(() => heard.includes(''));
      await admin.query(`SELECT pg_notify('lost_channel', 'after')`);
      await waitUntil(() => heard.includes('after'));
    } finally {
      await stop();
    }
  });
});

(serverPostgresUrl() ? describe : describe.skip)('an unreachable PostgreSQL server', () => {
  it('when nothing listens at the address, then queries and transactions fail as unavailable, quickly', async () => {
    const database = await PostgresDatabase.open({ connectionString: 'postgres://paystream@127.0.0.1:1/none', connectTimeoutMs: 1_000 });
    try {
      await expect(database.query('SELECT 1')).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(database.transaction((tx) => tx.query('SELECT 1'))).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(database.listen('nowhere', () => undefined)).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      await database.close();
    }
  });
});

async function waitForBackend(admin: pg.Client, applicationName: string, condition: string): Promise<number> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const { rows } = await admin.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND ${condition}`, [applicationName]);
    if (rows[0]) return rows[0].pid;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const { rows } = await admin.query(`SELECT pid, state, wait_event_type, query FROM pg_stat_activity WHERE application_name = $1`, [applicationName]);
  throw new Error(`no backend of ${applicationName} where ${condition}: ${JSON.stringify(rows)}`);
}

async function waitUntil(done: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
