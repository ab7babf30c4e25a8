/**
 * A server for the benchmarks, in its own process so the load generator does not
 * share its event loop. `bare` is the baseline: an express route that parses and
 * echoes the same JSON, with the same JSON body limit, and nothing else.
 * Prints one JSON line `{ "url": … }` when listening.
 */
import express from 'express';
import pino from 'pino';
import { PgliteDatabase, PostgresDatabase, type Database } from '../src/db/database';
import { SqlEventStore } from '../src/event-store/sql/sql-event-store';
import { createApiServer } from '../src/http/server';

async function openDatabase(kind: string): Promise<Database> {
  if (kind === 'pglite') return PgliteDatabase.open();
  const url = process.env.BENCH_DATABASE_URL;
  const schema = process.env.BENCH_DATABASE_SCHEMA;
  if (!url || !schema) throw new Error('BENCH_DATABASE_URL and BENCH_DATABASE_SCHEMA are required for postgres');
  return PostgresDatabase.open({ connectionString: url, schema, poolSizeMax: 16 });
}

async function main(): Promise<void> {
  const kind = process.argv[2] ?? 'bare';
  let url: string;
  if (kind === 'bare') {
    const app = express();
    app.use(express.json({ limit: 65_536 }));
    app.all('/payments/:id', (req, res) => {
      res.status(req.method === 'PUT' ? 201 : 200).json({ id: req.params.id, ...(req.body as object) });
    });
    url = await new Promise((resolve) => {
      const server = app.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}`));
    });
  } else {
    const database = await openDatabase(kind);
    const store = await SqlEventStore.open(database);
    // Logged as in production (info, one line per request), into /dev/null, so the log's cost is measured.
    const logger = pino({ level: process.env.BENCH_LOG_LEVEL ?? 'info' }, pino.destination({ dest: '/dev/null', sync: false }));
    const api = createApiServer({ store, logger, apiKeys: undefined, amountMajorMax: 1_000_000, bodyBytesMax: 65_536 });
    ({ url } = await api.listen(0, '127.0.0.1'));
  }
  process.stdout.write(`${JSON.stringify({ url })}\n`);
}

void main();
