/**
 * Projection rebuild throughput on server PostgreSQL, beside the raw read rate
 * of the same log measured in the same run.
 *
 * 1. Writes a log of realistic payment streams (requested; bank submission;
 *    settled, rejected, retried, parked and resolved by an operator; cancelled):
 *    events made by the real decider from real commands, wrapped in the real
 *    envelope, appended in parallel through the store's `appendToStream`.
 *    Payments are written in waves: every request of a wave, then the rest of
 *    each payment's life in a second append, so a payment's first and later
 *    events lie thousands of events apart in the log, as they do in production
 *    (and a rebuild must load rows written by earlier batches). Rationale for
 *    two appends rather than one per command: the same log in 40% fewer
 *    transactions, which keeps the write phase to a couple of minutes.
 * 2. Raw, the baseline: reads the whole log in position order through
 *    **unfiltered** `readAll` pages of the rebuild's page size, one page after
 *    another (the cheapest ordered read of the log, nothing applied). Rationale
 *    (issue 13): the filtered read the rebuild itself does was 3.8× slower than
 *    this, so a baseline with the filter flattered every ratio. The filtered
 *    read is printed beside it, for information.
 * 3. Rebuild: each read model through `rebuildProjection`, the code path of
 *    `npm run projections -- rebuild` (shadow tables, batches, swap).
 *
 * Target: each rebuild ≥ 50% of the raw read rate. BENCH_PROJECTION_EVENTS sets
 * the log's size (default 200 000; e.g. 20 000 for a quick smoke run).
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { toEventData } from '../src/application/event-envelope';
import { PostgresDatabase, type Database } from '../src/db/database';
import { paymentStreamName, type PaymentId, type TenantId } from '../src/domain/ids';
import type { CurrencyCode } from '../src/domain/money';
import { decide, evolve, initialState, PAYMENT_EVENT_SCHEMA_VERSION, type PaymentCommand, type PaymentState } from '../src/domain/payment';
import type { CommandMetadata, Principal } from '../src/domain/principal';
import type { EventData, EventStore, GlobalPosition } from '../src/event-store/port';
import { START } from '../src/event-store/port';
import { SqlEventStore } from '../src/event-store/sql/sql-event-store';
import type { Projection } from '../src/projections/projection';
import { READ_MODELS } from '../src/projections/read-models';
import { PAYMENT_EVENTS_FILTER } from '../src/projections/read-models/payment-events';
import { REBUILD_BATCH_SIZE_MAX, rebuildProjection } from '../src/projections/rebuild';
import { seededRandom } from '../src/projections/testing/workload';

export const REBUILD_TARGET_RATIO_MIN = 0.5;

export interface ProjectionBenchOptions {
  /** Events to write (the log ends a few events above it: a payment is written whole). */
  readonly eventCount: number;
  /** Appends in flight at once while writing the log. */
  readonly appendConcurrencyMax: number;
  /** Payments per wave (see the file comment). */
  readonly waveSizeMax: number;
}

export interface ThroughputFigure {
  readonly name: string;
  readonly events: number;
  readonly elapsedMs: number;
  readonly eventsPerSecond: number;
}

export interface ProjectionBenchResult {
  readonly write: ThroughputFigure;
  readonly raw: ThroughputFigure;
  readonly rawFiltered: ThroughputFigure;
  readonly rebuilds: readonly ThroughputFigure[];
}

// ---- the log: commands per payment, decided by the real decider ----

type CommandSpec = { readonly principal: Principal; readonly command: Omit<PaymentCommand, 'metadata'> };

const GATEWAY: Principal = { kind: 'system', id: 'gateway:bench-1' };
const OPERATOR: Principal = { kind: 'staff', id: 'operator:bench', role: 'operator' };
const TENANTS = ['acme', 'globex', 'initech', 'umbrella', 'hooli'];
const CURRENCIES: readonly CurrencyCode[] = ['EUR', 'EUR', 'EUR', 'GBP', 'USD', 'JPY'] as CurrencyCode[];

/** The paths a payment takes, with their share of payments (sums to 1). */
const PATHS: ReadonlyArray<readonly [string, number]> = [
  ['settled', 0.55],
  ['rejected', 0.1],
  ['retried-then-settled', 0.1],
  ['cancelled', 0.1],
  ['requested', 0.08],
  ['parked-then-resolved', 0.05],
  ['operator-retry', 0.02],
];

function pickPath(random: () => number): string {
  let draw = random();
  for (const [path, share] of PATHS) {
    draw -= share;
    if (draw < 0) return path;
  }
  return PATHS[0]![0];
}

function commandsOf(path: string, tenantId: TenantId, paymentId: PaymentId, amountMinor: number, currency: CurrencyCode): CommandSpec[] {
  const client: Principal = { kind: 'client', id: `client:${tenantId}`, tenantId };
  const request: CommandSpec = {
    principal: client,
    command: {
      type: 'RequestPayment',
      data: {
        tenantId,
        paymentId,
        instruction: {
          amountMinor,
          currency,
          debtor: { name: `Debtor of ${tenantId}`, iban: 'DE89370400440532013000' },
          creditor: { name: 'Bob Supplier', iban: 'GB82WEST12345698765432' },
          reference: `Invoice ${paymentId}`,
          metadata: {},
        },
      },
    },
  };
  const submit: CommandSpec = { principal: GATEWAY, command: { type: 'StartBankSubmission', data: { idempotencyKey: `key-${paymentId}`, endToEndId: `e2e-${paymentId}`, gatewayId: 'gw-1' } } };
  const settle: CommandSpec = { principal: GATEWAY, command: { type: 'SettlePayment', data: { bankTransferId: `bt-${paymentId}` } } };
  const park: CommandSpec = { principal: GATEWAY, command: { type: 'ParkWithUnknownOutcome', data: { lastError: 'timeout after 3 attempts', errorCode: 'bank_timeout' } } };
  switch (path) {
    case 'requested':
      return [request];
    case 'cancelled':
      return [request, { principal: client, command: { type: 'CancelPayment', data: { reason: 'duplicate order' } } }];
    case 'rejected':
      return [request, submit, { principal: GATEWAY, command: { type: 'RejectPayment', data: { reason: 'account closed', reasonCode: 'AC04', bankTransferId: `bt-${paymentId}` } } }];
    case 'retried-then-settled':
      return [request, submit, { principal: GATEWAY, command: { type: 'RecordBankAttemptFailure', data: { attempt: 1, error: 'bank answered 503', errorCode: 'bank_unavailable' } } }, submit, settle];
    case 'parked-then-resolved':
      return [
        request,
        submit,
        park,
        { principal: OPERATOR, command: { type: 'ResolveManually', data: { outcome: 'settled', bankTransferId: `bt-op-${paymentId}`, reason: 'confirmed by phone', evidence: 'ticket 1' } } },
      ];
    case 'operator-retry':
      return [request, submit, park, { principal: OPERATOR, command: { type: 'RequestOperatorRetry', data: { reason: 'bank says retry' } } }, submit, settle];
    default:
      return [request, submit, settle];
  }
}

/** One payment's appends: each command's events, decided against the state so far. */
function plannedAppends(index: number, random: () => number, firstDayMs: number): { stream: string; appends: EventData[][] } {
  const tenantId = TENANTS[index % TENANTS.length] as TenantId;
  const paymentId = `bench-${index.toString().padStart(7, '0')}` as PaymentId;
  const currency = CURRENCIES[Math.floor(random() * CURRENCIES.length)]!;
  const amountMinor = 100 + Math.floor(random() * 2_000_000);
  let nowMs = firstDayMs + Math.floor(random() * 30) * 86_400_000 + Math.floor(random() * 86_000_000);
  let state: PaymentState = initialState;
  const appends: EventData[][] = [];
  for (const [step, spec] of commandsOf(pickPath(random), tenantId, paymentId, amountMinor, currency).entries()) {
    nowMs += 1_000 + Math.floor(random() * 120_000);
    const requestId = `req-${index}-${step}`;
    const metadata: CommandMetadata = { now: new Date(nowMs), principal: spec.principal, requestId, correlationId: `corr-${index}`, causationId: requestId };
    const events = decide({ ...spec.command, metadata } as PaymentCommand, state);
    state = events.reduce(evolve, state);
    const recorded = events.map((event) => toEventData(event, metadata, PAYMENT_EVENT_SCHEMA_VERSION, randomUUID));
    // The request on its own, the rest of the payment's life in a second append (see writeLog).
    if (appends.length < 2) appends.push(recorded);
    else appends[1]!.push(...recorded);
  }
  return { stream: paymentStreamName(tenantId, paymentId), appends };
}

/** Runs `work` over `items` with at most `concurrencyMax` in flight. */
async function forEachLimited<T>(items: readonly T[], concurrencyMax: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrencyMax, items.length) }, lane));
}

export async function writeLog(store: EventStore, options: ProjectionBenchOptions): Promise<ThroughputFigure> {
  const random = seededRandom(2026);
  const firstDayMs = Date.parse('2026-01-01T00:00:00Z');
  const started = Date.now();
  let written = 0;
  let index = 0;
  while (written < options.eventCount) {
    const wave: Array<{ stream: string; appends: EventData[][] }> = [];
    let waveEvents = 0;
    while (wave.length < options.waveSizeMax && written + waveEvents < options.eventCount) {
      const payment = plannedAppends(index++, random, firstDayMs);
      wave.push(payment);
      waveEvents += payment.appends.reduce((sum, events) => sum + events.length, 0);
    }
    const rounds = Math.max(...wave.map((payment) => payment.appends.length));
    for (let round = 0; round < rounds; round += 1) {
      const due = wave.filter((payment) => payment.appends.length > round);
      await forEachLimited(due, options.appendConcurrencyMax, async (payment) => {
        const expectedRevision = round === 0 ? 'no_stream' : payment.appends.slice(0, round).reduce((count, events) => count + events.length, 0) - 1;
        await store.appendToStream(payment.stream, payment.appends[round]!, { expectedRevision });
      });
    }
    written += waveEvents;
    process.stderr.write(`\r  writing the log: ${written} events`);
  }
  process.stderr.write('\n');
  return figure('write (appendToStream, 2 appends per payment)', written, Date.now() - started);
}

// ---- the measurements ----

function figure(name: string, events: number, elapsedMs: number): ThroughputFigure {
  return { name, events, elapsedMs, eventsPerSecond: events / Math.max(elapsedMs / 1000, 0.001) };
}

/** Reads the whole log page by page, applying nothing: unfiltered, or with the payment-events filter a rebuild uses. */
export async function readEverything(store: EventStore, pageSize: number, filtered = false): Promise<ThroughputFigure> {
  const started = Date.now();
  let position: GlobalPosition = START;
  let events = 0;
  for (;;) {
    const page = await store.readAll({ fromPosition: position, limit: pageSize, ...(filtered ? { filter: PAYMENT_EVENTS_FILTER } : {}) });
    events += page.length;
    if (page.length < pageSize) break;
    position = page[page.length - 1]!.position;
  }
  return figure(`raw readAll, ${filtered ? "the rebuild's filter" : 'unfiltered'} (pages of ${pageSize})`, events, Date.now() - started);
}

async function rebuild(database: Database, store: EventStore, projection: Projection): Promise<ThroughputFigure> {
  const logger = pino({ level: 'silent' });
  const started = Date.now();
  const result = await rebuildProjection({ database, store, logger, projection, restart: true });
  return figure(`rebuild ${projection.name}`, result.eventsApplied, Date.now() - started);
}

/**
 * The log is written over connections with synchronous_commit off. Rationale:
 * writing is not what is measured here, and one fsync per append would make a
 * 200 000-event log take minutes on a shared machine. The measurements run over
 * ordinary connections.
 */
async function writeLogFast(url: string, schema: string, options: ProjectionBenchOptions): Promise<ThroughputFigure> {
  const separator = url.includes('?') ? '&' : '?';
  const fastUrl = `${url}${separator}options=${encodeURIComponent(`-c search_path=${schema} -c synchronous_commit=off`)}`;
  const database = await PostgresDatabase.open({ connectionString: fastUrl, schema, poolSizeMax: options.appendConcurrencyMax, statementTimeoutMs: 120_000 });
  const store = await SqlEventStore.open(database);
  try {
    return await writeLog(store, options);
  } finally {
    await store.close();
    await database.close();
  }
}

export async function benchProjections(url: string, schema: string, options: ProjectionBenchOptions): Promise<ProjectionBenchResult> {
  const write = await writeLogFast(url, schema, options);
  const database = await PostgresDatabase.open({ connectionString: url, schema, statementTimeoutMs: 120_000 });
  const store = await SqlEventStore.open(database);
  try {
    await database.query('VACUUM ANALYZE events');
    await readEverything(store, REBUILD_BATCH_SIZE_MAX); // warms the cache for both sides alike
    const raw = await readEverything(store, REBUILD_BATCH_SIZE_MAX);
    const rawFiltered = await readEverything(store, REBUILD_BATCH_SIZE_MAX, true);
    const rebuilds: ThroughputFigure[] = [];
    for (const projection of READ_MODELS) rebuilds.push(await rebuild(database, store, projection));
    return { write, raw, rawFiltered, rebuilds };
  } finally {
    await store.close();
    await database.close();
  }
}

export function printProjectionResults(result: ProjectionBenchResult): void {
  const row = (entry: ThroughputFigure, ratio: string, target: string) => ({
    measurement: entry.name,
    events: entry.events,
    seconds: Number((entry.elapsedMs / 1000).toFixed(1)),
    'events/s': Math.round(entry.eventsPerSecond),
    'vs raw': ratio,
    target,
  });
  const total = figure(
    'rebuild all three, one after another',
    result.rebuilds.reduce((sum, entry) => sum + entry.events, 0),
    result.rebuilds.reduce((sum, entry) => sum + entry.elapsedMs, 0),
  );
  const rows = [
    row(result.write, '', ''),
    row(result.raw, '100%', 'baseline'),
    row(result.rawFiltered, `${((result.rawFiltered.eventsPerSecond / result.raw.eventsPerSecond) * 100).toFixed(1)}%`, ''),
  ];
  for (const entry of [...result.rebuilds, total]) {
    const ratio = entry.eventsPerSecond / result.raw.eventsPerSecond;
    rows.push(row(entry, `${(ratio * 100).toFixed(1)}%`, `≥ ${REBUILD_TARGET_RATIO_MIN * 100}% ${ratio >= REBUILD_TARGET_RATIO_MIN ? 'met' : 'MISSED'}`));
  }
  console.table(rows);
}
