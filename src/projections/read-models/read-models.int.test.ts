import { sqlEngines } from '../../../test/support/databases';
import { createPaymentsModule } from '../../application/payments';
import { currencyExponent, formatMinor } from '../../domain/money';
import type { PaymentId, TenantId } from '../../domain/ids';
import { createProjector, type Projector } from '../projector';
import { openHarness, type Harness } from '../testing/harness';
import { FINAL_STATUS, runMixedWorkload, type WorkloadResult } from '../testing/workload';
import { DAILY_VOLUME_TABLE } from './daily-volume';
import { PAYMENT_TIMELINE_TABLE } from './payment-timeline';
import { PAYMENTS_TABLE, paymentRowFromSql } from './payments';

/** The read models after a mixed workload written through the payments module, batches small enough to split payments across them. */
describe.each(sqlEngines())('read models on %s', (engine) => {
  let harness: Harness;
  let projector: Projector;
  let workload: WorkloadResult;

  beforeAll(async () => {
    harness = await openHarness(engine);
    projector = createProjector({ ...harness, limits: { batchSizeMax: 7, pollIntervalMs: 10 } });
    await projector.start();
    workload = await runMixedWorkload(harness.store, { paymentCount: 45, seed: 7 });
    for (const name of ['payments', 'daily_volume', 'payment_timeline']) {
      const { reached } = await projector.freshness.waitFor(name, workload.lastPosition!, 20_000);
      expect(reached).toBe(true);
    }
  });
  afterAll(async () => {
    await projector.stop();
    await harness.close();
  });

  it('payments: when the workload is projected, then there is one row per payment agreeing with the payment stream', async () => {
    const rows = (await harness.database.query<Record<string, unknown>>(`SELECT * FROM ${PAYMENTS_TABLE}`)).rows.map(paymentRowFromSql);
    expect(rows).toHaveLength(workload.payments.length);
    const module = createPaymentsModule({ store: harness.store });
    for (const payment of workload.payments) {
      const row = rows.find((candidate) => candidate.tenantId === payment.tenantId && candidate.paymentId === payment.paymentId)!;
      const stream = (await module.getPayment(payment.tenantId as TenantId, payment.paymentId as PaymentId))!;
      expect(row).toMatchObject({
        status: FINAL_STATUS[payment.path],
        amountMinor: payment.amountMinor,
        currency: payment.currency,
        debtorIbanMasked: '****3000',
        creditorIbanMasked: '****5432',
        attempts: stream.state.bank?.attempts ?? 0,
        revision: stream.revision,
        createdAt: payment.createdAt.toISOString(),
        updatedAt: stream.state.updatedAt,
      });
      const transferId = stream.state.status === 'settled' || stream.state.status === 'rejected' ? stream.state.bankTransferId : null;
      expect(row.bankTransferId).toBe(transferId);
    }
  });

  it('payments: when the read model is stored, then no full IBAN is in it', async () => {
    const dump = JSON.stringify((await harness.database.query(`SELECT * FROM ${PAYMENTS_TABLE}`)).rows);
    expect(dump).not.toContain('DE89370400440532013000');
    expect(dump).not.toContain('GB82WEST12345698765432');
  });

  it('daily_volume: when the workload is projected, then each (day, currency, status) holds the count and sum of the payments in it', async () => {
    const expected = new Map<string, { count: number; sum: bigint }>();
    for (const payment of workload.payments) {
      const key = `${payment.createdAt.toISOString().slice(0, 10)} ${payment.currency} ${FINAL_STATUS[payment.path]}`;
      const bucket = expected.get(key) ?? { count: 0, sum: 0n };
      expected.set(key, { count: bucket.count + 1, sum: bucket.sum + BigInt(payment.amountMinor) });
    }
    const rows = await harness.database.query<{ day: string; currency: string; status: string; payment_count: string; amount_minor: string }>(
      `SELECT day::text AS day, currency, status, payment_count::text AS payment_count, amount_minor::text AS amount_minor FROM ${DAILY_VOLUME_TABLE}`,
    );
    const actual = new Map(rows.rows.map((row) => [`${row.day} ${row.currency} ${row.status}`, { count: Number(row.payment_count), sum: BigInt(row.amount_minor) }]));
    expect(actual).toEqual(expected);
  });

  it('payment_timeline: when the workload is projected, then every event of every payment is there once, with its actor, ids and a summary', async () => {
    const rows = (
      await harness.database.query<{ tenant_id: string; payment_id: string; revision: number; event_type: string; actor: string; request_id: string; correlation_id: string; summary: string }>(
        `SELECT tenant_id, payment_id, revision, event_type, actor, request_id, correlation_id, summary FROM ${PAYMENT_TIMELINE_TABLE} ORDER BY position_commit, position_prepare`,
      )
    ).rows;
    for (const payment of workload.payments.slice(0, 18)) {
      const events = await harness.store.readStream(`payment-${payment.tenantId}:${payment.paymentId}`);
      const timeline = rows.filter((row) => row.tenant_id === payment.tenantId && row.payment_id === payment.paymentId);
      expect(timeline.map((row) => [Number(row.revision), row.event_type])).toEqual(events.map((event) => [event.revision, event.type]));
      expect(timeline[0]!.actor).toBe(`client:${payment.tenantId}`);
      expect(timeline[0]!.summary).toContain(`${formatMinor(payment.amountMinor, currencyExponent(payment.currency)!)} ${payment.currency}`);
      expect(timeline.every((row) => row.request_id && row.correlation_id)).toBe(true);
    }
    expect(rows.some((row) => row.event_type === 'PaymentResolvedByOperator' && row.actor === 'operator:olga')).toBe(true);
  });

  it('when the projector reports freshness at the head, then lag is zero events and zero seconds', async () => {
    const report = await projector.report();
    for (const entry of report) expect(entry).toMatchObject({ status: 'running', eventsBehind: 0, secondsBehind: 0 });
  });
});
