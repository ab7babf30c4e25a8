/**
 * `npm run projections` as a real process (`node --import tsx src/projections/cli.ts`),
 * on the embedded store (DATA_DIR) and on a PostgreSQL schema, each holding a log
 * built by the real payments module and read models built live by the projector:
 * what reaches stdout and stderr, the exit codes, a rebuild equal to the live
 * build, and a rebuild interrupted with SIGINT or killed with SIGKILL mid-way
 * that leaves the live tables whole and is resumed (or restarted) by the next run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { openStores, type OpenedStores, type StoreConfig } from '../../src/event-store/open';
import { readCheckpoint, rebuildCheckpointName } from '../../src/projections/checkpoints';
import { liveTableNames, type Projection } from '../../src/projections/projection';
import { createProjector } from '../../src/projections/projector';
import { findReadModel, READ_MODELS } from '../../src/projections/read-models';
import { dumpTable } from '../../src/projections/testing/harness';
import { runMixedWorkload } from '../../src/projections/testing/workload';
import { createTestSchema, serverPostgresSkipReason, serverPostgresUrl } from '../support/databases';
import { startProcess, waitForOutput, type RunningProcess } from './gateway-processes';

const CLI = 'src/projections/cli.ts';
/** Every CLI process still running, killed after the suite even when a test fails. */
const processes = new Set<RunningProcess>();
const RUN_MS_MAX = 60_000;
/** Payments in the log: about 3.6 events each, so some 700 payment events. */
const PAYMENT_COUNT = 200;
/**
 * Rationale for batches of one event: the interrupt must land mid-rebuild, and at
 * the default 5 000 that needs a log of tens of thousands of events; one event per
 * batch makes some 700 committed batches out of a log that is quick to write.
 */
const SMALL_BATCH = ['--batch-size', '1'];

const payments = findReadModel('payments')!;
const dailyVolume = findReadModel('daily_volume')!;
const silent = pino({ level: 'silent' });

interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface CliProcess {
  /** Resolves once stderr has a log line with this message. */
  logged(message: string): Promise<void>;
  kill(signal: NodeJS.Signals): void;
  done(): Promise<CliRun>;
}

/** The CLI as a real process, with stdout and stderr kept apart. */
function startCli(args: readonly string[], env: Record<string, string>): CliProcess {
  const running = startProcess(`projections ${args.join(' ')}`, CLI, env, args);
  processes.add(running);
  return {
    logged: (message) => waitForOutput(running, new RegExp(`"msg":"${message}"`), RUN_MS_MAX),
    kill: (signal) => void running.child.kill(signal),
    done: async () => {
      const { code, signal } = await running.exited();
      processes.delete(running);
      return { code, signal, stdout: running.stdout(), stderr: running.stderr() };
    },
  };
}

/** The JSON log lines of a run's stderr (everything that starts with `{`). */
function logLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.startsWith('{'));
}

interface Target {
  readonly config: StoreConfig;
  readonly env: Record<string, string>;
  /** For concurrent reads while a CLI process runs; the embedded store allows one process only. */
  readonly shared: boolean;
  cleanup(): Promise<void>;
}

function embeddedTarget(): Target {
  const dataDir = mkdtempSync(join(tmpdir(), 'paystream-projections-cli-'));
  return {
    config: { eventStore: 'pglite', dataDir, databaseUrl: undefined, databaseSchema: 'public', eventStoreUrl: undefined },
    env: { DATA_DIR: dataDir },
    shared: false,
    cleanup: async () => rmSync(dataDir, { recursive: true, force: true }),
  };
}

async function postgresTarget(): Promise<Target> {
  const schema = await createTestSchema();
  return {
    config: { eventStore: 'postgres', dataDir: './data', databaseUrl: schema.url, databaseSchema: schema.schema, eventStoreUrl: undefined },
    env: { EVENT_STORE: 'postgres', DATABASE_URL: schema.url, DATABASE_SCHEMA: schema.schema },
    shared: true,
    cleanup: () => schema.drop(),
  };
}

async function snapshot(stores: OpenedStores, projection: Projection): Promise<Record<string, string[]>> {
  const tables = Object.values(liveTableNames(projection));
  return Object.fromEntries(await Promise.all(tables.map(async (table) => [table, await dumpTable(stores.database, table)] as const)));
}

const targets: Array<[string, () => Promise<Target>]> = [['the embedded store (DATA_DIR)', async () => embeddedTarget()]];
if (serverPostgresUrl()) targets.push(['a PostgreSQL schema', postgresTarget]);
else console.warn(`[paystream tests] SKIPPED: the projections CLI on PostgreSQL needs server PostgreSQL: ${serverPostgresSkipReason()}`);

describe.each(targets)('the projections CLI as a process on %s', (_label, makeTarget) => {
  let target: Target;
  let live: { payments: Record<string, string[]>; dailyVolume: Record<string, string[]> };
  let paymentEvents: number;
  /** Runs `fn` on the target's stores, opened for it alone (the embedded store admits one process at a time). */
  const withStores = async <T>(fn: (stores: OpenedStores) => Promise<T>): Promise<T> => {
    const stores = await openStores(target.config, silent);
    try {
      return await fn(stores);
    } finally {
      await stores.close();
    }
  };
  const cli = (...args: string[]) => startCli(args, target.env).done();

  beforeAll(async () => {
    target = await makeTarget();
    // The log through the real payments module; read models built live by the projector, which then stops.
    await withStores(async (stores) => {
      const projector = createProjector({ database: stores.database, store: stores.store, logger: silent, limits: { batchSizeMax: 100, pollIntervalMs: 10 } });
      await projector.start();
      const { lastPosition } = await runMixedWorkload(stores.store, { paymentCount: PAYMENT_COUNT, seed: 21, idPrefix: 'cli' });
      for (const projection of READ_MODELS) expect((await projector.freshness.waitFor(projection.name, lastPosition!, 60_000)).reached).toBe(true);
      await projector.stop();
      live = { payments: await snapshot(stores, payments), dailyVolume: await snapshot(stores, dailyVolume) };
      paymentEvents = (await stores.store.readAll({ limit: 10_000, filter: payments.filter })).length;
    });
    expect(live.payments['rm_payments']).toHaveLength(PAYMENT_COUNT);
  }, 180_000);
  afterAll(async () => {
    for (const running of processes) running.child.kill('SIGKILL');
    await target?.cleanup();
  });

  it('when list runs, then stdout holds exactly the three read-model lines, no log line, and it exits 0', async () => {
    const run = await cli('list');

    expect(run.code).toBe(0);
    expect(run.stdout.split('\n')).toEqual([expect.stringMatching(/^payments {2}v2 /), expect.stringMatching(/^daily_volume {2}v2 /), expect.stringMatching(/^payment_timeline {2}v1 /), '']);
    expect(run.stderr).toBe('');
  }, RUN_MS_MAX);

  it('when status runs after the live build, then stdout holds one running line per projection at 0 behind, the logs are on stderr, and it exits 0', async () => {
    const run = await cli('status');

    expect(run.code).toBe(0);
    expect(run.stdout.split('\n').filter(Boolean)).toEqual(READ_MODELS.map((projection) => expect.stringMatching(new RegExp(`^${projection.name} {2}running {2}at \\d+/\\d+ {2}0 events, 0\\.0 s behind$`))));
    expect(run.stdout).not.toContain('{');
    expect(logLines(run.stderr).map((line) => JSON.parse(line) as { msg: string }).map((line) => line.msg)).toContain('event store opened');
  }, RUN_MS_MAX);

  it('when a named projection is rebuilt, then stdout holds one result line, stderr well-formed logs with progress once, and the tables equal the live-built ones', async () => {
    const run = await cli('rebuild', 'daily_volume');

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^rebuilt daily_volume: ${paymentEvents} events in \\d+\\.\\d s \\(\\d+ events/s\\), swapped in at \\d+/\\d+\\n$`));
    const lines = logLines(run.stderr);
    // No key twice in one line: re-serialising a parsed line gives the line back.
    for (const line of lines) expect(JSON.stringify(JSON.parse(line))).toBe(line);
    const messages = lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
    expect(messages.filter((message) => message === 'rebuild progress')).toHaveLength(1);
    expect(messages).toContain('rebuild swapped in');
    await withStores(async (stores) => {
      expect(await snapshot(stores, dailyVolume)).toEqual(live.dailyVolume);
      expect(await readCheckpoint(stores.database, rebuildCheckpointName('daily_volume'))).toBeUndefined();
    });
  }, RUN_MS_MAX);

  it('when rebuild names an unknown projection, then it exits 64 with the reason and the usage on stderr, and nothing on stdout', async () => {
    const run = await cli('rebuild', 'paymnets');

    expect(run.code).toBe(64);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('unknown projection paymnets; one of: payments, daily_volume, payment_timeline');
    expect(run.stderr).toContain('usage: npm run projections -- <command>');
  }, RUN_MS_MAX);

  /**
   * Reads the live rm_payments table over and over until stopped, noting every read
   * that differs from the live-built rows: a half-built or empty table would show.
   * Only where another process may use the store; the embedded one admits one process.
   */
  function watchLiveTable(): { stop(): Promise<{ reads: number; mismatches: string[] }> } {
    if (!target.shared) return { stop: async () => ({ reads: 0, mismatches: [] }) };
    let reading = true;
    let reads = 0;
    const mismatches: string[] = [];
    const expected = JSON.stringify(live.payments['rm_payments']);
    const reader = withStores(async (stores) => {
      while (reading) {
        const rows = await dumpTable(stores.database, 'rm_payments');
        reads += 1;
        if (JSON.stringify(rows) !== expected) mismatches.push(`read ${reads}: ${rows.length} rows`);
      }
    });
    return {
      async stop() {
        reading = false;
        await reader;
        return { reads, mismatches };
      },
    };
  }

  /** Runs `fn` while the live table is watched; on a shared store, at least one read happened and none differed. */
  async function whileWatched<T>(fn: () => Promise<T>): Promise<T> {
    const watch = watchLiveTable();
    let result: T;
    try {
      result = await fn();
    } finally {
      const { reads, mismatches } = await watch.stop();
      if (target.shared) expect({ readsDuringRun: reads > 0, mismatches }).toEqual({ readsDuringRun: true, mismatches: [] });
    }
    return result;
  }

  /** Starts a rebuild of payments in one-event batches and sends `signal` once it has committed its first batch. */
  function interruptRebuild(signal: NodeJS.Signals): Promise<CliRun> {
    return whileWatched(async () => {
      const rebuild = startCli(['rebuild', 'payments', ...SMALL_BATCH], target.env);
      await rebuild.logged('rebuild progress');
      rebuild.kill(signal);
      return rebuild.done();
    });
  }

  async function shadowState() {
    return withStores(async (stores) => ({
      payments: await snapshot(stores, payments),
      shadow: await readCheckpoint(stores.database, rebuildCheckpointName('payments')),
    }));
  }

  /** After an interrupted rebuild: the live table as built live, the shadow part-way through the log. */
  async function expectLiveWholeAndRebuildHalfway() {
    const left = await shadowState();
    expect(left.payments).toEqual(live.payments);
    expect(left.shadow?.status).toBe('rebuilding');
    expect(left.shadow!.eventsApplied).toBeGreaterThan(0);
    expect(left.shadow!.eventsApplied).toBeLessThan(paymentEvents);
    return left;
  }

  /** The next run resumes where the interrupted one committed last, and swaps in a table equal to the live build. */
  async function expectResumedToEqualLive(eventsAppliedBefore: number) {
    const resumed = await whileWatched(() => cli('rebuild', 'payments'));
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(new RegExp(`^rebuilt payments: ${paymentEvents - eventsAppliedBefore} events in .* \\(resumed\\)\\n$`));
    const after = await shadowState();
    expect(after.payments).toEqual(live.payments);
    expect(after.shadow).toBeUndefined();
  }

  it('when a rebuild gets SIGINT mid-way, then it stops after the batch with exit 130, the live table stays whole, status shows the rebuild in progress, and the next run resumes and ends equal', async () => {
    const run = await interruptRebuild('SIGINT');

    expect({ code: run.code, signal: run.signal }).toEqual({ code: 130, signal: null });
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('stopping after the current batch; Ctrl-C again to exit at once');
    expect(run.stderr).toMatch(/rebuild of payments interrupted at \d+\/\d+; run it again to resume/);
    const left = await expectLiveWholeAndRebuildHalfway();

    const status = await cli('status');
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`  rebuild in progress at ${left.shadow!.position.commit}/${left.shadow!.position.prepare} (${left.shadow!.eventsApplied} events); run rebuild again to resume\n`);

    await expectResumedToEqualLive(left.shadow!.eventsApplied);
  }, 3 * RUN_MS_MAX);

  it('when a rebuild is killed with SIGKILL mid-way, then the live table stays whole and the next run resumes from the last committed batch and ends equal', async () => {
    const run = await interruptRebuild('SIGKILL');

    expect(run.signal).toBe('SIGKILL');
    const left = await expectLiveWholeAndRebuildHalfway();

    await expectResumedToEqualLive(left.shadow!.eventsApplied);
  }, 3 * RUN_MS_MAX);

  it('when a rebuild is killed with SIGKILL and run again with --restart, then it replays from the start and ends equal', async () => {
    const run = await interruptRebuild('SIGKILL');
    expect(run.signal).toBe('SIGKILL');

    const restarted = await whileWatched(() => cli('rebuild', 'payments', '--restart'));

    expect(restarted.code).toBe(0);
    expect(restarted.stdout).toMatch(new RegExp(`^rebuilt payments: ${paymentEvents} events in .*\\d+/\\d+\\n$`));
    const after = await shadowState();
    expect(after.payments).toEqual(live.payments);
    expect(after.shadow).toBeUndefined();
  }, 3 * RUN_MS_MAX);
});
