/**
 * Refunds through the gateway against the sandbox bank over real HTTP, on
 * real databases: a refund is a bank instruction of its own (key, reference,
 * lookup before any resend), executed exactly once, and the bank's refunds
 * never exceed the settled amount. Counted from the bank's own listing.
 */
import { createRefundsModule } from '../application/refunds';
import type { PaymentId, RefundId } from '../domain/ids';
import { findRefund, type RefundState } from '../domain/payment';
import { sqlEngines } from '../../test/support/databases';
import { refundReferencesFor } from './keys';
import { clientMetadata, startGatewayHarness, TENANT, type GatewayHarness } from './testing/harness';
import { startSandboxBankForTests, type SandboxBankForTests } from '../bank-sandbox/testing';

let sequence = 0;
const newId = (scenario: string) => `${scenario}-${Date.now().toString(36)}-${(sequence += 1)}`;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(sqlEngines())('refunds through the bank gateway on %s', (engine) => {
  let bank: SandboxBankForTests;
  let harness: GatewayHarness;
  let refunds: ReturnType<typeof createRefundsModule>;

  beforeAll(async () => {
    bank = await startSandboxBankForTests();
    harness = await startGatewayHarness(engine, { bank });
    refunds = createRefundsModule({ store: harness.store, amountMajorMax: 1_000_000 });
    await harness.startGateway();
  });
  afterEach(() => bank.heal());
  afterAll(async () => {
    await harness.close();
    await bank.close();
  });

  async function settledPayment(scenario: string): Promise<string> {
    const id = newId(scenario);
    await harness.requestPayment(id);
    await harness.waitForStatus(id, ['settled'], 30_000);
    return id;
  }

  const requestRefund = (paymentId: string, refundId: string, amount: string) =>
    refunds.requestRefund({ tenantId: TENANT, paymentId: paymentId as PaymentId, refundId: refundId as RefundId, amount, currency: null, reason: null, metadata: {} }, clientMetadata());

  async function waitForRefund(paymentId: string, refundId: string, statuses: readonly RefundState['status'][], timeoutMs = 30_000): Promise<RefundState> {
    const deadline = Date.now() + timeoutMs;
    let last: string | undefined;
    while (Date.now() < deadline) {
      const found = await harness.payments.getPayment(TENANT, paymentId as PaymentId);
      const refund = found && findRefund(found.state, refundId);
      last = refund?.status;
      if (refund && statuses.includes(refund.status)) return refund;
      await pause(25);
    }
    throw new Error(`refund ${paymentId}/${refundId} stayed ${last ?? 'absent'}; expected ${statuses.join(' or ')}`);
  }

  const bankRefundsFor = (paymentId: string, refundId: string) => bank.refundsFor(refundReferencesFor(TENANT, paymentId as PaymentId, refundId).endToEndId);

  it('when a settled payment is refunded, then the gateway executes the refund once on its transfer and records it as succeeded', async () => {
    const id = await settledPayment('refund-happy');
    await requestRefund(id, 'r-1', '25.00');
    const refund = await waitForRefund(id, 'r-1', ['succeeded']);
    const atBank = await bankRefundsFor(id, 'r-1');
    expect(atBank).toHaveLength(1);
    const transfer = (await harness.transfersFor(id))[0]!;
    expect(atBank[0]).toMatchObject({ status: 'accepted', transferId: transfer.id, amountMinor: 2_500, currency: 'EUR' });
    expect(refund).toMatchObject({ status: 'succeeded', bankRefundId: atBank[0]!.id });
    expect(refund.bank?.endToEndId).toBe(refundReferencesFor(TENANT, id as PaymentId, 'r-1').endToEndId);
  });

  it('when the bank executes a refund and drops the answer, then the gateway finds it by reference and records it without a second one', async () => {
    const id = await settledPayment('refund-dropped');
    await bank.setFaults({ dropAfterCommitRate: 1 });
    await requestRefund(id, 'r-1', '10.00');
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && (await bankRefundsFor(id, 'r-1')).length === 0) await pause(20);
    await bank.heal();
    await waitForRefund(id, 'r-1', ['succeeded']);
    const atBank = await bankRefundsFor(id, 'r-1');
    expect(atBank).toHaveLength(1);
    // The drop did happen: the bank logged it for this very refund, and the gateway recorded an attempt without an answer.
    expect(bank.injectedFaults().filter((entry) => entry.refundId === atBank[0]!.id).map((entry) => entry.fault)).toEqual(['drop-after-commit']);
    expect(await harness.eventTypes(id)).toContain('RefundAttemptFailed');
  });

  it('when the bank fails before executing, then the refund is retried under the same key and executed once', async () => {
    const id = await settledPayment('refund-retried');
    await bank.setFaults({ errorBeforeRate: 1 });
    await requestRefund(id, 'r-1', '10.00');
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !(await harness.eventTypes(id)).includes('RefundAttemptFailed')) await pause(20);
    await bank.heal();
    // The fault did happen: the gateway recorded the failed attempt, and the bank logged the 503 for this refund's reference.
    expect(await harness.eventTypes(id)).toContain('RefundAttemptFailed');
    const { endToEndId } = refundReferencesFor(TENANT, id as PaymentId, 'r-1');
    expect(bank.injectedFaults().filter((entry) => entry.endToEndId === endToEndId).map((entry) => entry.fault)).toContain('error-before');
    await waitForRefund(id, 'r-1', ['succeeded']);
    expect(await bankRefundsFor(id, 'r-1')).toHaveLength(1);
  });

  it('when several refunds of one payment run at once, then each is executed once and together they never exceed the settled amount', async () => {
    const id = await settledPayment('refund-many');
    const ids = ['a', 'b', 'c', 'd', 'e'];
    await Promise.all(ids.map((refundId) => requestRefund(id, refundId, '25.10')));
    for (const refundId of ids) await waitForRefund(id, refundId, ['succeeded']);
    const transferId = (await harness.transfersFor(id))[0]!.id;
    const onTransfer = (await bank.allRefunds()).filter((refund) => refund.transferId === transferId);
    const mine = (await Promise.all(ids.map((refundId) => bankRefundsFor(id, refundId)))).flat();
    expect(mine).toHaveLength(5);
    expect(mine.every((refund) => refund.status === 'accepted')).toBe(true);
    expect(mine.reduce((sum, refund) => sum + refund.amountMinor, 0)).toBeLessThanOrEqual(12_550);
    expect(onTransfer.map((refund) => refund.id).sort()).toEqual(mine.map((refund) => refund.id).sort());
  });

  it('when the bank is down past the retry window, then the refund is parked as unknown with its amount still reserved', async () => {
    const id = await settledPayment('refund-parked');
    const parts = await harness.startGateway({ gatewayId: 'gw-short-window', retryWindowMs: 300 });
    await bank.setFaults({ outage: true });
    await requestRefund(id, 'r-1', '5.00');
    const parked = await waitForRefund(id, 'r-1', ['unknown']);
    // 503s from the outage, or timeouts when this (shared) machine is slow: either way the bank never answered.
    expect(['bank_unavailable', 'bank_timeout']).toContain(parked.bank?.lastErrorCode);
    expect(await bankRefundsFor(id, 'r-1')).toHaveLength(0);
    await parts.gateway.stop();
  });
});
