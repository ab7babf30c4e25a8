/**
 * The gateway's named crash points, each in a real gateway process on server
 * PostgreSQL that kills itself with SIGKILL at that instant. A fresh gateway
 * process then recovers the payment, and the bank holds exactly one transfer.
 */
import { serverPostgresSkipReason, serverPostgresUrl } from '../support/databases';
import { startDeployment, type Deployment, type PaymentView } from './deployment';
import { waitFor } from './gateway-processes';

const RECOVERY_MS_MAX = 45_000;

const describeOnServer = serverPostgresUrl() ? describe : describe.skip;
if (!serverPostgresUrl()) console.warn(`[paystream tests] SKIPPED: gateway crash points need server PostgreSQL: ${serverPostgresSkipReason()}`);

describeOnServer('gateway crash points (real processes, SIGKILL, server PostgreSQL)', () => {
  let deployment: Deployment;
  beforeAll(async () => {
    deployment = await startDeployment();
  }, 120_000);
  afterAll(() => deployment?.close());

  const waitForStatus = (id: string, status: string) =>
    waitFor<PaymentView>(`payment ${id} to be ${status}`, async () => {
      const view = await deployment.getPayment(id);
      return view.status === status ? view : undefined;
    }, RECOVERY_MS_MAX);

  /** Starts a gateway that dies at `point`, lets it die there on one payment, and returns what it left. */
  async function crashAt(point: string, id: string) {
    const doomed = await deployment.startGateway(`gw-doomed-${id}`, { PAYSTREAM_CRASH_POINTS: point });
    expect(await deployment.putPayment(id)).toBe(201);
    const exit = await Promise.race([doomed.exited(), new Promise<undefined>((resolve) => setTimeout(resolve, RECOVERY_MS_MAX, undefined))]);
    expect(exit?.signal).toBe('SIGKILL');
    expect(doomed.output()).toContain(`paystream crash point reached: ${point}\n`);
    return { left: await deployment.getPayment(id), transfersLeft: await deployment.transfersFor(id) };
  }

  /** A fresh gateway takes the payment over once the dead one's lease expired, and finishes it. */
  async function recover(id: string) {
    const rescuer = await deployment.startGateway(`gw-rescuer-${id}`);
    try {
      const settled = await waitForStatus(id, 'settled');
      await waitFor('the work item to be done', async () => ((await deployment.workItem(id))?.status === 'done' ? true : undefined), RECOVERY_MS_MAX);
      const transfers = await deployment.transfersFor(id);
      expect(transfers).toHaveLength(1);
      expect(transfers[0]).toMatchObject({ id: settled.bank!.transferId, status: 'accepted' });
      return settled;
    } finally {
      await rescuer.kill('SIGTERM');
    }
  }

  it('when the gateway dies after recording its intent and before calling the bank, then a restart looks up, submits once and settles', async () => {
    const id = `crash-before-call-${Date.now().toString(36)}`;
    const { left, transfersLeft } = await crashAt('before-bank-call', id);
    expect(left.status).toBe('submitted');
    expect(transfersLeft).toHaveLength(0);
    const settled = await recover(id);
    // The lookup found nothing, so a second intent was recorded before the one submission, under the same key.
    expect(settled.bank!.attempts).toBe(2);
  }, 120_000);

  it('when the gateway dies after the bank executed and before recording the outcome, then a restart finds the transfer by reference and settles without a second one', async () => {
    const id = `crash-after-call-${Date.now().toString(36)}`;
    const { left, transfersLeft } = await crashAt('after-bank-call-before-outcome', id);
    expect(left.status).toBe('submitted');
    expect(transfersLeft).toHaveLength(1);
    const settled = await recover(id);
    // The lookup found the transfer: no second intent was needed.
    expect(settled.bank!.attempts).toBe(1);
    expect(settled.bank!.transferId).toBe(transfersLeft[0]!.id);
  }, 120_000);

  it('when the gateway dies after recording the outcome and before completing its work item, then a restart changes nothing and calls the bank no more', async () => {
    const id = `crash-after-outcome-${Date.now().toString(36)}`;
    const { left, transfersLeft } = await crashAt('after-outcome-before-checkpoint', id);
    expect(left.status).toBe('settled');
    expect(transfersLeft).toHaveLength(1);
    expect((await deployment.workItem(id))?.status).toBe('pending');
    const settled = await recover(id);
    expect(settled).toMatchObject({ status: 'settled', bank: { transferId: left.bank!.transferId, attempts: 1 } });
    expect(await deployment.transfersFor(id)).toHaveLength(1);
  }, 120_000);
});
