/**
 * The relay against a real nats-server of its own (JetStream, temporary store)
 * and a real event store, on PGlite and server PostgreSQL: what lands on the
 * stream, and that nothing lands twice when the relay lost its place, even
 * when the stream's duplicate window is long gone.
 */
import pino from 'pino';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { openTestDatabase, sqlEngines } from '../../test/support/databases';
import { readWholeStream, startTestNatsServer, uniqueStreamNames, type TestNatsServer } from '../../test/support/nats';
import { checkExactlyOnce, relayedEvents } from '../../test/support/relay-checks';
import type { Database } from '../db/database';
import { SqlEventStore } from '../event-store/sql/sql-event-store';
import { START } from '../event-store/port';
import { advanceRelayCheckpoint, migrateRelay, readRelayCheckpoint } from './checkpoint';
import { connectJetStream } from './jetstream';
import { createRelay, type Relay } from './relay';
import { writePaymentLife, writeWorkload } from './testing';

const logger = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
const WAIT_MS_MAX = 20_000;

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = WAIT_MS_MAX): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

describe.each(sqlEngines())('outbox relay to JetStream on %s', (engine) => {
  let nats: TestNatsServer;
  let database: Database & { dispose(): Promise<void> };
  let store: SqlEventStore;
  const relays: Relay[] = [];

  // One database for the file (PGlite takes seconds to open on a busy machine): every test relays the
  // whole log to a stream of its own, so the events of earlier tests are simply part of what it must publish.
  beforeAll(async () => {
    nats = await startTestNatsServer();
    database = await openTestDatabase(engine);
    store = await SqlEventStore.open(database);
  });
  afterAll(async () => {
    await store?.close();
    await database?.dispose();
    await nats?.close();
  });
  afterEach(async () => {
    await Promise.all(relays.splice(0).map((relay) => relay.stop()));
  });
  const logSize = async () => (await relayedEvents(store)).length;

  function startRelay(names: { streamName: string; subjectPrefix: string }, batchSizeMax = 10): Relay {
    const relay = createRelay({
      store,
      database,
      logger,
      settings: { ...names, source: 'urn:paystream:test', batchSizeMax, pollIntervalMs: 20, retryBackoffMsMax: 200 },
      connect: () => connectJetStream({ servers: nats.url, ...names, publishTimeoutMs: 2_000, logger }),
    });
    relays.push(relay);
    void relay.start();
    return relay;
  }

  const waitForAll = (streamName: string, count: number) =>
    eventually(`${count} messages on ${streamName}`, async () => {
      const messages = await readWholeStream(nats.url, streamName);
      return messages.length >= count ? messages : undefined;
    });

  /** A stream made by the test with a duplicate window of 100 ms: deduplication by Nats-Msg-Id is as good as gone. */
  async function createStreamWithShortDedupWindow(names: { streamName: string; subjectPrefix: string }): Promise<void> {
    const connection = await connect({ servers: nats.url });
    const manager = await jetstreamManager(connection);
    await manager.streams.add({ name: names.streamName, subjects: [`${names.subjectPrefix}.>`], duplicate_window: 100_000_000 });
    await connection.close();
  }

  it('creates the stream, then publishes every payment event once, in log order, as CloudEvents without full IBANs on escaped tenant subjects', async () => {
    const names = uniqueStreamNames('shape');
    await writePaymentLife(store, 'globex.eu', 'inv-1', 0);
    await writePaymentLife(store, 'acme', 'inv-2', 4);
    startRelay(names);
    const messages = await waitForAll(names.streamName, 5);
    expect(await logSize()).toBe(5);
    const events = await relayedEvents(store);
    expect(checkExactlyOnce(events, messages)).toEqual({ duplicates: [], missing: [], unexpected: [], outOfOrder: [] });
    expect(messages.map((message) => message.subject)).toEqual([
      `${names.subjectPrefix}.globex~2Eeu.payment.requested`,
      `${names.subjectPrefix}.globex~2Eeu.payment.submission_started`,
      `${names.subjectPrefix}.globex~2Eeu.payment.settled`,
      `${names.subjectPrefix}.acme.payment.requested`,
      `${names.subjectPrefix}.acme.payment.cancelled`,
    ]);
    const requested = messages[0]!.body;
    expect(requested).toMatchObject({
      specversion: '1.0',
      id: events[0]!.id,
      source: 'urn:paystream:test',
      type: 'com.paystream.payment.requested.v1',
      subject: 'tenants/globex.eu/payments/inv-1',
      datacontenttype: 'application/json',
      data: {
        tenantId: 'globex.eu',
        paymentId: 'inv-1',
        revision: 0,
        amount: '10.00',
        amountMinor: 1000,
        currency: 'EUR',
        debtor: { name: 'Acme Ltd', ibanMasked: '****3000' },
        creditor: { name: 'Bob', ibanMasked: '****5432' },
      },
    });
    expect(new Date(String(requested['time'])).toISOString()).toBe(requested['time']);
    // No full IBAN anywhere on the stream, in any field.
    expect(JSON.stringify(messages)).not.toMatch(/DE89370400440532013000|GB82WEST12345698765432/);
    expect(messages[2]!.body).toMatchObject({ type: 'com.paystream.payment.settled.v1', data: { bankTransferId: 'bt-inv-1', revision: 2 } });
    expect(messages[2]!.headers['Content-Type']).toBe('application/cloudevents+json');
  });

  it('when the checkpoint is behind the stream (a crash between ack and checkpoint) long after the duplicate window, then a new relay resends nothing and moves the checkpoint to the stream', async () => {
    const names = uniqueStreamNames('behind');
    await createStreamWithShortDedupWindow(names);
    await writeWorkload(store, 'behind', 12);
    const written = await logSize();
    const first = startRelay(names);
    await waitForAll(names.streamName, written);
    await eventually('the checkpoint at the end', async () => ((await readRelayCheckpoint(database, names.streamName)).streamSequence === written ? true : undefined));
    await first.stop();
    // As if the relay died after every ack and before any checkpoint write.
    await database.query('DELETE FROM relay_checkpoints WHERE name = $1', [names.streamName]);
    expect((await readRelayCheckpoint(database, names.streamName)).position).toEqual(START);
    await new Promise((resolve) => setTimeout(resolve, 300));

    const second = startRelay(names);
    await writePaymentLife(store, 'acme', 'after-restart', 1);
    const messages = await waitForAll(names.streamName, written + 3);
    await eventually('the second relay to be idle', async () => ((await second.lag()).eventsBehind === 0 ? true : undefined));
    expect(checkExactlyOnce(await relayedEvents(store), await readWholeStream(nats.url, names.streamName))).toEqual({ duplicates: [], missing: [], unexpected: [], outOfOrder: [] });
    expect(messages).toHaveLength(written + 3);
  });

  it('when two relays publish the same log at once to a stream without effective deduplication, then every event is on it once', async () => {
    const names = uniqueStreamNames('twins');
    await createStreamWithShortDedupWindow(names);
    const writing = writeWorkload(store, 'twins', 30);
    startRelay(names, 3);
    startRelay(names, 7);
    await writing;
    await waitForAll(names.streamName, await logSize());
    await eventually('both relays idle', async () => ((await Promise.all(relays.map((relay) => relay.lag()))).every((lag) => lag.eventsBehind === 0) ? true : undefined));
    expect(checkExactlyOnce(await relayedEvents(store), await readWholeStream(nats.url, names.streamName))).toEqual({ duplicates: [], missing: [], unexpected: [], outOfOrder: [] });
  });

  it('reports its lag and last published position, is not ready while NATS is down, and catches up once NATS is back', async () => {
    const names = uniqueStreamNames('ready');
    const relay = startRelay(names);
    await writePaymentLife(store, 'acme', 'ready-1', 0);
    const total = await logSize();
    await waitForAll(names.streamName, total);
    const checkpoint = await eventually('the checkpoint past all three', async () => {
      const current = await readRelayCheckpoint(database, names.streamName);
      return current.streamSequence === total ? current : undefined;
    });
    const ready = await relay.readiness();
    expect(ready.details).toMatchObject({ state: 'running', streamSequence: total, eventsBehind: 0, position: `${checkpoint.position.commit}/${checkpoint.position.prepare}`, secondsBehind: 0 });

    await nats.kill();
    try {
      await writePaymentLife(store, 'acme', 'ready-2', 1);
      const down = await eventually('not ready while NATS is down', async () => {
        const report = await relay.readiness();
        return !report.healthy ? report : undefined;
      });
      expect(down.details).toMatchObject({ state: 'unavailable', eventsBehind: 3 });
      expect(String(down.details?.['error'])).not.toHaveLength(0);
    } finally {
      await nats.start();
    }
    await waitForAll(names.streamName, total + 3);
    await eventually('ready again', async () => ((await relay.readiness()).healthy ? true : undefined));
    expect(checkExactlyOnce(await relayedEvents(store), await readWholeStream(nats.url, names.streamName))).toEqual({ duplicates: [], missing: [], unexpected: [], outOfOrder: [] });
  });

  it('never moves its checkpoint backwards (a slower relay process cannot undo a faster one)', async () => {
    await migrateRelay(database);
    await advanceRelayCheckpoint(database, 'S', { commit: 5n, prepare: 9n }, 4);
    await advanceRelayCheckpoint(database, 'S', { commit: 5n, prepare: 3n }, 2);
    expect(await readRelayCheckpoint(database, 'S')).toMatchObject({ position: { commit: 5n, prepare: 9n }, streamSequence: 4 });
  });
});
