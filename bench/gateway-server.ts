/**
 * The system under test of the gateway bench, in its own process so the load
 * generator does not share its event loop (as bench/server.ts does for the API):
 * the event store (PGlite in memory, or a PostgreSQL schema), the sandbox bank
 * (in-memory ledger, every fault off, so the bank adds no latency of its own)
 * and the bank gateway built by `composeBankGateway`, as `npm start` runs them.
 *
 * `latency`: also serves the API; prints `{"url": …}`, then one line
 * `{"settled": "<payment id>"}` per PaymentSettled it sees on the log, until SIGTERM.
 * `drain`: measures the bank alone, then the gateway draining a backlog; prints
 * one JSON line with both results and exits.
 *
 * Nothing is logged to stdout: it carries the line protocol. The gateway reads
 * its settings from the environment (GATEWAY_CONCURRENCY_MAX, …) like the process does.
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { createPaymentsModule, type PaymentsModule } from '../src/application/payments';
import { SANDBOX_ADMIN_KEY_DEFAULT, SANDBOX_API_KEY_DEFAULT } from '../src/bank-sandbox/config';
import { startBankSandbox, type BankSandbox } from '../src/bank-sandbox/server';
import { composeBankGateway, type GatewayParts } from '../src/bank-gateway/compose';
import { readGatewayConfig, type GatewayConfig } from '../src/bank-gateway/config';
import { PgliteDatabase, PostgresDatabase, type Database } from '../src/db/database';
import { PAYMENT_STREAM_PREFIX, parsePaymentStreamName, type PaymentId, type TenantId } from '../src/domain/ids';
import type { CurrencyCode } from '../src/domain/money';
import type { EventStore, GlobalPosition } from '../src/event-store/port';
import { SqlEventStore } from '../src/event-store/sql/sql-event-store';
import { createApiServer } from '../src/http/server';

const BENCH_TENANT = 'acme';
const IBAN_DEBTOR = 'DE89370400440532013000';
const IBAN_CREDITOR = 'GB82WEST12345698765432';
/** Writers in flight while the backlog is enqueued. */
const ENQUEUE_CONCURRENCY_MAX = 16;
/** Past this, a drain or the bank measurement stops and reports what it got. */
const DRAIN_MS_MAX = Number(process.env.BENCH_GATEWAY_DRAIN_MS_MAX ?? 60_000);

export interface DrainResult {
  readonly concurrencyMax: number;
  readonly pollIntervalMs: number;
  readonly bank: { readonly transfers: number; readonly failed: number; readonly elapsedMs: number };
  readonly enqueue: { readonly payments: number; readonly elapsedMs: number };
  readonly drain: { readonly payments: number; readonly settled: number; readonly elapsedMs: number };
}

const logger = pino({ level: process.env.BENCH_LOG_LEVEL ?? 'silent' }, pino.destination(2));

async function openDatabase(kind: string): Promise<Database> {
  if (kind === 'pglite') return PgliteDatabase.open();
  const url = process.env.BENCH_DATABASE_URL;
  const schema = process.env.BENCH_DATABASE_SCHEMA;
  if (!url || !schema) throw new Error('BENCH_DATABASE_URL and BENCH_DATABASE_SCHEMA are required for postgres');
  // The pool size production gets (openStores): the API and the gateway share it.
  return PostgresDatabase.open({ connectionString: url, schema });
}

function startBank(): Promise<BankSandbox> {
  return startBankSandbox({ storage: { kind: 'memory' }, apiKey: SANDBOX_API_KEY_DEFAULT, adminKey: SANDBOX_ADMIN_KEY_DEFAULT, seed: 1, logger });
}

/** The environment's gateway settings (defaults as in production), pointed at this sandbox. */
function gatewayConfig(bank: BankSandbox): GatewayConfig {
  const problems: string[] = [];
  const config = readGatewayConfig({ ...process.env, GATEWAY_ID: 'bench-gateway' }, problems);
  if (problems.length > 0) throw new Error(problems.join('; '));
  return { ...config, bankUrl: bank.url, bankApiKey: bank.apiKey };
}

interface System {
  readonly store: EventStore;
  readonly payments: PaymentsModule;
  readonly gateway: GatewayParts;
  readonly config: GatewayConfig;
  close(): Promise<void>;
}

/** Store, bank and gateway; the gateway is built but not started. */
async function startSystem(kind: string): Promise<System> {
  const database = await openDatabase(kind);
  const store = await SqlEventStore.open(database);
  const payments = createPaymentsModule({ store });
  const bank = await startBank();
  const config = gatewayConfig(bank);
  const gateway = composeBankGateway({ config, nodeEnv: process.env.NODE_ENV, store, database, payments, logger });
  const close = async () => {
    await gateway.gateway.stop();
    await bank.close();
    await store.close();
    await database.close();
  };
  return { store, payments, gateway, config, close };
}

/** Calls `onSettled` with the payment id of every PaymentSettled after `from`. */
function followSettled(store: EventStore, from: GlobalPosition, onSettled: (paymentId: string) => void) {
  const subscription = store.subscribeToAll({ fromPosition: from, filter: { eventTypes: ['PaymentSettled'], streamPrefixes: [PAYMENT_STREAM_PREFIX] } });
  const done = (async () => {
    for await (const event of subscription) {
      const names = parsePaymentStreamName(event.streamName);
      if (names) onSettled(names.paymentId);
    }
  })();
  return { close: async () => (await subscription.close(), await done) };
}

/** Runs `work(0 … count-1)` on `lanes` lanes until done or past `deadline` (ms since the epoch). */
async function runLanes(count: number, lanes: number, deadline: number, work: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count && Date.now() < deadline) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.min(lanes, count) }, lane));
}

// ---- drain mode ----

function transferBody(index: number) {
  return JSON.stringify({
    amountMinor: 12_550,
    currency: 'EUR',
    debtor: { name: 'Acme Ltd', iban: IBAN_DEBTOR },
    creditor: { name: 'Bob Supplier', iban: IBAN_CREDITOR },
    endToEndId: `BENCH${index.toString().padStart(10, '0')}`,
    remittanceInformation: `bench ${index}`,
  });
}

/**
 * The baseline: POST /v1/transfers straight to a fresh sandbox of its own, from
 * this process (as the gateway calls it), with the gateway's concurrency and a
 * new idempotency key per transfer.
 */
async function measureBankDirect(count: number, concurrencyMax: number): Promise<DrainResult['bank']> {
  const bank = await startBank();
  let transfers = 0;
  let failed = 0;
  const started = performance.now();
  try {
    await runLanes(count, concurrencyMax, Date.now() + DRAIN_MS_MAX, async (index) => {
      transfers += 1;
      const headers = { authorization: `Bearer ${bank.apiKey}`, 'content-type': 'application/json', 'idempotency-key': randomUUID() };
      const response = await fetch(`${bank.url}/v1/transfers`, { method: 'POST', headers, body: transferBody(index) });
      await response.arrayBuffer();
      if (response.status !== 201) failed += 1;
    });
    return { transfers, failed, elapsedMs: performance.now() - started };
  } finally {
    await bank.close();
  }
}

function backlogPayment(index: number) {
  const tenantId = BENCH_TENANT as TenantId;
  const paymentId = `backlog-${index}` as PaymentId;
  const instruction = {
    amountMinor: 12_550,
    currency: 'EUR' as CurrencyCode,
    debtor: { name: 'Acme Ltd', iban: IBAN_DEBTOR },
    creditor: { name: 'Bob Supplier', iban: IBAN_CREDITOR },
    reference: `backlog ${index}`,
    metadata: {},
  };
  const principal = { kind: 'client' as const, id: `client:${tenantId}:bench`, tenantId };
  const metadata = { now: new Date(), principal, requestId: paymentId, correlationId: paymentId, causationId: paymentId };
  return { input: { tenantId, paymentId, createOnly: true, instruction }, metadata };
}

/** Writes the backlog through the payments module, as the API would, before any gateway runs. */
async function enqueueBacklog(module: PaymentsModule, count: number): Promise<DrainResult['enqueue']> {
  let payments = 0;
  const started = performance.now();
  await runLanes(count, ENQUEUE_CONCURRENCY_MAX, Date.now() + DRAIN_MS_MAX, async (index) => {
    payments += 1;
    const { input, metadata } = backlogPayment(index);
    await module.requestPayment(input, metadata);
  });
  return { payments, elapsedMs: performance.now() - started };
}

/** Starts the gateway over the backlog and times it until every payment is settled (or the deadline). */
async function drainBacklog(system: System, count: number): Promise<DrainResult['drain']> {
  let settled = 0;
  let allSettled!: () => void;
  const finished = new Promise<void>((resolve) => (allSettled = resolve));
  const follower = followSettled(system.store, await system.store.headPosition(), () => {
    if (++settled === count) allSettled();
  });
  const deadline = setTimeout(allSettled, DRAIN_MS_MAX);
  const started = performance.now();
  await system.gateway.gateway.start();
  await finished;
  const elapsedMs = performance.now() - started;
  clearTimeout(deadline);
  await follower.close();
  return { payments: count, settled, elapsedMs };
}

async function runDrain(kind: string): Promise<void> {
  const count = Number(process.env.BENCH_GATEWAY_PAYMENTS ?? 1_000);
  const system = await startSystem(kind);
  try {
    const bank = await measureBankDirect(count, system.config.concurrencyMax);
    const enqueue = await enqueueBacklog(system.payments, count);
    const drain = await drainBacklog(system, enqueue.payments);
    const result: DrainResult = { concurrencyMax: system.config.concurrencyMax, pollIntervalMs: system.config.pollIntervalMs, bank, enqueue, drain };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await system.close();
  }
}

// ---- latency mode ----

async function runLatency(kind: string): Promise<void> {
  const system = await startSystem(kind);
  const follower = followSettled(system.store, await system.store.headPosition(), (paymentId) => process.stdout.write(`${JSON.stringify({ settled: paymentId })}\n`));
  await system.gateway.gateway.start();
  const api = createApiServer({ store: system.store, payments: system.payments, logger, apiKeys: undefined, amountMajorMax: 1_000_000, bodyBytesMax: 65_536 });
  const { url } = await api.listen(0, '127.0.0.1');
  process.stdout.write(`${JSON.stringify({ url, concurrencyMax: system.config.concurrencyMax, pollIntervalMs: system.config.pollIntervalMs })}\n`);
  process.once('SIGTERM', () => {
    // A bounded, clean stop, so a PostgreSQL schema is free to drop once this process has exited.
    setTimeout(() => process.exit(1), 10_000).unref();
    void api
      .close()
      .then(() => follower.close())
      .then(() => system.close())
      .then(() => process.exit(0), () => process.exit(1));
  });
}

async function main(): Promise<void> {
  const [kind = 'pglite', mode = 'latency'] = process.argv.slice(2);
  if (mode === 'drain') {
    await runDrain(kind);
    process.exit(0);
  }
  await runLatency(kind);
}

main().catch((error: unknown) => {
  process.stderr.write(`gateway bench server: ${String(error instanceof Error ? error.stack : error)}\n`);
  process.exit(1);
});
