/**
 * The projections CLI's commands in-process (runCli), on every SQL engine: what
 * each command prints and returns. The real process (stdout/stderr, exit codes,
 * signals) is covered by test/e2e/projector-cli.e2e.test.ts.
 */
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { sqlEngines } from '../../test/support/databases';
import { comparePositions, formatPosition, START, type GlobalPosition } from '../event-store/port';
import { CHECKPOINT_TABLE, markStopped, readCheckpoint, rebuildCheckpointName } from './checkpoints';
import { EXIT_INTERRUPTED, EXIT_NOT_ALL_RUNNING, EXIT_OK, EXIT_USAGE, exitCodeOf, parseArgs, runCli, UsageError, USAGE } from './cli';
import { liveTableNames, type Projection } from './projection';
import { createProjector } from './projector';
import { findReadModel, READ_MODELS } from './read-models';
import { REBUILD_BATCH_SIZE_MAX } from './rebuild';
import { dumpTable, eventually, openHarness, type Harness } from './testing/harness';
import { runMixedWorkload } from './testing/workload';

const payments = findReadModel('payments')!;

async function snapshot(harness: Harness, projection: Projection): Promise<Record<string, string[]>> {
  const tables = Object.values(liveTableNames(projection));
  return Object.fromEntries(await Promise.all(tables.map(async (table) => [table, await dumpTable(harness.database, table)] as const)));
}

describe('projections CLI arguments', () => {
  it('when the command is missing or unknown, then it is a usage error (exit 64)', () => {
    for (const args of [[], ['rebuilt'], ['--help']]) {
      expect(() => parseArgs(args)).toThrow(UsageError);
    }
    expect(exitCodeOf(new UsageError('x'))).toBe(EXIT_USAGE);
  });

  it('when a projection name is unknown or missing, then the error names the known ones', () => {
    expect(() => parseArgs(['rebuild', 'paymnets'])).toThrow('unknown projection paymnets; one of: payments, daily_volume, payment_timeline');
    expect(() => parseArgs(['skip'])).toThrow('unknown projection (none given)');
    expect(() => parseArgs(['resume', 'nope'])).toThrow(UsageError);
  });

  it('when an option is misspelt or an argument is extra, then it is refused rather than ignored', () => {
    expect(() => parseArgs(['rebuild', 'payments', '--restat'])).toThrow('unknown option --restat for rebuild');
    expect(() => parseArgs(['rebuild', 'payments', 'daily_volume'])).toThrow('unexpected argument daily_volume');
    expect(() => parseArgs(['status', '--all'])).toThrow(UsageError);
    expect(() => parseArgs(['list', 'payments'])).toThrow(UsageError);
    expect(() => parseArgs(['skip', 'payments', '--restart'])).toThrow(UsageError);
  });

  it('when rebuild gets --restart and --batch-size in either form, then they are parsed; a batch size out of 1..10000 is refused', () => {
    expect(parseArgs(['rebuild', 'payments'])).toEqual({ command: 'rebuild', projection: payments, restart: false, batchSizeMax: REBUILD_BATCH_SIZE_MAX });
    expect(parseArgs(['rebuild', '--restart', 'payments', '--batch-size', '7'])).toEqual({ command: 'rebuild', projection: payments, restart: true, batchSizeMax: 7 });
    expect(parseArgs(['rebuild', 'payments', '--batch-size=250'])).toMatchObject({ batchSizeMax: 250 });
    for (const bad of ['0', '10001', '1.5', 'many', '-3']) expect(() => parseArgs(['rebuild', 'payments', `--batch-size=${bad}`])).toThrow(/--batch-size must be/);
    expect(() => parseArgs(['rebuild', 'payments', '--batch-size'])).toThrow(/--batch-size must be/);
  });

  it('when the usage is printed, then it lists every command', () => {
    for (const command of ['list', 'status', 'rebuild <name> [--restart] [--batch-size <n>]', 'skip <name>', 'resume <name>']) expect(USAGE).toContain(command);
  });
});

describe.each(sqlEngines())('projections CLI commands on %s', (engine) => {
  let harness: Harness;
  let lines: string[];
  // Not a terminal: the reporter logs (silently) instead of drawing a bar on the test's output.
  const run = (...args: string[]) => runCli(args, { ...harness, out: (line) => lines.push(line), progressStream: new PassThrough() });

  beforeEach(async () => {
    harness = await openHarness(engine);
    lines = [];
  });
  afterEach(async () => harness.close());

  /**
   * Waits until gap-safe readers see `position`. Rationale: on server PostgreSQL they see
   * an event only once every older transaction on the server has ended, and other suites
   * share the server, so counting right after an append may miss the newest events.
   */
  const visible = (position: GlobalPosition) =>
    eventually(async () => comparePositions(await harness.store.headPosition(), position) >= 0, 20_000, `${formatPosition(position)} to be visible`);

  async function liveBuild(paymentCount: number, seed: number) {
    const projector = createProjector({ ...harness, limits: { batchSizeMax: 25, pollIntervalMs: 10 } });
    await projector.start();
    const workload = await runMixedWorkload(harness.store, { paymentCount, seed, idPrefix: `cli${seed}` });
    for (const projection of READ_MODELS) expect((await projector.freshness.waitFor(projection.name, workload.lastPosition!, 20_000)).reached).toBe(true);
    await projector.stop();
    return workload;
  }

  it('when list runs, then it prints one line per read model with its version and tables, and exits 0', async () => {
    expect(await run('list')).toBe(EXIT_OK);

    expect(lines).toHaveLength(READ_MODELS.length);
    expect(lines[0]).toMatch(/^payments {2}v2 {2}tables: rm_payments {2}— /);
    expect(lines[1]).toMatch(/^daily_volume {2}v2 {2}tables: rm_daily_volume, rm_daily_volume_payments {2}— /);
    expect(lines[2]).toMatch(/^payment_timeline {2}v1 {2}tables: rm_payment_timeline {2}— /);
  });

  it('when status runs on a fresh database with events but no projector ever ran, then every projection is missing with its pending events, exit 2, and nothing is created', async () => {
    const { lastPosition } = await runMixedWorkload(harness.store, { paymentCount: 3, seed: 1, idPrefix: 'fresh' });
    await visible(lastPosition!);
    const events = (await harness.store.readAll({ limit: 1_000, filter: payments.filter })).length;

    expect(await run('status')).toBe(EXIT_NOT_ALL_RUNNING);

    expect(lines).toEqual(READ_MODELS.map((projection) => `${projection.name}  missing  no checkpoint: no projector or rebuild has run on this database yet  ${events} events to project`));
    // Read-only: no checkpoint table, no read-model table (else the API would call the projection running at the start).
    const created = await harness.database.query<{ found: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS found`, [CHECKPOINT_TABLE]);
    expect(created.rows[0]?.found).toBe(false);
    const table = await harness.database.query<{ found: boolean }>(`SELECT to_regclass('rm_payments') IS NOT NULL AS found`);
    expect(table.rows[0]?.found).toBe(false);
  });

  it('when every projection has caught up, then status prints running at its position with 0 events behind, and exits 0', async () => {
    const { lastPosition } = await liveBuild(6, 2);

    expect(await run('status')).toBe(EXIT_OK);

    const position = `${lastPosition!.commit}/${lastPosition!.prepare}`;
    expect(lines).toEqual(READ_MODELS.map((projection) => `${projection.name}  running  at ${position}  0 events, 0.0 s behind`));
  });

  it('when events were appended after the projector stopped, then status counts them behind', async () => {
    await liveBuild(3, 3);
    const { lastPosition } = await runMixedWorkload(harness.store, { paymentCount: 2, seed: 4, idPrefix: 'later', tenants: ['acme'] });
    await visible(lastPosition!);
    const head = await harness.store.readAll({ limit: 1_000, filter: payments.filter });
    const checkpoint = (await readCheckpoint(harness.database, 'payments'))!;
    const behind = head.filter((event) => event.position.prepare > checkpoint.position.prepare).length;
    expect(behind).toBeGreaterThan(0);

    expect(await run('status')).toBe(EXIT_OK);

    expect(lines[0]).toMatch(new RegExp(`^payments {2}running {2}at \\S+ {2}${behind} events, \\d+\\.\\d s behind$`));
  });

  it('when a projection is stopped on a poison event, then status shows it stopped with the error and exits 2', async () => {
    await liveBuild(2, 5);
    const checkpoint = (await readCheckpoint(harness.database, 'daily_volume'))!;
    await harness.database.transaction((tx) => markStopped(tx, 'daily_volume', { error: 'handler threw: boom', position: checkpoint.position, eventId: 'e-1', eventType: 'PaymentSettled' }));

    expect(await run('status')).toBe(EXIT_NOT_ALL_RUNNING);

    expect(lines[1]).toMatch(/^daily_volume {2}stopped {2}at \S+ {2}\d+ events, .* error: handler threw: boom$/);
    expect(lines[0]).toMatch(/^payments {2}running/);
  });

  it('when rebuild runs on a named projection, then it prints one result line, the tables equal the live-built ones, and no shadow is left', async () => {
    const { lastPosition } = await liveBuild(30, 6);
    const live = await snapshot(harness, payments);

    expect(await run('rebuild', 'payments', '--batch-size', '9')).toBe(EXIT_OK);

    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^rebuilt payments: \\d+ events in \\d+\\.\\d s \\(\\d+ events/s\\), swapped in at ${lastPosition!.commit}/${lastPosition!.prepare}$`));
    expect(await snapshot(harness, payments)).toEqual(live);
    expect(await readCheckpoint(harness.database, rebuildCheckpointName('payments'))).toBeUndefined();
  });

  it('when a rebuild is aborted mid-way, then it fails as interrupted (exit 130), status shows the rebuild in progress, and the next rebuild resumes and ends equal', async () => {
    await liveBuild(30, 7);
    const live = await snapshot(harness, payments);
    const controller = new AbortController();
    // Off a terminal the CLI's reporter logs the first batch's progress at once: abort there, mid-way.
    const logger = pino({ level: 'info' }, {
      write(line: string) {
        if (line.includes('"msg":"rebuild progress"')) controller.abort();
      },
    });
    const interrupted = runCli(['rebuild', 'payments', '--batch-size=5'], { ...harness, logger, out: (line) => lines.push(line), signal: controller.signal, progressStream: new PassThrough() });

    const error = await interrupted.catch((caught: unknown) => caught);
    expect(exitCodeOf(error)).toBe(EXIT_INTERRUPTED);
    expect(String(error)).toMatch(/rebuild of payments interrupted at \S+; run it again to resume/);
    expect(await snapshot(harness, payments)).toEqual(live);

    lines = [];
    expect(await run('status')).toBe(EXIT_OK);
    expect(lines[1]).toMatch(/^ {2}rebuild in progress at \d+\/\d+ \(\d+ events\); run rebuild again to resume$/);

    lines = [];
    expect(await run('rebuild', 'payments')).toBe(EXIT_OK);
    expect(lines[0]).toMatch(/ \(resumed\)$/);
    expect(await snapshot(harness, payments)).toEqual(live);
  });

  it('when rebuild runs on an empty log, then it swaps in an empty model at the start of the log', async () => {
    expect(await run('rebuild', 'payment_timeline')).toBe(EXIT_OK);

    expect(lines).toEqual([expect.stringMatching(/^rebuilt payment_timeline: 0 events in \d+\.\d s \(0 events\/s\), swapped in at start of log$/)]);
    expect(await readCheckpoint(harness.database, 'payment_timeline')).toMatchObject({ status: 'running', position: START });
  });

  it('when skip or resume names a projection that is running, then it is refused (exit 1) and nothing changes', async () => {
    await liveBuild(2, 8);
    const before = await readCheckpoint(harness.database, 'payments');

    for (const command of ['skip', 'resume']) {
      const error = await run(command, 'payments').catch((caught: unknown) => caught);
      expect(String(error)).toMatch(/projection payments is running, not stopped/);
      expect(exitCodeOf(error)).toBe(1);
    }
    expect(await readCheckpoint(harness.database, 'payments')).toEqual(before);
  });
});
