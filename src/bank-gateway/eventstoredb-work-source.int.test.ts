/**
 * The work source against a live EventStoreDB, when the run found one (see
 * test/support/external-services.ts); otherwise skipped, loudly, with the reason
 * in every test's name. Each test uses its own group and stream prefix and
 * deletes its group, so runs on a shared server never meet.
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { eventStoreDbSkipReason, eventStoreDbUrl } from '../../test/support/databases';
import { eventData, uniquePrefix } from '../event-store/event-store.contract';
import { EventStoreDbEventStore } from '../event-store/eventstoredb/eventstoredb-event-store';
import type { GlobalPosition } from '../event-store/port';
import { createEventStoreDbWorkSource, type WorkHandler, type WorkSource } from './eventstoredb-work-source';

const url = eventStoreDbUrl();
const LIMITS = { retryCountMax: 2, messageTimeoutMs: 5_000, inFlightMax: 4 };
const WAIT_MS_MAX = 20_000;

if (!url) console.warn(`[paystream tests] SKIPPED: the EventStoreDB work source tests did not run: ${eventStoreDbSkipReason()}`);
const describeLive = url ? describe : describe.skip;
const suffix = url ? '' : ` (SKIPPED, no EventStoreDB: ${eventStoreDbSkipReason()})`;

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS_MAX;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`waited ${WAIT_MS_MAX} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describeLive(`EventStoreDB work source${suffix}`, () => {
  let store: EventStoreDbEventStore;
  let group: string;
  let prefix: string;
  let head: GlobalPosition;
  let source: WorkSource | undefined;

  beforeAll(async () => {
    store = await EventStoreDbEventStore.connect(url!, { timeoutMs: 10_000 });
  });
  afterAll(async () => {
    await store?.close();
  });
  beforeEach(async () => {
    group = `paystream-test-${randomUUID()}`;
    prefix = `${uniquePrefix('work')}payment-`;
    head = await store.headPosition();
  });
  afterEach(async () => {
    await source?.stop();
    source = undefined;
    await store.esdbClient().deletePersistentSubscriptionToAll(group).catch(() => undefined);
  });

  function start(handler: WorkHandler): WorkSource {
    source = createEventStoreDbWorkSource({
      client: store.esdbClient(),
      handler,
      logger: pino({ level: 'silent' }),
      group,
      streamPrefixes: [prefix],
      limits: LIMITS,
      ...(head.commit >= 0n ? { startFrom: { commit: head.commit, prepare: head.prepare } } : {}),
    });
    return source;
  }

  it('when payment events are appended, then the group hands each one to the handler and acks it', async () => {
    const seen = new Set<string>();
    await start(async (event) => (seen.add(event.id), { kind: 'handled' })).start();
    const events = [eventData('PaymentRequested'), eventData('BankSubmissionStarted')];
    await store.appendToStream(`${prefix}t:1`, events, { expectedRevision: 'no_stream' });
    await until(() => events.every((event) => seen.has(event.id)), 'both events');
    expect(source!.status()).toMatchObject({ connected: true, parked: 0 });
  });

  it('when the handler keeps failing, then the event is parked after the retry limit, and a replay of parked messages delivers it again', async () => {
    let healthy = false;
    const handled = new Set<string>();
    await start(async (event) => {
      if (!healthy) throw new Error('read model database down');
      handled.add(event.id);
      return { kind: 'handled' };
    }).start();
    const poison = eventData('PaymentRequested');
    await store.appendToStream(`${prefix}t:2`, [poison], { expectedRevision: 'no_stream' });
    await until(() => source!.status().parked === 1, 'the event to be parked');
    healthy = true;
    await store.esdbClient().replayParkedMessagesToAll(group);
    await until(() => handled.has(poison.id), 'the replayed event');
  });
});
