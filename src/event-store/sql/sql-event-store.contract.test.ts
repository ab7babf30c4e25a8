/**
 * The shared event store contract on every SQL engine: PGlite always, server
 * PostgreSQL when the test run found one (see test/support/external-services.ts).
 */
import { openTestDatabase, sqlEngines } from '../../../test/support/databases';
import { describeEventStoreContract } from '../event-store.contract';
import { SqlEventStore } from './sql-event-store';

for (const engine of sqlEngines()) {
  describeEventStoreContract(`SqlEventStore on ${engine}`, async () => {
    const database = await openTestDatabase(engine);
    const store = await SqlEventStore.open(database, { pollIntervalMs: 100 });
    return {
      store,
      dispose: async () => {
        await store.close();
        await database.dispose();
      },
    };
  });
}
