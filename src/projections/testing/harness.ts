/**
 * Test plumbing for the projection suites: a real store on a real database of
 * the named engine, a silent logger, waiting for a condition, and a
 * deterministic dump of tables to compare read models row for row.
 */
import pino from 'pino';
import { SqlEventStore } from '../../event-store/sql/sql-event-store';
import type { EventStore } from '../../event-store/port';
import type { Database } from '../../db/database';
import type { Logger } from '../../logging';
import { openTestDatabase, type EngineName } from '../../../test/support/databases';
import { identifier } from '../projection';

export interface Harness {
  readonly database: Database;
  readonly store: EventStore;
  readonly logger: Logger;
  close(): Promise<void>;
}

export async function openHarness(engine: EngineName): Promise<Harness> {
  const database = await openTestDatabase(engine);
  const store = await SqlEventStore.open(database);
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  return {
    database,
    store,
    logger,
    close: async () => {
      await store.close();
      await database.dispose();
    },
  };
}

/** Polls `check` until it returns a value that is not undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Every row of `table` as text, sorted: two tables with equal dumps hold the same rows. */
export async function dumpTable(database: Database, table: string): Promise<string[]> {
  const result = await database.query<{ row: string }>(`SELECT t::text AS row FROM ${identifier(table)} t`);
  return result.rows.map((row) => row.row).sort();
}
