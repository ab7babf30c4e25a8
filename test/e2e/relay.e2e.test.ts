/**
 * The relay as a real process (src/processes/relay.ts) on server PostgreSQL,
 * publishing to a nats-server of the test's own: SIGKILLed again and again
 * between a JetStream ack and its checkpoint write, and with NATS itself
 * SIGKILLed and restarted under it, while payments keep coming. Every payment
 * event ends up on the stream exactly once, in log order.
 */
import { PostgresDatabase } from '../../src/db/database';
import { SqlEventStore } from '../../src/event-store/sql/sql-event-store';
import { writeWorkload } from '../../src/relay/testing';
import { createTestSchema, serverPostgresSkipReason, serverPostgresUrl } from '../support/databases';
import { readWholeStream, startTestNatsServer, uniqueStreamNames, type TestNatsServer } from '../support/nats';
import { checkExactlyOnce, relayedEvents } from '../support/relay-checks';
import { startProcess, waitFor, waitForOutput, type RunningProcess } from './gateway-processes';

const RUN_MS_MAX = 120_000;
const HEALTH_PORT = /"port":(\d+),"msg":"relay health endpoints listening"/;

const describeOnServer = serverPostgresUrl() ? describe : describe.skip;
if (!serverPostgresUrl()) console.warn(`[paystream tests] SKIPPED: relay processes need server PostgreSQL: ${serverPostgresSkipReason()}`);

describeOnServer('relay process (SIGKILL between ack and checkpoint, NATS restarts, server PostgreSQL)', () => {
  let schema: Awaited<ReturnType<typeof createTestSchema>>;
  let database: PostgresDatabase;
  let store: SqlEventStore;
  let nats: TestNatsServer;
  const processes: RunningProcess[] = [];

  beforeAll(async () => {
    schema = await createTestSchema();
    database = await PostgresDatabase.open({ connectionString: schema.url, schema: schema.schema });
    store = await SqlEventStore.open(database);
    nats = await startTestNatsServer();
  }, 60_000);
  afterAll(async () => {
    await Promise.all(processes.map((running) => running.kill()));
    await store?.close();
    await database?.close();
    await schema?.drop();
    await nats?.close();
  });

  function startRelay(names: { streamName: string; subjectPrefix: string }, extraEnv: Record<string, string> = {}): RunningProcess {
    const relay = startProcess(`relay-${processes.length}`, 'src/processes/relay.ts', {
      EVENT_STORE: 'postgres',
      DATABASE_URL: schema.url,
      DATABASE_SCHEMA: schema.schema,
      NATS_URL: nats.url,
      NATS_STREAM: names.streamName,
      NATS_SUBJECT_PREFIX: names.subjectPrefix,
      RELAY_HEALTH_PORT: '0',
      RELAY_BATCH_SIZE_MAX: '4',
      RELAY_POLL_INTERVAL_MS: '20',
      RELAY_PUBLISH_TIMEOUT_MS: '1000',
      ...extraEnv,
    });
    processes.push(relay);
    return relay;
  }

  async function expectExactlyOnce(streamName: string): Promise<number> {
    const events = await relayedEvents(store);
    const messages = await waitFor(`all ${events.length} events on ${streamName}`, async () => {
      const current = await readWholeStream(nats.url, streamName);
      return current.length >= events.length ? current : undefined;
    }, RUN_MS_MAX, 250);
    expect(checkExactlyOnce(events, messages)).toEqual({ duplicates: [], missing: [], unexpected: [], outOfOrder: [] });
    return messages.length;
  }

  it('when the relay is SIGKILLed between publishing and checkpointing, again and again while payments come in, then every event is on the stream once, in order', async () => {
    const names = uniqueStreamNames('kill');
    await writeWorkload(store, 'kill-before', 10, 2);
    // More payments arrive while the relays die and restart.
    const writing = writeWorkload(store, 'kill-during', 20, 1);
    // Each relay publishes one page (acked), then dies before its checkpoint write; the next one takes over.
    for (let round = 0; round < 6; round += 1) {
      const relay = startRelay(names, { RELAY_CRASH_POINTS: 'after-publish-before-checkpoint' });
      const exit = await Promise.race([relay.exited(), new Promise<undefined>((resolve) => setTimeout(resolve, 60_000, undefined))]);
      if (exit?.signal !== 'SIGKILL') throw new Error(`relay ${round} did not die at its crash point (${JSON.stringify(exit)}):\n${relay.output().slice(-3_000)}`);
      expect(relay.stderr()).toContain('paystream crash point reached: after-publish-before-checkpoint\n');
      if (round > 0) expect(relay.output()).toMatch(/stream is ahead of the checkpoint/);
    }
    await writing;
    const onStreamBefore = await readWholeStream(nats.url, names.streamName);
    expect(onStreamBefore.length).toBeGreaterThanOrEqual(6 * 4);
    // The last one runs without the crash point and finishes the log.
    const survivor = startRelay(names);
    await waitForOutput(survivor, /relay running/, 30_000);
    const published = await expectExactlyOnce(names.streamName);
    expect(published).toBe((await relayedEvents(store)).length);
    await waitForOutput(survivor, HEALTH_PORT, 30_000);
    const healthUrl = `http://127.0.0.1:${HEALTH_PORT.exec(survivor.output())![1]!}`;
    const ready = await waitFor('the relay ready with no lag', async () => {
      const response = await fetch(`${healthUrl}/health/ready`);
      const body = (await response.json()) as { checks: { relay: { details: Record<string, unknown> } } };
      return response.status === 200 && body.checks.relay.details['eventsBehind'] === 0 ? body : undefined;
    }, 30_000);
    expect(ready.checks.relay.details).toMatchObject({ state: 'running', streamSequence: published });
    await survivor.kill('SIGTERM');
  }, 300_000);

  it('when NATS is SIGKILLed and restarted during a run, then the relay rides it out and every event is on the stream once, in order', async () => {
    const names = uniqueStreamNames('natsdown');
    const relay = startRelay(names);
    await waitForOutput(relay, /relay running/, 30_000);
    const writing = writeWorkload(store, 'natsdown', 40, 2);
    await waitFor('some events on the stream', async () => ((await readWholeStream(nats.url, names.streamName)).length > 10 ? true : undefined), 30_000);
    await nats.kill();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await nats.start();
    await writing;
    await expectExactlyOnce(names.streamName);
    expect(relay.isRunning()).toBe(true);
    expect(relay.output()).toMatch(/NATS connection changed|relay cannot reach NATS/);
    await relay.kill('SIGTERM');
  }, 300_000);
});
