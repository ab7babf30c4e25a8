/**
 * The shared migration helper: each migration once, in order, atomically, even
 * when several processes start at the same moment.
 */
import { PostgresDatabase } from './database';
import { createTestSchema, openTestDatabase, serverPostgresSkipReason, serverPostgresUrl, sqlEngines } from '../../test/support/databases';
import { appliedMigrations, runMigrations, type Migration } from './migrations';

const LIST: readonly Migration[] = [
  'CREATE TABLE widgets (id int PRIMARY KEY)',
  ['ALTER TABLE widgets ADD COLUMN name text', 'INSERT INTO widgets (id, name) VALUES (1, $$first$$)'],
];

describe.each(sqlEngines())('runMigrations on %s', (engine) => {
  it('when run twice, then each migration is applied once, in order', async () => {
    const database = await openTestDatabase(engine);
    try {
      expect(await runMigrations(database, 'widgets', LIST)).toEqual([1, 2]);
      expect(await runMigrations(database, 'widgets', LIST)).toEqual([]);
      expect(await runMigrations(database, 'widgets', [...LIST, 'INSERT INTO widgets (id, name) VALUES (2, $$second$$)'])).toEqual([3]);
      expect(await appliedMigrations(database, 'widgets')).toEqual([1, 2, 3]);
      expect((await database.query('SELECT id FROM widgets ORDER BY id')).rows).toEqual([{ id: 1 }, { id: 2 }]);
    } finally {
      await database.dispose();
    }
  });

  it('when a migration fails, then none of its statements stay and it is not recorded', async () => {
    const database = await openTestDatabase(engine);
    try {
      const failing: Migration[] = [...LIST, ['INSERT INTO widgets (id) VALUES (5)', 'SELECT no_such_function()']];
      await expect(runMigrations(database, 'widgets', failing)).rejects.toThrow(/no_such_function/);
      expect(await appliedMigrations(database, 'widgets')).toEqual([1, 2]);
      expect((await database.query('SELECT id FROM widgets WHERE id = 5')).rows).toEqual([]);
    } finally {
      await database.dispose();
    }
  });

  it('when two lists share a database, then they are tracked apart', async () => {
    const database = await openTestDatabase(engine);
    try {
      await runMigrations(database, 'widgets', LIST);
      expect(await runMigrations(database, 'gadgets', ['CREATE TABLE gadgets (id int)'])).toEqual([1]);
      expect(await appliedMigrations(database, 'widgets')).toEqual([1, 2]);
    } finally {
      await database.dispose();
    }
  });
});

const serverUrl = serverPostgresUrl();
(serverUrl ? describe : describe.skip)(
  serverUrl ? 'runMigrations with processes starting at once' : `runMigrations with processes starting at once: SKIPPED, ${serverPostgresSkipReason()}`,
  () => {
    it('when five processes migrate one schema at the same moment, then each migration is applied exactly once', async () => {
      const schema = await createTestSchema();
      const processes = await Promise.all(
        Array.from({ length: 5 }, () => PostgresDatabase.open({ connectionString: schema.url, schema: schema.schema })),
      );
      try {
        const applied = await Promise.all(processes.map((database) => runMigrations(database, 'widgets', LIST)));
        expect(applied.flat().sort()).toEqual([1, 2]);
        expect(await appliedMigrations(processes[0]!, 'widgets')).toEqual([1, 2]);
      } finally {
        await Promise.all(processes.map((database) => database.close()));
        await schema.drop();
      }
    });
  },
);
