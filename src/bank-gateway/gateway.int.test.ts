/**
 * The gateway against the sandbox bank over real HTTP, on real databases: each
 * fault the bank can show ends in the right state with exactly one transfer at
 * the bank (counted from the bank's own listing).
 */
import { paymentStreamName, type PaymentId } from '../domain/ids';
import { sqlEngines } from '../../test/support/databases';
import { endToEndIdFor } from './keys';
import { startGatewayHarness, TENANT, type GatewayHarness } from './testing/harness';
import { CLOSED_ACCOUNT_IBAN, startSandboxBankForTests, type SandboxBankForTests } from '../bank-sandbox/testing';

let sequence = 0;
const newId = (scenario: string) => `${scenario}-${Date.now().toString(36)}-${(sequence += 1)}`;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(sqlEngines())('bank gateway against the sandbox bank on %s', (engine) => {
  let bank: SandboxBankForTests;
  let harness: GatewayHarness;

  beforeAll(async () => {
    bank = await startSandboxBankForTests();
    harness = await startGatewayHarness(engine, { bank });
    await harness.startGateway();
  });
  afterEach(() => bank.heal());
  afterAll(async () => {
    await harness.close();
    await bank.close();
  });

  /**
   * Waits for the first failed attempt, so the fault has certainly hit, then heals
   * the bank. Fails when no attempt failed: a fault that did not fire would
   * otherwise leave a plain happy path passing as the fault's test.
   */
  async function healAfterFirstFailure(paymentId: string): Promise<{ error: string; errorCode?: string }> {
    const deadline = Date.now() + 10_000;
    let failure: { error: string; errorCode?: string } | undefined;
    while (Date.now() < deadline && !failure) {
      const events = await harness.store.readStream(paymentStreamName(TENANT, paymentId as PaymentId));
      failure = events.find((event) => event.type === 'BankAttemptFailed')?.data as { error: string; errorCode?: string } | undefined;
      if (!failure) await pause(20);
    }
    await bank.heal();
    if (!failure) throw new Error(`payment ${paymentId}: the gateway recorded no failed attempt within 10 s, so the injected fault never hit it`);
    return failure;
  }

  /** The bank's own record of the faults it injected into this payment's transfer (by its transfer id or reference). */
  async function faultsInjectedInto(paymentId: string) {
    const transferIds = new Set((await harness.transfersFor(paymentId)).map((transfer) => transfer.id));
    const endToEndId = endToEndIdFor(TENANT, paymentId as PaymentId);
    return bank
      .injectedFaults()
      .filter((entry) => (entry.transferId !== undefined && transferIds.has(entry.transferId)) || entry.endToEndId === endToEndId)
      .map((entry) => entry.fault);
  }

  it('when the bank answers normally, then the payment settles with exactly one transfer', async () => {
    const id = newId('happy');
    await harness.requestPayment(id);
    const state = await harness.waitForStatus(id, ['settled']);
    const transfers = await harness.transfersFor(id);
    expect(transfers).toHaveLength(1);
    expect(state).toMatchObject({ status: 'settled', bankTransferId: transfers[0]!.id });
    // One attempt, unless this (loaded) machine made the 500 ms bank timeout fire: then
    // only whole failed-and-retried attempts may sit between the intent and the outcome.
    const types = await harness.eventTypes(id);
    expect(types.slice(0, 2)).toEqual(['PaymentRequested', 'BankSubmissionStarted']);
    expect(types[types.length - 1]).toBe('PaymentSettled');
    // A timed-out attempt whose transfer the bank did execute is found by the lookup that follows, with no new intent.
    expect(types.slice(2, -1).join(',')).toMatch(/^(BankAttemptFailed(,BankSubmissionStarted)?,?)*$/);
  });

  it('when the bank rejects on business grounds (magic IBAN), then the payment is rejected with the reason and one rejected transfer', async () => {
    const id = newId('closed');
    await harness.requestPayment(id, CLOSED_ACCOUNT_IBAN);
    const state = await harness.waitForStatus(id, ['rejected', 'settled']);
    expect(state.status).toBe('rejected');
    expect(state.status === 'rejected' && state.reason).toBeTruthy();
    expect(await harness.transfersFor(id)).toHaveLength(1);
  });

  it('when the answer comes later than the timeout, then the lookup finds the transfer and it settles once', async () => {
    await bank.setFaults({ latencyMs: 900 });
    const id = newId('slow');
    await harness.requestPayment(id);
    const failure = await healAfterFirstFailure(id);
    // The latency fault is not logged by the bank: the gateway's own record shows it hit as a timeout.
    expect(failure).toMatchObject({ errorCode: 'bank_timeout', error: expect.stringMatching(/^timeout/) });
    await harness.waitForStatus(id, ['settled']);
    expect(await harness.transfersFor(id)).toHaveLength(1);
  });

  it('when the bank fails with 5xx before executing, then the lookup finds nothing, the same key is resubmitted and it settles once', async () => {
    await bank.setFaults({ errorBeforeRate: 1 });
    const id = newId('5xx-before');
    await harness.requestPayment(id);
    await healAfterFirstFailure(id);
    await harness.waitForStatus(id, ['settled']);
    expect(await harness.transfersFor(id)).toHaveLength(1);
    expect(await faultsInjectedInto(id)).toContain('error-before');
    const types = await harness.eventTypes(id);
    expect(types.filter((type) => type === 'BankSubmissionStarted').length).toBeGreaterThanOrEqual(2);
  });

  it('when the bank fails with 5xx after executing, then the lookup finds the transfer and it settles without a second submission', async () => {
    await bank.setFaults({ errorAfterRate: 1 });
    const id = newId('5xx-after');
    await harness.requestPayment(id);
    await healAfterFirstFailure(id);
    await harness.waitForStatus(id, ['settled']);
    expect(await harness.transfersFor(id)).toHaveLength(1);
    expect(await faultsInjectedInto(id)).toEqual(['error-after']);
    expect((await harness.eventTypes(id)).filter((type) => type === 'BankSubmissionStarted')).toHaveLength(1);
  });

  it('when the bank commits and then drops the connection, then the lookup finds the transfer and it settles once', async () => {
    await bank.setFaults({ dropAfterCommitRate: 1 });
    const id = newId('drop');
    await harness.requestPayment(id);
    await healAfterFirstFailure(id);
    await harness.waitForStatus(id, ['settled']);
    expect(await harness.transfersFor(id)).toHaveLength(1);
    expect(await faultsInjectedInto(id)).toEqual(['drop-after-commit']);
  });

  it('when the idempotency key expired at the bank, then the lookup by reference (not a resubmission) saves the payment from a second transfer', async () => {
    await bank.setFaults({ dropAfterCommitRate: 1, idempotencyTtlMs: 1 });
    const id = newId('expired');
    await harness.requestPayment(id);
    await healAfterFirstFailure(id);
    await bank.setFaults({ idempotencyTtlMs: 1 });
    await harness.waitForStatus(id, ['settled']);
    expect(await harness.transfersFor(id)).toHaveLength(1);
    expect((await harness.eventTypes(id)).filter((type) => type === 'BankSubmissionStarted')).toHaveLength(1);
    expect(await faultsInjectedInto(id)).toEqual(['drop-after-commit']);
  });

  it('when the bank is down, then the circuit opens and calls stop; when it recovers, every payment settles once', async () => {
    await bank.setFaults({ outage: true });
    const ids = [newId('outage'), newId('outage'), newId('outage')];
    for (const id of ids) await harness.requestPayment(id);
    const gateway = harness.gateways[0]!;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && gateway.bank.circuitStatus() !== 'open') await pause(20);
    expect(gateway.bank.circuitStatus()).toBe('open');
    const readiness = await gateway.gateway.readiness();
    expect(readiness.details).toMatchObject({ circuit: 'open' });
    await bank.heal();
    for (const id of ids) await harness.waitForStatus(id, ['settled'], 20_000);
    for (const id of ids) expect(await harness.transfersFor(id)).toHaveLength(1);
    expect(gateway.bank.circuitStatus()).toBe('closed');
  });

  it('when the lookup says not found while the first request is still in flight and it lands later, then the resubmission with the same key still yields one transfer', async () => {
    await bank.setFaults({ latencyMs: 1_500 });
    const id = newId('in-flight');
    await harness.requestPayment(id);
    // The first submission times out at 500 ms while the bank still holds it; the
    // lookup that follows finds nothing; the resubmission reuses the key.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && ((await harness.eventTypes(id)).filter((type) => type === 'BankSubmissionStarted').length) < 2) await pause(20);
    await bank.heal();
    await harness.waitForStatus(id, ['settled'], 20_000);
    await pause(1_600);
    expect(await harness.transfersFor(id)).toHaveLength(1);
  });

  it('when a cancel races the gateway, then each payment is either cancelled with no transfer or settled with one, never both', async () => {
    const ids = Array.from({ length: 12 }, () => newId('race'));
    await Promise.all(
      ids.map(async (id) => {
        await harness.requestPayment(id);
        await harness.payments
          .execute(TENANT, id as PaymentId, { type: 'CancelPayment', data: { reason: 'race' }, metadata: { now: new Date(), principal: { kind: 'client', id: 'c', tenantId: TENANT }, requestId: 'r', correlationId: 'r', causationId: 'r' } })
          .catch((error: unknown) => expect(String(error)).toMatch(/no longer be cancelled/));
      }),
    );
    for (const id of ids) {
      const state = await harness.waitForStatus(id, ['cancelled', 'settled']);
      expect(await harness.transfersFor(id)).toHaveLength(state.status === 'settled' ? 1 : 0);
    }
  });
});

describe.each(sqlEngines())('competing gateways on %s', (engine) => {
  let bank: SandboxBankForTests;
  let harness: GatewayHarness;

  beforeEach(async () => {
    bank = await startSandboxBankForTests();
    harness = await startGatewayHarness(engine, { bank });
  });
  afterEach(async () => {
    await harness.close();
    await bank.close();
  });

  it('when two gateways share the queue, then every payment settles with exactly one transfer', async () => {
    await harness.startGateway({ gatewayId: 'g1', concurrencyMax: 4 });
    await harness.startGateway({ gatewayId: 'g2', concurrencyMax: 4 });
    const ids = Array.from({ length: 30 }, () => newId('shared'));
    for (const id of ids) await harness.requestPayment(id);
    for (const id of ids) await harness.waitForStatus(id, ['settled'], 20_000);
    for (const id of ids) expect(await harness.transfersFor(id)).toHaveLength(1);
  });

  it('when new work is fed while the gateway is idle, then it is claimed at once, not at the next poll', async () => {
    // A poll interval of a minute: only the feeder's wake-up can get these settled within the wait below.
    await harness.startGateway({ pollIntervalMs: 60_000 });
    await pause(200);
    for (const round of [1, 2]) {
      const id = newId(`woken-${round}`);
      await harness.requestPayment(id);
      await harness.waitForStatus(id, ['settled'], 15_000);
      expect(await harness.transfersFor(id)).toHaveLength(1);
    }
  });

  it('when a gateway is paused past its lease (a zombie) and another takes over, then there is still exactly one transfer', async () => {
    // The bank holds each request 1.2 s; the lease is 300 ms: the second gateway
    // takes the payment over while the first is still inside its bank call.
    await bank.setFaults({ latencyMs: 1_200 });
    await harness.startGateway({ gatewayId: 'zombie', leaseMs: 300, bankTimeoutMs: 3_000 });
    const id = newId('zombie');
    await harness.requestPayment(id);
    await pause(150);
    await harness.startGateway({ gatewayId: 'successor', leaseMs: 300, bankTimeoutMs: 3_000 });
    await harness.waitForStatus(id, ['settled'], 20_000);
    await pause(1_300);
    expect(await harness.transfersFor(id)).toHaveLength(1);
  });

  it('when a zombie gets the answer of the bank after its successor parked the payment, then the answer is recorded: settled, one transfer', async () => {
    // The bank holds the first request 8 s; the zombie's lease is 300 ms. Its successor,
    // with a window already spent, finds nothing at the bank (still in flight) and parks
    // well before the answer comes back to the zombie.
    await bank.setFaults({ latencyMs: 8_000 });
    await harness.startGateway({ gatewayId: 'zombie', leaseMs: 300, bankTimeoutMs: 12_000 });
    const id = newId('late-answer');
    await harness.requestPayment(id);
    await pause(150);
    await harness.startGateway({ gatewayId: 'successor', leaseMs: 300, bankTimeoutMs: 12_000, retryWindowMs: 100 });
    await harness.waitForStatus(id, ['unknown'], 7_500);
    const settled = await harness.waitForStatus(id, ['settled'], 20_000);
    const transfers = await harness.transfersFor(id);
    expect(transfers).toHaveLength(1);
    expect(settled).toMatchObject({ status: 'settled', bankTransferId: transfers[0]!.id });
    const types = await harness.eventTypes(id);
    expect(types.indexOf('BankOutcomeUnknown')).toBeGreaterThan(0);
    expect(types[types.length - 1]).toBe('PaymentSettled');
  });

  it('when the bank holds a request, then no transaction of ours is open meanwhile', async () => {
    await bank.setFaults({ latencyMs: 800 });
    await harness.startGateway({ bankTimeoutMs: 3_000 });
    const id = newId('no-tx');
    await harness.requestPayment(id);
    let samples = 0;
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline && (await harness.status(id)) !== 'settled') {
      const started = Date.now();
      // On PGlite (one connection) a transaction held across the call would block this query until the call ends.
      await harness.database.query('SELECT 1');
      expect(Date.now() - started).toBeLessThan(300);
      if (engine === 'postgres') {
        // Any transaction of ours older than 250 ms while the bank holds the call for 800 ms would be one held across it.
        const open = await harness.database.query<{ count: string }>(
          `SELECT count(*)::text AS count FROM pg_stat_activity
           WHERE application_name = $1 AND pid <> pg_backend_pid() AND xact_start < now() - interval '250 milliseconds'`,
          [harness.applicationName],
        );
        expect(open.rows[0]!.count).toBe('0');
      }
      samples += 1;
      await pause(40);
    }
    expect(samples).toBeGreaterThan(5);
    await harness.waitForStatus(id, ['settled']);
  });
});
