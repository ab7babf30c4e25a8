/**
 * The retry cache on real stores: a retry of a known payment is answered
 * without reading its stream, and never with a state older than one a client
 * was already answered with — here a cancel written by another store instance
 * (another process) that the cache's subscription has not seen yet.
 */
import { randomUUID } from 'node:crypto';
import { PostgresDatabase, type Database } from '../db/database';
import type { CurrencyCode } from '../domain/money';
import { PAYMENT_STREAM_PREFIX, paymentStreamName, type PaymentId, type TenantId } from '../domain/ids';
import type { PaymentEvent, PaymentInstruction, PaymentState } from '../domain/payment';
import type { CommandMetadata } from '../domain/principal';
import { DomainError } from '../domain/errors';
import type { EventStore } from '../event-store/port';
import { SqlEventStore } from '../event-store/sql/sql-event-store';
import { openTestDatabase, serverPostgresUrl, sqlEngines, type EngineName } from '../../test/support/databases';
import { createPaymentsModule, paymentDecider } from './payments';
import { StreamStateCache } from './stream-state-cache';

const TENANT = 'acme' as TenantId;
const POLL_NEVER_MS = 600_000;

const instruction = (amountMinor = 12_550): PaymentInstruction => ({
  amountMinor,
  currency: 'EUR' as CurrencyCode,
  debtor: { name: 'Acme Ltd', iban: 'DE89370400440532013000' },
  creditor: { name: 'Bob Supplier', iban: 'GB82WEST12345698765432' },
  reference: 'cache test',
  metadata: {},
});

const metadata = (): CommandMetadata => ({
  now: new Date(),
  principal: { kind: 'client', id: 'client:acme', tenantId: TENANT },
  requestId: randomUUID(),
  correlationId: randomUUID(),
  causationId: randomUUID(),
});

/** The real store, counting the stream reads that go through it. */
function countingReads(store: EventStore) {
  const counts = { streamReads: 0 };
  const counted: EventStore = Object.create(store) as EventStore;
  counted.readStream = (stream, options) => {
    counts.streamReads++;
    return store.readStream(stream, options);
  };
  return { store: counted, counts };
}

async function waitFor(what: string, condition: () => boolean, waitMsMax = 10_000): Promise<void> {
  const deadline = Date.now() + waitMsMax;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A second handle on the same database, as another process would have (PGlite has one). */
async function otherHandle(engine: EngineName, database: Database): Promise<{ database: Database; close(): Promise<void> }> {
  if (engine === 'pglite') return { database, close: async () => undefined };
  const schema = (await database.query<{ schema: string }>('SELECT current_schema() AS schema')).rows[0]!.schema;
  const other = await PostgresDatabase.open({ connectionString: serverPostgresUrl()!, schema });
  return { database: other, close: () => other.close() };
}

describe.each(sqlEngines())('the retry cache on %s', (engine) => {
  let database: Database & { dispose(): Promise<void> };
  let store: SqlEventStore;
  let cache: StreamStateCache<PaymentEvent, PaymentState>;

  beforeAll(async () => {
    database = await openTestDatabase(engine);
    // Its own channel and no polling: this store's subscription hears only its own appends.
    store = await SqlEventStore.open(database, { channel: `cache_test_${randomUUID().slice(0, 8)}`, pollIntervalMs: POLL_NEVER_MS });
    cache = new StreamStateCache({ store, fold: paymentDecider, streamPrefix: PAYMENT_STREAM_PREFIX, entriesMax: 100 });
    cache.start();
    await cache.ready();
  });
  afterAll(async () => {
    await cache.stop();
    await store.close();
    await database.dispose();
  });

  it('when a known payment is requested again with the same instruction, then the answer is the same and its stream is not read', async () => {
    const { store: counted, counts } = countingReads(store);
    const payments = createPaymentsModule({ store: counted, retryCache: cache });
    const paymentId = `p-${randomUUID()}` as PaymentId;
    const created = await payments.requestPayment({ tenantId: TENANT, paymentId, instruction: instruction(), createOnly: false }, metadata());
    expect(created.created).toBe(true);
    await waitFor('the cache to take the payment', () => cache.holds(paymentStreamName(TENANT, paymentId)));
    const readsBefore = counts.streamReads;
    const again = await payments.requestPayment({ tenantId: TENANT, paymentId, instruction: instruction(), createOnly: false }, metadata());
    expect(counts.streamReads).toBe(readsBefore);
    expect(again.created).toBe(false);
    expect(again.revision).toBe(created.revision);
    expect(again.position).toEqual(created.position);
    expect(again.state).toEqual(created.state);
  });

  it('when the same id comes with another amount, or create-only, then the store path answers (conflict, 412) as without the cache', async () => {
    const payments = createPaymentsModule({ store, retryCache: cache });
    const paymentId = `p-${randomUUID()}` as PaymentId;
    await payments.requestPayment({ tenantId: TENANT, paymentId, instruction: instruction(), createOnly: false }, metadata());
    await waitFor('the cache to take the payment', () => cache.holds(paymentStreamName(TENANT, paymentId)));
    await expect(payments.requestPayment({ tenantId: TENANT, paymentId, instruction: instruction(1), createOnly: false }, metadata())).rejects.toBeInstanceOf(DomainError);
    await expect(payments.requestPayment({ tenantId: TENANT, paymentId, instruction: instruction(), createOnly: true }, metadata())).rejects.toThrow(/If-None-Match/);
  });

  it('when another process changed the payment after the cache last heard of it, then the retry gets the newer state from the store', async () => {
    const handle = await otherHandle(engine, database);
    const elsewhere = await SqlEventStore.open(handle.database);
    try {
      const { store: counted, counts } = countingReads(store);
      const payments = createPaymentsModule({ store: counted, retryCache: cache });
      const paymentId = `p-${randomUUID()}` as PaymentId;
      await payments.requestPayment({ tenantId: TENANT, paymentId, instruction: instruction(), createOnly: false }, metadata());
      await waitFor('the cache to take the payment', () => cache.holds(paymentStreamName(TENANT, paymentId)));
      const before = counts.streamReads;
      expect((await payments.requestPayment({ tenantId: TENANT, paymentId, instruction: instruction(), createOnly: false }, metadata())).state.status).toBe('requested');
      expect(counts.streamReads).toBe(before);
      // Another process cancels; the cache's subscription neither polls nor hears that store's notifications.
      const cancelled = await createPaymentsModule({ store: elsewhere }).execute(TENANT, paymentId, { type: 'CancelPayment', data: { reason: 'changed my mind' }, metadata: metadata() });
      expect(cancelled.state.status).toBe('cancelled');
      const readsBefore = counts.streamReads;
      const retried = await payments.requestPayment({ tenantId: TENANT, paymentId, instruction: instruction(), createOnly: false }, metadata());
      expect(retried.state.status).toBe('cancelled');
      expect(retried.revision).toBe(cancelled.revision);
      expect(counts.streamReads).toBeGreaterThan(readsBefore);
    } finally {
      await elsewhere.close();
      await handle.close();
    }
  });
});
