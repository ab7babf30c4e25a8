/**
 * The gateway's named crash points on a refund, each in a real gateway process
 * on server PostgreSQL that kills itself with SIGKILL at that instant. A fresh
 * gateway process then recovers the refund, and the bank holds exactly one
 * refund for it. The payment is settled first by an ordinary gateway, stopped
 * before the refund is asked for, so the doomed one dies on the refund.
 */
import { serverPostgresSkipReason, serverPostgresUrl } from '../support/databases';
import { startDeployment, type Deployment, type PaymentView, type RefundView } from './deployment';
import { waitFor } from './gateway-processes';

const RECOVERY_MS_MAX = 45_000;

const describeOnServer = serverPostgresUrl() ? describe : describe.skip;
if (!serverPostgresUrl()) console.warn(`[paystream tests] SKIPPED: refund crash points need server PostgreSQL: ${serverPostgresSkipReason()}`);

describeOnServer('gateway crash points on refunds (real processes, SIGKILL, server PostgreSQL)', () => {
  let deployment: Deployment;
  beforeAll(async () => {
    deployment = await startDeployment();
  }, 120_000);
  afterAll(() => deployment?.close());

  async function settledPayment(id: string): Promise<PaymentView> {
    const payer = await deployment.startGateway(`gw-payer-${id}`);
    try {
      expect(await deployment.putPayment(id)).toBe(201);
      return await waitFor(`payment ${id} to settle`, async () => {
        const view = await deployment.getPayment(id);
        return view.status === 'settled' ? view : undefined;
      }, RECOVERY_MS_MAX);
    } finally {
      await payer.kill('SIGTERM');
    }
  }

  /** A gateway that dies at `point` on the refund; returns what it left. */
  async function crashAt(point: string, id: string) {
    await settledPayment(id);
    const doomed = await deployment.startGateway(`gw-doomed-${id}`, { PAYSTREAM_CRASH_POINTS: point });
    expect(await deployment.putRefund(id, 'r-1', '25.00')).toBe(201);
    const exit = await Promise.race([doomed.exited(), new Promise<undefined>((resolve) => setTimeout(resolve, RECOVERY_MS_MAX, undefined))]);
    expect(exit?.signal).toBe('SIGKILL');
    expect(doomed.output()).toContain(`paystream crash point reached: ${point}\n`);
    return { left: await deployment.getRefund(id, 'r-1'), refundsLeft: await deployment.refundsFor(id, 'r-1') };
  }

  async function recover(id: string): Promise<RefundView> {
    const rescuer = await deployment.startGateway(`gw-rescuer-${id}`);
    try {
      const succeeded = await waitFor<RefundView>(`refund ${id}/r-1 to succeed`, async () => {
        const view = await deployment.getRefund(id, 'r-1');
        return view.status === 'succeeded' ? view : undefined;
      }, RECOVERY_MS_MAX);
      await waitFor('the refund work item to be done', async () => ((await deployment.workItem(id, 'refund:r-1'))?.status === 'done' ? true : undefined), RECOVERY_MS_MAX);
      const atBank = await deployment.refundsFor(id, 'r-1');
      expect(atBank).toHaveLength(1);
      expect(atBank[0]).toMatchObject({ id: succeeded.bank!.refundId, status: 'accepted', amountMinor: 2_500 });
      return succeeded;
    } finally {
      await rescuer.kill('SIGTERM');
    }
  }

  it('when the gateway dies after recording the refund intent and before calling the bank, then a restart looks up, refunds once and records it', async () => {
    const id = `rcrash-before-${Date.now().toString(36)}`;
    const { left, refundsLeft } = await crashAt('before-bank-call', id);
    expect(left.status).toBe('submitted');
    expect(refundsLeft).toHaveLength(0);
    const succeeded = await recover(id);
    expect(succeeded.bank!.attempts).toBe(2);
  }, 180_000);

  it('when the gateway dies after the bank refunded and before recording it, then a restart finds the refund by reference without a second one', async () => {
    const id = `rcrash-after-${Date.now().toString(36)}`;
    const { left, refundsLeft } = await crashAt('after-bank-call-before-outcome', id);
    expect(left.status).toBe('submitted');
    expect(refundsLeft).toHaveLength(1);
    const succeeded = await recover(id);
    expect(succeeded.bank!.attempts).toBe(1);
    expect(succeeded.bank!.refundId).toBe(refundsLeft[0]!.id);
  }, 180_000);

  it('when the gateway dies after recording the refund and before completing its work item, then a restart changes nothing and calls the bank no more', async () => {
    const id = `rcrash-outcome-${Date.now().toString(36)}`;
    const { left, refundsLeft } = await crashAt('after-outcome-before-checkpoint', id);
    expect(left.status).toBe('succeeded');
    expect(refundsLeft).toHaveLength(1);
    expect((await deployment.workItem(id, 'refund:r-1'))?.status).toBe('pending');
    const succeeded = await recover(id);
    expect(succeeded).toMatchObject({ status: 'succeeded', bank: { refundId: left.bank!.refundId, attempts: 1 } });
  }, 180_000);
});
