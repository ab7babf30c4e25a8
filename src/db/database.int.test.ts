import { PostgresDatabase, prepared } from './database';
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
