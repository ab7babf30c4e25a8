/**
 * The projector as its own process (src/processes/projector.ts) on a fresh
 * PostgreSQL schema, fed by payments written from this test process through the
 * real payments module over the same schema. Checked over real HTTP: its
 * /health/ready reports each projection's status, position and lag, the lag is
 * the number of events not yet applied while the projector is held back after a
 * restart, and it falls to zero once it catches up; the read-model rows appear.
 */
import { createPaymentsModule, type PaymentsModule } from '../../src/application/payments';
import { PostgresDatabase } from '../../src/db/database';
import type { PaymentId, TenantId } from '../../src/domain/ids';
import type { CurrencyCode } from '../../src/domain/money';
import { comparePositions, formatPosition, START, type GlobalPosition } from '../../src/event-store/port';
import { SqlEventStore } from '../../src/event-store/sql/sql-event-store';
import { CHECKPOINT_TABLE } from '../../src/projections/checkpoints';
import { READ_MODELS } from '../../src/projections/read-models';
import { PAYMENT_EVENTS_FILTER } from '../../src/projections/read-models/payment-events';
import { writePayment, type PaymentPath } from '../../src/projections/testing/workload';
import { createTestSchema, serverPostgresSkipReason, serverPostgresUrl } from '../support/databases';
import { startProcess, waitFor, waitForOutput, type RunningProcess } from './gateway-processes';

const START_MS_MAX = 60_000;
const CATCH_UP_MS_MAX = 30_000;
const LISTENING = /"msg":"projector health endpoints listening"/;
const HEALTH_ADDRESS = /"address":\{"address":"([^"]+)","family":"[^"]+","port":(\d+)\}/;
const NAMES = READ_MODELS.map((projection) => projection.name);

interface ProjectionReport {
  readonly status: string;
  readonly position: string | null;
  readonly eventsBehind: number | string;
  readonly secondsBehind: number;
  readonly error?: string;
}

interface Readiness {
  readonly httpStatus: number;
  readonly status: string;
  readonly eventStoreHealthy: boolean;
  readonly projectionsHealthy: boolean;
  readonly projections: Readonly<Record<string, ProjectionReport>>;
}

const describeOnServer = serverPostgresUrl() ? describe : describe.skip;
if (!serverPostgresUrl()) console.warn(`[paystream tests] SKIPPED: the projector process suite needs server PostgreSQL: ${serverPostgresSkipReason()}`);

describeOnServer('the projector process (real process, server PostgreSQL, /health/ready over HTTP)', () => {
  let schema: Awaited<ReturnType<typeof createTestSchema>>;
  let database: PostgresDatabase;
  let store: SqlEventStore;
  let payments: PaymentsModule;
  let projector: RunningProcess | undefined;
  let healthUrl: string;
  let paymentCount = 0;
  const written: Array<{ id: string; path: PaymentPath }> = [];

  beforeAll(async () => {
    schema = await createTestSchema();
    database = await PostgresDatabase.open({ connectionString: schema.url, schema: schema.schema });
    store = await SqlEventStore.open(database);
    payments = createPaymentsModule({ store });
  }, START_MS_MAX);

  afterAll(async () => {
    await projector?.kill('SIGKILL');
    await store?.close();
    await database?.close();
    await schema?.drop();
  });

  async function startProjector(name: string): Promise<void> {
    projector = startProcess(name, 'src/processes/projector.ts', {
      EVENT_STORE: 'postgres',
      DATABASE_URL: schema.url,
      DATABASE_SCHEMA: schema.schema,
      PROJECTOR_HEALTH_PORT: '0',
      PROJECTOR_POLL_INTERVAL_MS: '20',
    });
    await waitForOutput(projector, LISTENING, START_MS_MAX);
    const [, host, port] = HEALTH_ADDRESS.exec(projector.output())!;
    healthUrl = `http://${host}:${port}`;
  }

  async function readiness(): Promise<Readiness> {
    const response = await fetch(`${healthUrl}/health/ready`);
    const body = (await response.json()) as { status: string; checks: { eventStore: { healthy: boolean }; projections: { healthy: boolean; details: Record<string, ProjectionReport> } } };
    return {
      httpStatus: response.status,
      status: body.status,
      eventStoreHealthy: body.checks.eventStore.healthy,
      projectionsHealthy: body.checks.projections.healthy,
      projections: body.checks.projections.details,
    };
  }

  const PATHS: readonly PaymentPath[] = ['settled', 'cancelled', 'requested', 'rejected', 'retried-then-settled'];

  /** Writes `count` payments through the payments module; returns the position of the last event. */
  async function writePayments(count: number): Promise<GlobalPosition> {
    let last: GlobalPosition | undefined;
    for (let index = 0; index < count; index += 1) {
      paymentCount += 1;
      const id = `proc-${paymentCount.toString().padStart(3, '0')}`;
      const path = PATHS[paymentCount % PATHS.length]!;
      last = await writePayment(payments, {
        tenantId: 'acme' as TenantId,
        paymentId: id as PaymentId,
        path,
        amountMinor: 1_000 * paymentCount,
        currency: 'EUR' as CurrencyCode,
        createdAt: new Date(),
      });
      written.push({ id, path });
    }
    return last!;
  }

  /**
   * Waits until gap-safe readers see `position`. Rationale: they see an event only once
   * every older transaction on the server has ended, and other suites share the server,
   * so counting right after an append may miss the newest events for a moment.
   */
  const visible = (position: GlobalPosition) =>
    waitFor(`${formatPosition(position)} to be visible to readers`, async () => (comparePositions(await store.headPosition(), position) >= 0 ? true : undefined), CATCH_UP_MS_MAX, 20);

  const paymentEventsAfter = async (position: GlobalPosition) => (await store.readAll({ fromPosition: position, limit: 10_000, filter: PAYMENT_EVENTS_FILTER })).length;

  /** Waits until /health/ready says every projection is running at `position` with nothing behind. */
  const caughtUpAt = (position: GlobalPosition) =>
    waitFor(
      `every projection at ${formatPosition(position)} with 0 events behind`,
      async () => {
        const ready = await readiness();
        const all = NAMES.every((name) => ready.projections[name]?.position === formatPosition(position) && ready.projections[name]?.eventsBehind === 0);
        return all ? ready : undefined;
      },
      CATCH_UP_MS_MAX,
    );

  async function readModelRows() {
    const rows = await database.query<{ payment_id: string; status: string }>(`SELECT payment_id, status FROM rm_payments ORDER BY payment_id`);
    const timeline = await database.query<{ count: string }>(`SELECT count(*)::text AS count FROM rm_payment_timeline`);
    const volume = await database.query<{ payments: string | null }>(`SELECT sum(payment_count)::text AS payments FROM rm_daily_volume`);
    return { payments: rows.rows, timelineRows: Number(timeline.rows[0]!.count), volumePayments: Number(volume.rows[0]!.payments ?? 0) };
  }

  const FINAL: Record<string, string> = { settled: 'settled', cancelled: 'cancelled', requested: 'requested', rejected: 'rejected', 'retried-then-settled': 'settled' };
  const expectedRows = () => written.map(({ id, path }) => ({ payment_id: id, status: FINAL[path] })).sort((a, b) => a.payment_id.localeCompare(b.payment_id));

  it('when it starts on a fresh schema, then /health/ready is 200 with each projection running at the start of the log, 0 events behind', async () => {
    await startProjector('projector-1');

    const live = await fetch(`${healthUrl}/health/live`);
    expect(live.status).toBe(200);
    const ready = await readiness();

    expect(ready).toMatchObject({ httpStatus: 200, status: 'ready', eventStoreHealthy: true, projectionsHealthy: true });
    expect(Object.keys(ready.projections)).toEqual(NAMES);
    for (const name of NAMES) expect(ready.projections[name]).toEqual({ status: 'running', position: formatPosition(START), eventsBehind: 0, secondsBehind: 0 });
  }, START_MS_MAX);

  it('when payments are written by another process while it runs, then it catches up: 0 events behind at the last position, and the rows are in the read models', async () => {
    const last = await writePayments(5);

    const ready = await caughtUpAt(last);

    expect(ready.httpStatus).toBe(200);
    const rows = await readModelRows();
    expect(rows.payments).toEqual(expectedRows());
    expect(rows.timelineRows).toBe(await paymentEventsAfter(START));
    expect(rows.volumePayments).toBe(written.length);
  }, CATCH_UP_MS_MAX + 10_000);

  it('when payments arrive while it is stopped and it restarts held back before it catches up, then /health/ready reports exactly those events behind for each projection; released, then 0 behind and the rows appear', async () => {
    const before = (await readiness()).projections['payments']!.position;
    await projector!.kill('SIGTERM');
    const stoppedAt = await store.headPosition();
    expect(formatPosition(stoppedAt)).toBe(before);

    const last = await writePayments(4);
    await visible(last);
    const pending = await paymentEventsAfter(stoppedAt);
    expect(pending).toBeGreaterThan(0);

    // Hold the checkpoint table locked, as a rebuild's swap would: the restarted projector
    // measures its lag but cannot commit a batch until the lock goes. Rationale for a table
    // lock rather than row locks (FOR UPDATE): it takes no transaction id, so it does not hold
    // back the snapshot horizon every event-store reader on this server waits behind, and
    // suites running beside this one see their events as usual.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const lockTaken = new Promise<void>((resolve) => (locked = resolve));
    const holder = database.transaction(async (tx) => {
      await tx.query(`LOCK TABLE ${CHECKPOINT_TABLE} IN EXCLUSIVE MODE`);
      expect((await tx.query<{ xid: string | null }>('SELECT pg_current_xact_id_if_assigned()::text AS xid')).rows[0]!.xid).toBeNull();
      locked();
      await released;
    });
    holder.catch(() => undefined);
    try {
      await lockTaken;
      await startProjector('projector-2');
      // Let its workers read their first page and queue on the locks, then give the oldest pending event an age.
      await new Promise((resolve) => setTimeout(resolve, 300));

      const held = await readiness();

      expect(held).toMatchObject({ httpStatus: 200, projectionsHealthy: true });
      for (const name of NAMES) {
        expect(held.projections[name]).toMatchObject({ status: 'running', position: formatPosition(stoppedAt), eventsBehind: pending });
        expect(held.projections[name]!.secondsBehind).toBeGreaterThan(0);
      }
      expect((await readModelRows()).payments).toHaveLength(written.length - 4);
    } finally {
      release();
      await holder;
    }

    const ready = await caughtUpAt(last);

    expect(ready).toMatchObject({ httpStatus: 200, status: 'ready', projectionsHealthy: true });
    for (const name of NAMES) expect(ready.projections[name]!.secondsBehind).toBe(0);
    const rows = await readModelRows();
    expect(rows.payments).toEqual(expectedRows());
    expect(rows.timelineRows).toBe(await paymentEventsAfter(START));
    expect(rows.volumePayments).toBe(written.length);
  }, START_MS_MAX + CATCH_UP_MS_MAX);

  it('when it gets SIGTERM, then it stops cleanly with exit code 0', async () => {
    await projector!.kill('SIGTERM');

    expect(await projector!.exited()).toEqual({ code: 0, signal: null });
    expect(projector!.output()).toContain('"msg":"projector stopped"');
  }, START_MS_MAX);
});
