import { randomUUID } from 'node:crypto';
import { sqlEngines } from '../../test/support/databases';
import { START, type RecordedEvent } from '../event-store/port';
import type { SqlClient } from '../db/database';
import { CheckpointMovedError, commitBatch } from './batch';
import { ensureProjectionSchema, readCheckpoint } from './checkpoints';
import { resumeProjection, skipPoisonEvent } from './operations';
import { liveTableNames, type Projection } from './projection';
import { createProjector, type Projector } from './projector';
import { dumpTable, eventually, openHarness, type Harness } from './testing/harness';

/** A projection that records each event's position once: a second apply of one event breaks its primary key. */
function countingProjection(name: string, options: { failOn?: (event: RecordedEvent, index: number) => boolean } = {}): Projection {
  const table = `t_${name}`;
  return {
    name,
    description: 'test: one row per event',
    version: 1,
    filter: { streamPrefixes: ['test-'] },
    tables: [{ name: table, create: (physical) => [`CREATE TABLE IF NOT EXISTS ${physical} (position text PRIMARY KEY, type text NOT NULL)`] }],
    async apply(tx: SqlClient, events, tables) {
      let index = 0;
      for (const event of events) {
        if (options.failOn?.(event, index)) throw new Error(`cannot project ${event.type}`);
        await tx.query(`INSERT INTO ${tables[table]} (position, type) VALUES ($1, $2)`, [`${event.position.commit}/${event.position.prepare}`, event.type]);
        index += 1;
      }
    },
  };
}

async function appendTestEvents(harness: Harness, count: number, type = (i: number) => `Happened${i % 3}`): Promise<void> {
  for (let i = 0; i < count; i += 5) {
    const events = Array.from({ length: Math.min(5, count - i) }, (_, k) => ({ id: randomUUID(), type: type(i + k), data: { n: i + k }, metadata: {} }));
    await harness.store.appendToStream(`test-${i % 4}`, events, { expectedRevision: 'any' });
  }
}

describe.each(sqlEngines())('projection runner on %s', (engine) => {
  let harness: Harness;
  const projectors: Projector[] = [];
  const startProjector = async (projections: Projection[]) => {
    const projector = createProjector({ ...harness, projections, limits: { batchSizeMax: 7, pollIntervalMs: 10, stoppedPollIntervalMs: 20 } });
    projectors.push(projector);
    await projector.start();
    return projector;
  };

  beforeEach(async () => {
    harness = await openHarness(engine);
  });
  afterEach(async () => {
    await Promise.all(projectors.splice(0).map((projector) => projector.stop()));
    await harness.close();
  });

  it('when a handler throws in the middle of a batch, then nothing of the batch is visible and the checkpoint is unchanged', async () => {
    const projection = countingProjection('crashing', { failOn: (_event, index) => index === 3 });
    await ensureProjectionSchema(harness.database, [projection]);
    await appendTestEvents(harness, 6);
    const events = await harness.store.readAll({ limit: 100 });
    const target = { projection, tables: liveTableNames(projection), checkpointName: projection.name, expectedStatus: 'running' as const };

    await expect(commitBatch(harness.database, target, START, events)).rejects.toThrow(/cannot project/);

    expect(await dumpTable(harness.database, 't_crashing')).toEqual([]);
    const checkpoint = await readCheckpoint(harness.database, 'crashing');
    expect(checkpoint).toMatchObject({ position: START, eventsApplied: 0, status: 'running' });
  });

  it('when a batch is committed against a checkpoint another writer has moved, then it is refused and nothing is applied', async () => {
    const projection = countingProjection('raced');
    await ensureProjectionSchema(harness.database, [projection]);
    await appendTestEvents(harness, 4);
    const [first, ...rest] = await harness.store.readAll({ limit: 100 });
    const target = { projection, tables: liveTableNames(projection), checkpointName: projection.name, expectedStatus: 'running' as const };
    await commitBatch(harness.database, target, START, [first!]);

    await expect(commitBatch(harness.database, target, START, rest)).rejects.toBeInstanceOf(CheckpointMovedError);
    expect(await dumpTable(harness.database, 't_raced')).toHaveLength(1);
  });

  it('when a projection meets a poison event, then it stops just before it with name, position and error while the others reach the head', async () => {
    await appendTestEvents(harness, 30, (i) => (i === 17 ? 'Poison' : `Happened${i % 3}`));
    const poisoned = countingProjection('poisoned', { failOn: (event) => event.type === 'Poison' });
    const projector = await startProjector([poisoned, countingProjection('healthy')]);

    const stopped = await eventually(async () => {
      const checkpoint = await readCheckpoint(harness.database, 'poisoned');
      return checkpoint?.status === 'stopped' && checkpoint;
    }, 10_000, 'the poisoned projection to stop');
    await eventually(async () => (await dumpTable(harness.database, 't_healthy')).length === 30, 10_000, 'the healthy projection to reach the head');

    const poison = (await harness.store.readAll({ limit: 100 })).find((event) => event.type === 'Poison')!;
    expect(stopped.errorPosition).toEqual(poison.position);
    expect(stopped.errorEventType).toBe('Poison');
    expect(stopped.error).toMatch(/cannot project Poison/);
    expect(stopped.eventsApplied).toBe(17);
    expect(await dumpTable(harness.database, 't_poisoned')).toHaveLength(17);
    const readiness = await projector.readiness();
    expect(readiness.healthy).toBe(false);
    expect(readiness.details).toMatchObject({ poisoned: { status: 'stopped', error: expect.stringMatching(/Poison/) }, healthy: { status: 'running', eventsBehind: 0 } });
  });

  it('when an operator skips the poison event, then the projection goes on after it and the skip is recorded', async () => {
    await appendTestEvents(harness, 12, (i) => (i === 4 ? 'Poison' : 'Fine'));
    await startProjector([countingProjection('skipper', { failOn: (event) => event.type === 'Poison' })]);
    await eventually(async () => (await readCheckpoint(harness.database, 'skipper'))?.status === 'stopped', 10_000, 'a stop');

    const outcome = await skipPoisonEvent(harness.database, 'skipper', 'test:operator');

    expect(outcome.skipped.eventType).toBe('Poison');
    await eventually(async () => (await dumpTable(harness.database, 't_skipper')).length === 11, 10_000, 'the other 11 events');
    expect((await dumpTable(harness.database, 't_skipper')).some((row) => row.includes('Poison'))).toBe(false);
    const skipped = await harness.database.query<{ event_type: string; skipped_by: string }>('SELECT event_type, skipped_by FROM projection_skipped_events');
    expect(skipped.rows).toEqual([{ event_type: 'Poison', skipped_by: 'test:operator' }]);
    expect((await readCheckpoint(harness.database, 'skipper'))?.status).toBe('running');
  });

  it('when the handler is fixed and the projection resumed, then it applies the former poison event and the rest', async () => {
    await appendTestEvents(harness, 10, (i) => (i === 6 ? 'Poison' : 'Fine'));
    let fixed = false;
    await startProjector([countingProjection('fixable', { failOn: (event) => event.type === 'Poison' && !fixed })]);
    await eventually(async () => (await readCheckpoint(harness.database, 'fixable'))?.status === 'stopped', 10_000, 'a stop');

    fixed = true;
    await resumeProjection(harness.database, 'fixable');

    await eventually(async () => (await dumpTable(harness.database, 't_fixable')).length === 10, 10_000, 'all 10 events');
    expect((await readCheckpoint(harness.database, 'fixable'))?.error).toBeNull();
  });

  it('when a batch fails once and then succeeds, then every event is applied exactly once and the projection keeps running', async () => {
    await appendTestEvents(harness, 25);
    let failures = 0;
    const flaky = countingProjection('flaky', { failOn: (_event, index) => index === 2 && failures++ < 1 });
    await startProjector([flaky]);

    await eventually(async () => (await readCheckpoint(harness.database, 'flaky'))?.eventsApplied === 25, 10_000, '25 events');
    expect(await dumpTable(harness.database, 't_flaky')).toHaveLength(25);
    expect((await readCheckpoint(harness.database, 'flaky'))?.status).toBe('running');
  });

  it('when two projectors follow the same projection at once, then no event is applied twice', async () => {
    await appendTestEvents(harness, 40);
    await startProjector([countingProjection('shared')]);
    await startProjector([countingProjection('shared')]);
    await appendTestEvents(harness, 40);

    await eventually(async () => (await readCheckpoint(harness.database, 'shared'))?.eventsApplied === 80, 15_000, '80 events');
    expect(await dumpTable(harness.database, 't_shared')).toHaveLength(80);
    expect((await readCheckpoint(harness.database, 'shared'))?.status).toBe('running');
  });
});
