/**
 * `npm run bench -- store`: the event store's append path beside the cheapest
 * durable write the same server can do, measured in the same run.
 *
 * - append: `appendToStream` of one realistic event (a PaymentRequested in its
 *   envelope) to a new stream with `no_stream`, from `callers` concurrent
 *   callers, through the store as the API uses it.
 * - append, no group commit: the same through a store opened with
 *   `appendBatchRequestsMax: 1` and a slot per caller (one statement and one
 *   commit per append), so
 *   the share of group commit shows (docs/adr/0019-group-commit.md).
 * - raw: the same row inserted by one autocommit INSERT (a transaction of one
 *   statement, one round trip, one commit) into a table shaped like `events`,
 *   through the same Database port and pool, from the same number of callers.
 *
 * The two alternate (raw, append, raw, append) so a neighbour's burst on the
 * shared machine hits both; each side reports its best round. Every run works
 * on a fresh schema (PostgreSQL) or a fresh data directory (PGlite): plans and
 * statistics of a fresh table are part of what is measured.
 *
 * Target: append ≥ 0.7× raw on PostgreSQL (issue 13); PGlite is printed beside
 * its own raw figure with the same goal.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PgliteDatabase, PostgresDatabase, prepared, type Database } from '../src/db/database';
import type { EventData, EventStore } from '../src/event-store/port';
import { SqlEventStore } from '../src/event-store/sql/sql-event-store';

export const APPEND_TARGET_RATIO_MIN = 0.7;

export interface StoreBenchOptions {
  readonly durationSeconds: number;
  readonly callers: number;
}

export interface RateFigure {
  readonly operations: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface StoreBenchResult {
  readonly engine: 'pglite' | 'postgres';
  readonly raw: RateFigure;
  readonly append: RateFigure;
  readonly appendUngrouped: RateFigure;
}

const ROUNDS = 2;
const WARM_UP_SECONDS = 1;

const RAW_TABLE_SQL = `CREATE TABLE raw_events (
  global_position bigserial PRIMARY KEY,
  transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
  stream_name text NOT NULL CHECK (stream_name <> ''),
  stream_revision bigint NOT NULL CHECK (stream_revision >= 0),
  event_id uuid NOT NULL,
  event_type text NOT NULL CHECK (event_type <> ''),
  data jsonb NOT NULL,
  metadata jsonb NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT raw_events_event_id_key UNIQUE (event_id),
  CONSTRAINT raw_events_stream_revision_key UNIQUE (stream_name, stream_revision))`;
const RAW_INDEX_SQL = 'CREATE INDEX raw_events_transaction_position ON raw_events (transaction_id, global_position)';
const RAW_INSERT_SQL = prepared(`INSERT INTO raw_events (stream_name, stream_revision, event_id, event_type, data, metadata)
  VALUES ($1, 0, $2, $3, $4::text::jsonb, $5::text::jsonb)`);

/** The event every append writes: the size and shape of a real payment request. */
function paymentRequested(): EventData {
  const paymentId = randomUUID();
  return {
    id: randomUUID(),
    type: 'PaymentRequested',
    data: {
      tenantId: 'acme',
      paymentId,
      instruction: {
        amountMinor: 12_550,
        currency: 'EUR',
        debtor: { name: 'Acme Ltd', iban: 'DE89370400440532013000' },
        creditor: { name: 'Bob Supplier', iban: 'GB82WEST12345698765432' },
        reference: 'bench',
        metadata: {},
      },
    },
    metadata: {
      correlationId: paymentId,
      causationId: paymentId,
      requestId: paymentId,
      principal: { kind: 'client', id: 'client:acme', tenantId: 'acme' },
      recordedAt: new Date().toISOString(),
      schemaVersion: 1,
    },
  };
}

/** Runs `operation` from `callers` concurrent loops for `seconds`; counts completions and their latency. */
async function runFor(seconds: number, callers: number, operation: (caller: number, index: number) => Promise<unknown>): Promise<RateFigure> {
  const latenciesMs: number[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const loop = async (caller: number) => {
    for (let index = 0; performance.now() < deadline; index++) {
      const begun = performance.now();
      await operation(caller, index);
      latenciesMs.push(performance.now() - begun);
    }
  };
  await Promise.all(Array.from({ length: callers }, (_, caller) => loop(caller)));
  const elapsedSeconds = (performance.now() - started) / 1000;
  latenciesMs.sort((a, b) => a - b);
  const at = (share: number) => Number((latenciesMs[Math.min(latenciesMs.length - 1, Math.floor(latenciesMs.length * share))] ?? 0).toFixed(2));
  return { operations: latenciesMs.length, perSecond: latenciesMs.length / elapsedSeconds, p50Ms: at(0.5), p99Ms: at(0.99) };
}

const best = (figures: readonly RateFigure[]) => figures.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));

async function measureBoth(engine: StoreBenchResult['engine'], database: Database, options: StoreBenchOptions): Promise<StoreBenchResult> {
  await database.query(RAW_TABLE_SQL);
  await database.query(RAW_INDEX_SQL);
  const store: EventStore = await SqlEventStore.open(database);
  // As many statements at once as callers: one statement and one commit per append, nothing queued.
  const ungrouped: EventStore = await SqlEventStore.open(database, { appendBatchRequestsMax: 1, appendsInFlightMax: options.callers });
  const run = `${Date.now().toString(36)}`;
  let round = 0;
  const raw = (seconds: number) =>
    runFor(seconds, options.callers, (caller, index) => {
      const event = paymentRequested();
      return database.query(RAW_INSERT_SQL, [`raw-${run}-${round}-${caller}-${index}`, event.id, event.type, JSON.stringify(event.data), JSON.stringify(event.metadata)]);
    });
  const appendThrough = (target: EventStore, label: string) => (seconds: number) =>
    runFor(seconds, options.callers, (caller, index) =>
      target.appendToStream(`payment-${label}-${run}-${round}-${caller}-${index}`, [paymentRequested()], { expectedRevision: 'no_stream' }),
    );
  const append = appendThrough(store, 'grouped');
  const appendUngrouped = appendThrough(ungrouped, 'single');
  try {
    await raw(WARM_UP_SECONDS);
    round++;
    await append(WARM_UP_SECONDS);
    const raws: RateFigure[] = [];
    const appends: RateFigure[] = [];
    const ungroupeds: RateFigure[] = [];
    for (let index = 0; index < ROUNDS; index++) {
      round++;
      raws.push(await raw(options.durationSeconds));
      appends.push(await append(options.durationSeconds));
      ungroupeds.push(await appendUngrouped(options.durationSeconds));
    }
    return { engine, raw: best(raws), append: best(appends), appendUngrouped: best(ungroupeds) };
  } finally {
    await store.close();
    await ungrouped.close();
  }
}

export async function benchStorePostgres(url: string, schema: string, options: StoreBenchOptions): Promise<StoreBenchResult> {
  const database = await PostgresDatabase.open({ connectionString: url, schema, poolSizeMax: options.callers });
  try {
    return await measureBoth('postgres', database, options);
  } finally {
    await database.close();
  }
}

/** PGlite on disk, in a fresh directory, as `npm start` runs it. */
export async function benchStorePglite(options: StoreBenchOptions): Promise<StoreBenchResult> {
  const dataDir = await mkdtemp(join(tmpdir(), 'paystream-bench-store-'));
  const database = await PgliteDatabase.open(dataDir);
  try {
    return await measureBoth('pglite', database, options);
  } finally {
    await database.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

export function printStoreResults(results: readonly StoreBenchResult[], options: StoreBenchOptions): void {
  console.table(
    results.flatMap((result) => {
      const ratio = result.append.perSecond / result.raw.perSecond;
      const ungroupedRatio = result.appendUngrouped.perSecond / result.raw.perSecond;
      const row = (measurement: string, figure: RateFigure, vsRaw: string, goal: string) => ({
        store: result.engine,
        measurement,
        'ops/s': Math.round(figure.perSecond),
        'p50 ms': figure.p50Ms,
        'p99 ms': figure.p99Ms,
        'vs raw': vsRaw,
        goal,
      });
      return [
        row(`raw single-INSERT transaction, ${options.callers} callers`, result.raw, '1.00×', ''),
        row(`appendToStream, new streams, ${options.callers} callers`, result.append, `${ratio.toFixed(2)}×`, `≥ ${APPEND_TARGET_RATIO_MIN}× ${ratio >= APPEND_TARGET_RATIO_MIN ? 'met' : 'MISSED'}`),
        row(`the same, no group commit`, result.appendUngrouped, `${ungroupedRatio.toFixed(2)}×`, ''),
      ];
    }),
  );
}
