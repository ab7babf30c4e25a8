import { sqlEngines } from '../../test/support/databases';
import { readCheckpoint, rebuildCheckpointName } from './checkpoints';
import { liveTableNames, type Projection } from './projection';
import { createProjector } from './projector';
import { READ_MODELS } from './read-models';
import { rebuildProjection, RebuildInterruptedError } from './rebuild';
import { dumpTable, openHarness, type Harness } from './testing/harness';
import { runMixedWorkload } from './testing/workload';

async function snapshot(harness: Harness, projection: Projection): Promise<Record<string, string[]>> {
  const tables = Object.values(liveTableNames(projection));
  return Object.fromEntries(await Promise.all(tables.map(async (table) => [table, await dumpTable(harness.database, table)] as const)));
}

async function liveBuild(harness: Harness, paymentCount: number, seed: number) {
  const projector = createProjector({ ...harness, limits: { batchSizeMax: 5, pollIntervalMs: 10 } });
  await projector.start();
  const workload = await runMixedWorkload(harness.store, { paymentCount, seed, idPrefix: `s${seed}` });
  for (const projection of READ_MODELS) expect((await projector.freshness.waitFor(projection.name, workload.lastPosition!, 20_000)).reached).toBe(true);
  return projector;
}

describe.each(sqlEngines())('rebuild on %s', (engine) => {
  let harness: Harness;
  beforeEach(async () => {
    harness = await openHarness(engine);
  });
  afterEach(async () => harness.close());

  it.each(READ_MODELS.map((projection) => [projection.name, projection] as const))(
    'when %s is rebuilt after a mixed workload, then the rebuilt tables equal the live-built ones row for row',
    async (_name, projection) => {
      const projector = await liveBuild(harness, 40, 3);
      await projector.stop();
      const live = await snapshot(harness, projection);
      expect(Object.values(live).every((rows) => rows.length > 0)).toBe(true);

      const result = await rebuildProjection({ ...harness, projection, batchSizeMax: 13 });

      expect(result.resumed).toBe(false);
      expect(await snapshot(harness, projection)).toEqual(live);
      expect(await readCheckpoint(harness.database, rebuildCheckpointName(projection.name))).toBeUndefined();
      // A second rebuild works too: the swap renamed the indexes and keys back to the live names.
      await rebuildProjection({ ...harness, projection, batchSizeMax: 50 });
      expect(await snapshot(harness, projection)).toEqual(live);
    },
  );

  it('when a rebuild is interrupted, then the live tables are untouched, and running it again resumes and ends equal to the live build', async () => {
    const projection = READ_MODELS.find((candidate) => candidate.name === 'payments')!;
    const projector = await liveBuild(harness, 40, 5);
    await projector.stop();
    const live = await snapshot(harness, projection);
    const controller = new AbortController();

    const interrupted = rebuildProjection({ ...harness, projection, batchSizeMax: 10, signal: controller.signal, onProgress: (progress) => progress.eventsApplied >= 30 && controller.abort() });

    await expect(interrupted).rejects.toBeInstanceOf(RebuildInterruptedError);
    expect(await snapshot(harness, projection)).toEqual(live);
    const shadowCheckpoint = await readCheckpoint(harness.database, rebuildCheckpointName('payments'));
    expect(shadowCheckpoint).toMatchObject({ status: 'rebuilding', eventsApplied: 30 });
    const resumed = await rebuildProjection({ ...harness, projection, batchSizeMax: 10 });
    expect(resumed.resumed).toBe(true);
    expect(await snapshot(harness, projection)).toEqual(live);
    expect((await readCheckpoint(harness.database, 'payments'))?.eventsApplied).toBe(Number(shadowCheckpoint!.eventsApplied) + resumed.eventsApplied);
  });

  it('when an interrupted rebuild is run again with restart, then it starts from the beginning and still ends equal', async () => {
    const projection = READ_MODELS.find((candidate) => candidate.name === 'daily_volume')!;
    const projector = await liveBuild(harness, 30, 9);
    await projector.stop();
    const live = await snapshot(harness, projection);
    const controller = new AbortController();
    await expect(rebuildProjection({ ...harness, projection, batchSizeMax: 10, signal: controller.signal, onProgress: () => controller.abort() })).rejects.toBeInstanceOf(RebuildInterruptedError);

    const restarted = await rebuildProjection({ ...harness, projection, batchSizeMax: 10, restart: true });

    expect(restarted.resumed).toBe(false);
    expect(await snapshot(harness, projection)).toEqual(live);
  });

  it('when a rebuild runs while the projector runs and payments keep coming, then queries never fail and the swapped-in model catches up to a pure replay', async () => {
    const projector = await liveBuild(harness, 30, 11);
    const projection = READ_MODELS.find((candidate) => candidate.name === 'payments')!;
    let reading = true;
    let reads = 0;
    const reader = (async () => {
      while (reading) {
        await harness.database.query('SELECT count(*) FROM rm_payments');
        reads += 1;
        // PGlite answers in microtasks: without yielding, this loop would starve every timer (the projector's polls, the waits).
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const writes = runMixedWorkload(harness.store, { paymentCount: 25, seed: 12, idPrefix: 'during' });

    await rebuildProjection({ ...harness, projection, batchSizeMax: 7 });
    const { lastPosition } = await writes;
    expect((await projector.freshness.waitFor('payments', lastPosition!, 20_000)).reached).toBe(true);
    reading = false;
    await reader;
    await projector.stop();

    expect(reads).toBeGreaterThan(0);
    const caughtUp = await snapshot(harness, projection);
    expect(caughtUp['rm_payments']).toHaveLength(55);
    await rebuildProjection({ ...harness, projection });
    expect(await snapshot(harness, projection)).toEqual(caughtUp);
  });
});
