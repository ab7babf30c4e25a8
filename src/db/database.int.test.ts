import { openTestDatabase, sqlEngines } from '../../test/support/databases';

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
