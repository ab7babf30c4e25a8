/**
 * Controlled reprocessing through real HTTP, a real store, a real gateway and
 * the sandbox bank: an operator's outcome is recorded only when the bank
 * confirms it; a contradiction is refused and audited with the payment
 * untouched; when the bank cannot tell, a supervisor other than the proposer
 * approves and the action runs once. Replay window and rate limits included.
 */
import { randomUUID } from 'node:crypto';
import type { PaymentId } from '../../domain/ids';
import type { CurrencyCode } from '../../domain/money';
import { KEYS } from '../../../test/support/api';
import { sqlEngines } from '../../../test/support/databases';
import { IBAN_DEBTOR, TENANT, type GatewayHarness } from '../../bank-gateway/testing/harness';
import type { SandboxBankForTests } from '../../bank-sandbox/testing';
import { SECOND_SUPERVISOR_KEY, startOpsApi, type OpsApi } from './testing';

let sequence = 0;
const newId = (scenario: string) => `${scenario}-${Date.now().toString(36)}-${(sequence += 1)}`;
const HOUR_MS = 3_600_000;
/** Approve and reject need an Idempotency-Key: a new one per decision, as a page or script sends. */
const keyed = () => ({ 'idempotency-key': randomUUID() });

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe.each(sqlEngines())('four eyes on the operator desk on %s', (engine) => {
  let ops: OpsApi;
  let bank: SandboxBankForTests;
  let harness: GatewayHarness;
  let call: OpsApi['call'];

  beforeAll(async () => {
    ops = await startOpsApi(engine);
    ({ bank, harness, call } = ops);
  });
  afterEach(async () => {
    ops.setClockOffset(0);
    await bank.heal();
  });
  afterAll(() => ops.close());

  const stream = (id: string) => `payment-${TENANT}:${id}`;
  const auditOf = async (id: string) => harness.store.readStream(`audit-operator-${TENANT}:${id}`);

  async function parkedDuringOutage(): Promise<string> {
    await bank.setFaults({ outage: true });
    const id = newId('parked');
    await harness.requestPayment(id);
    await harness.waitForStatus(id, ['unknown'], 15_000);
    return id;
  }

  async function parkedAfterExecution(): Promise<{ id: string; transferId: string }> {
    // A payment settled first closes the gateway's circuit that earlier faults opened, so this one reaches the bank.
    const warm = newId('warm');
    await harness.requestPayment(warm);
    await harness.waitForStatus(warm, ['settled'], 15_000);
    await bank.setFaults({ dropAfterCommitRate: 1, lookupErrorRate: 1 });
    const id = newId('executed');
    await harness.requestPayment(id);
    await harness.waitForStatus(id, ['unknown'], 15_000);
    const transfers = await harness.transfersFor(id);
    expect(transfers).toHaveLength(1);
    return { id, transferId: transfers[0]!.id };
  }

  /** A payment of another amount to another creditor that the gateway settled: its transfer is real, and not ours. */
  async function otherSettledTransfer(): Promise<string> {
    const id = newId('other');
    await harness.payments.requestPayment(
      {
        tenantId: TENANT,
        paymentId: id as PaymentId,
        createOnly: true,
        instruction: { amountMinor: 999, currency: 'EUR' as CurrencyCode, debtor: { name: 'Acme Ltd', iban: IBAN_DEBTOR }, creditor: { name: 'Eve', iban: 'DE44500105175407324931' }, reference: null, metadata: {} },
      },
      { now: new Date(), principal: { kind: 'client', id: 'client:acme', tenantId: TENANT }, requestId: 'r', correlationId: 'r', causationId: 'r' },
    );
    await harness.waitForStatus(id, ['settled'], 15_000);
    return (await harness.transfersFor(id))[0]!.id;
  }

  const resolve = (id: string, body: Json, key: string = KEYS.operator) => call('POST', `/ops/payments/${TENANT}/${id}/resolve`, key, { reason: 'reconciled', evidence: 'statement line 7', ...body });

  async function expectUnchanged(id: string, revisionBefore: number) {
    const after = (await harness.payments.getPayment(TENANT, id as PaymentId))!;
    expect(after.state.status).toBe('unknown');
    expect(after.revision).toBe(revisionBefore);
  }

  /** The desk's own bank client opens its circuit after failures; it answers again once half-open. */
  async function untilDeskReachesBank(id: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const lookup = ((await (await call('GET', `/ops/payments/${TENANT}/${id}/bank-lookup`, KEYS.operator)).json()) as Json)['lookup'];
      if (lookup && lookup['result'] !== 'unavailable') return;
      if (Date.now() > deadline) throw new Error('the operator desk never reached the healed bank');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  const revisionOf = async (id: string) => (await harness.payments.getPayment(TENANT, id as PaymentId))!.revision;

  describe('resolve is checked against the bank', () => {
    it('when the transfer id is invented, then 409 bank-evidence-mismatch naming it, audited, and the payment is unchanged', async () => {
      const id = await parkedDuringOutage();
      await bank.heal();
      const before = await revisionOf(id);
      const response = await resolve(id, { outcome: 'settled', bankTransferId: 'tr_INVENTED' });
      expect(response.status).toBe(409);
      const problem = (await response.json()) as Json;
      expect(problem).toMatchObject({ type: '/problems/bank-evidence-mismatch', mismatches: [{ field: 'bankTransferId', expected: 'tr_INVENTED', bank: 'none' }] });
      await expectUnchanged(id, before);
      const [refusal] = await auditOf(id);
      expect(refusal).toMatchObject({ type: 'OperatorActionRefused', data: { action: 'resolve', problem: 'bank_evidence_mismatch', refusedBy: expect.stringContaining('operator:'), claim: { outcome: 'settled', bankTransferId: 'tr_INVENTED' } } });
    });

    it("when the transfer is another payment's, then 409 naming every differing field (reference, amount, creditor), and the payment is unchanged", async () => {
      const id = await parkedDuringOutage();
      await bank.heal();
      const otherTransfer = await otherSettledTransfer();
      const before = await revisionOf(id);
      const response = await resolve(id, { outcome: 'settled', bankTransferId: otherTransfer });
      expect(response.status).toBe(409);
      const fields = ((await response.json()) as Json)['mismatches'].map((mismatch: Json) => mismatch['field']).sort();
      expect(fields).toEqual(['amountMinor', 'creditorIban', 'endToEndId']);
      await expectUnchanged(id, before);
    });

    it('when "rejected" is claimed but the bank executed the transfer, then 409 on the outcome, and the payment is unchanged', async () => {
      const { id } = await parkedAfterExecution();
      await bank.heal();
      const before = await revisionOf(id);
      const response = await resolve(id, { outcome: 'rejected' });
      expect(response.status).toBe(409);
      expect(await response.json()).toMatchObject({ type: '/problems/bank-evidence-mismatch', mismatches: [{ field: 'outcome', expected: 'rejected' }] });
      await expectUnchanged(id, before);
    });

    it('when the bank holds the matching executed transfer, then settled at once, bank-confirmed, and the transfer is reserved for this payment', async () => {
      const { id, transferId } = await parkedAfterExecution();
      await bank.heal();
      const response = await resolve(id, { outcome: 'settled', bankTransferId: transferId });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ status: 'settled', bank: { transferId } });
      const resolution = (await harness.store.readStream(stream(id))).find((event) => event.type === 'PaymentResolvedByOperator')!;
      expect(resolution.data).toMatchObject({ verification: { kind: 'bank-confirmed', bankAnswer: expect.stringContaining(transferId) } });
      const [reservation] = await harness.store.readStream(`bank-transfer-${transferId}`);
      expect(reservation).toMatchObject({ type: 'BankTransferReserved', data: { paymentId: id, tenantId: TENANT } });
    });

    it('when the bank holds no transfer for the reference, then "rejected" is recorded at once', async () => {
      const id = await parkedDuringOutage();
      await bank.heal();
      const response = await resolve(id, { outcome: 'rejected' });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ status: 'rejected' });
      expect(await harness.transfersFor(id)).toHaveLength(0);
    });
  });

  describe('when the bank cannot answer, a second person decides', () => {
    async function proposeDuringOutage(id: string, body: Json, key: string = KEYS.operator): Promise<Json> {
      await bank.setFaults({ outage: true });
      const response = await resolve(id, body, key);
      expect(response.status).toBe(202);
      const proposal = (await response.json()) as Json;
      expect(response.headers.get('location')).toBe(`/ops/approvals/${proposal['approval']['id']}`);
      await bank.heal();
      return proposal['approval'];
    }

    it('then resolve gives a pending proposal; an operator may not approve it, the proposer may not, another supervisor does, and it is applied once', async () => {
      const id = await parkedDuringOutage();
      const before = await revisionOf(id);
      const approval = await proposeDuringOutage(id, { outcome: 'rejected' }, KEYS.supervisor);
      expect(approval).toMatchObject({ status: 'pending', action: { kind: 'resolve-payment', paymentId: id, outcome: 'rejected' }, bankAnswer: expect.stringContaining('failed') });
      await expectUnchanged(id, before);
      const path = `/ops/approvals/${approval['id']}`;

      const byOperator = await call('POST', `${path}/approve`, KEYS.operator2, { reason: 'looks right' }, keyed());
      expect(byOperator.status).toBe(403);
      expect(await byOperator.json()).toMatchObject({ type: '/problems/supervisor-required' });
      const byProposer = await call('POST', `${path}/approve`, KEYS.supervisor, { reason: 'my own' }, keyed());
      expect(byProposer.status).toBe(403);
      expect(await byProposer.json()).toMatchObject({ type: '/problems/four-eyes-required' });
      await expectUnchanged(id, before);

      const approved = await call('POST', `${path}/approve`, SECOND_SUPERVISOR_KEY, { reason: 'bank confirmed by phone, call 7731' }, keyed());
      expect(approved.status).toBe(200);
      expect(await approved.json()).toMatchObject({ status: 'approved', approval: { by: expect.stringContaining('supervisor:sam') }, execution: { status: 'executed' } });
      const again = await call('POST', `${path}/approve`, SECOND_SUPERVISOR_KEY, { reason: 'bank confirmed by phone, call 7731' }, keyed());
      expect(again.status).toBe(200);
      const events = await harness.store.readStream(stream(id));
      const resolutions = events.filter((event) => event.type === 'PaymentResolvedByOperator');
      expect(resolutions).toHaveLength(1);
      expect(resolutions[0]!.data).toMatchObject({ outcome: 'rejected', verification: { kind: 'four-eyes', approvalId: approval['id'], approvedBy: expect.stringContaining('supervisor:sam') } });
      const refusals = (await auditOf(id)).map((event) => event.data['problem']);
      expect(refusals).toEqual(['supervisor_required', 'four_eyes_required']);
      expect(await (await call('GET', path, KEYS.operator)).json()).toMatchObject({ status: 'approved', execution: { status: 'executed' } });
    });

    it('when two supervisors approve at the same moment, then the action runs once and the other is told it is already decided', async () => {
      const id = await parkedDuringOutage();
      const approval = await proposeDuringOutage(id, { outcome: 'rejected' });
      const path = `/ops/approvals/${approval['id']}/approve`;
      const answers = await Promise.all([KEYS.supervisor, SECOND_SUPERVISOR_KEY, KEYS.supervisor, SECOND_SUPERVISOR_KEY].map((key) => call('POST', path, key, { reason: 'checked' }, keyed())));
      const statuses = answers.map((answer) => answer.status).sort();
      expect(statuses.filter((status) => status === 200).length).toBeGreaterThanOrEqual(1);
      expect(statuses.every((status) => status === 200 || status === 409)).toBe(true);
      const approvals = (await harness.store.readStream(`approval-${approval['id']}`)).map((event) => event.type);
      expect(approvals.filter((type) => type === 'ApprovalGranted')).toHaveLength(1);
      expect(approvals.filter((type) => type === 'ApprovalExecuted')).toHaveLength(1);
      expect((await harness.store.readStream(stream(id))).filter((event) => event.type === 'PaymentResolvedByOperator')).toHaveLength(1);
    });

    it('when one transfer id is proposed for two payments, then the store lets it settle only the first; the second stays parked', async () => {
      const [first, second] = [await parkedDuringOutage(), await parkedDuringOutage()];
      const one = await proposeDuringOutage(first!, { outcome: 'settled', bankTransferId: 'tr_SHARED_CLAIM' });
      const two = await proposeDuringOutage(second!, { outcome: 'settled', bankTransferId: 'tr_SHARED_CLAIM' });
      // Still down when they are approved: a bank that answers would refuse the invented transfer at the re-check.
      await bank.setFaults({ outage: true });
      const [a, b] = await Promise.all([one, two].map((approval) => call('POST', `/ops/approvals/${approval['id']}/approve`, SECOND_SUPERVISOR_KEY, { reason: 'statement shows it' }, keyed())));
      const executions = [(await a!.json()) as Json, (await b!.json()) as Json].map((view) => view['execution']);
      expect(executions.map((execution) => execution['status']).sort()).toEqual(['executed', 'failed']);
      expect(executions.find((execution) => execution['status'] === 'failed')).toMatchObject({ problem: 'bank_transfer_already_used' });
      const statuses = [await harness.status(first!), await harness.status(second!)].sort();
      expect(statuses).toEqual(['settled', 'unknown']);
      expect(await harness.store.readStream('bank-transfer-tr_SHARED_CLAIM')).toHaveLength(1);
    });

    it('when an approved proposal names a transfer the gateway settled another payment with, then the store refuses it: failed bank_transfer_already_used, payment still parked', async () => {
      const otherTransfer = await otherSettledTransfer();
      const [reservation] = await harness.store.readStream(`bank-transfer-${otherTransfer}`);
      expect(reservation).toMatchObject({ type: 'BankTransferReserved', data: { reservedBy: expect.stringContaining('gateway:') } });
      const id = await parkedDuringOutage();
      const approval = await proposeDuringOutage(id, { outcome: 'settled', bankTransferId: otherTransfer });
      await bank.setFaults({ outage: true });
      const before = await revisionOf(id);
      const approved = await call('POST', `/ops/approvals/${approval['id']}/approve`, SECOND_SUPERVISOR_KEY, { reason: 'statement shows it' }, keyed());
      expect(await approved.json()).toMatchObject({ status: 'approved', execution: { status: 'failed', problem: 'bank_transfer_already_used' } });
      await expectUnchanged(id, before);
      expect(await harness.store.readStream(`bank-transfer-${otherTransfer}`)).toHaveLength(1);
    });

    it('when the bank answers between proposal and approval and contradicts it, then the approval executes nothing: failed bank-evidence-mismatch, audited, payment still parked', async () => {
      const { id } = await parkedAfterExecution();
      // Lookups still fail: the bank cannot tell, so "rejected" becomes a proposal.
      const response = await resolve(id, { outcome: 'rejected' });
      expect(response.status).toBe(202);
      const approval = ((await response.json()) as Json)['approval'];
      await bank.heal();
      await untilDeskReachesBank(id);
      const before = await revisionOf(id);
      const approved = await call('POST', `/ops/approvals/${approval['id']}/approve`, SECOND_SUPERVISOR_KEY, { reason: 'statement shows nothing' }, keyed());
      expect(approved.status).toBe(200);
      expect(await approved.json()).toMatchObject({ status: 'approved', execution: { status: 'failed', problem: 'bank_evidence_mismatch' } });
      await expectUnchanged(id, before);
      const refusals = (await auditOf(id)).filter((event) => event.data['action'] === 'approve');
      expect(refusals).toHaveLength(1);
      expect(refusals[0]!.data).toMatchObject({ problem: 'bank_evidence_mismatch', approvalId: approval['id'], mismatches: [{ field: 'outcome', expected: 'rejected' }] });
    });

    it('when the proposal has expired, then approving is 409 approval-expired and it is listed as expired', async () => {
      const id = await parkedDuringOutage();
      const approval = await proposeDuringOutage(id, { outcome: 'rejected' });
      ops.setClockOffset(24 * HOUR_MS + 1_000);
      const response = await call('POST', `/ops/approvals/${approval['id']}/approve`, KEYS.supervisor, { reason: 'late' }, keyed());
      expect(response.status).toBe(409);
      expect(await response.json()).toMatchObject({ type: '/problems/approval-expired' });
      const expired = (await (await call('GET', '/ops/approvals?status=expired&limit=100', KEYS.operator)).json()) as Json;
      expect(expired['items'].map((item: Json) => item['id'])).toContain(approval['id']);
      expect(await harness.status(id)).toBe('unknown');
    });

    it('when proposals are listed one per page, then each pending one comes once and the cursors are accepted; rejected ones are listed apart', async () => {
      const ids = [await parkedDuringOutage(), await parkedDuringOutage()];
      const made = [await proposeDuringOutage(ids[0]!, { outcome: 'rejected' }), await proposeDuringOutage(ids[1]!, { outcome: 'rejected' })];
      const rejected = await call('POST', `/ops/approvals/${made[1]!['id']}/reject`, KEYS.supervisor, { reason: 'no proof' }, keyed());
      expect(rejected.status).toBe(200);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const response = await call('GET', `/ops/approvals?status=pending&limit=1${cursor ? `&cursor=${cursor}` : ''}`, KEYS.operator);
        expect(response.status).toBe(200);
        const body = (await response.json()) as Json;
        seen.push(...body['items'].map((item: Json) => item['id']));
        cursor = body['nextCursor'];
      } while (cursor);
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen).toContain(made[0]!['id']);
      expect(seen).not.toContain(made[1]!['id']);
      const rejectedList = (await (await call('GET', '/ops/approvals?status=rejected', KEYS.supervisor)).json()) as Json;
      expect(rejectedList['items'].map((item: Json) => item['id'])).toContain(made[1]!['id']);
      expect((await call('GET', '/ops/approvals?status=lost', KEYS.operator)).status).toBe(400);
      expect((await call('GET', '/ops/approvals', KEYS.analyst)).status).toBe(403);
      expect((await call('GET', '/ops/approvals/01JD2Y3Q4W5E6R7T8Y9V0A1B2C', KEYS.operator)).status).toBe(404);
    });
  });

  it('when a retry comes after the replay window, then 409 replay-window-expired with the compensation route, audited, nothing written', async () => {
    const id = await parkedDuringOutage();
    await bank.heal();
    const before = await revisionOf(id);
    ops.setClockOffset(7 * 24 * HOUR_MS + 60_000);
    const response = await call('POST', `/ops/payments/${TENANT}/${id}/retry`, KEYS.operator, { reason: 'try again' });
    expect(response.status).toBe(409);
    expect(await response.json()).toMatchObject({ type: '/problems/replay-window-expired', compensationRoute: '/ops/compensations' });
    await expectUnchanged(id, before);
    expect((await auditOf(id)).map((event) => event.data['problem'])).toEqual(['replay_window_expired']);
    const trail = (await (await call('GET', `/ops/payments/${TENANT}/${id}/audit`, KEYS.operator)).json()) as Json;
    expect(trail['items'].map((item: Json) => item['type'])).toEqual(expect.arrayContaining(['PaymentRequested', 'BankOutcomeUnknown', 'OperatorActionRefused']));
  });
});

describe.each(sqlEngines())('rate limits on operator actions on %s', (engine) => {
  let ops: OpsApi;
  beforeAll(async () => {
    ops = await startOpsApi(engine, { actionLimitPerHour: 2 });
  });
  afterAll(() => ops.close());

  it('when a staff member goes over the hourly limit, then 429 with Retry-After, audited; another staff member is not affected', async () => {
    await ops.bank.setFaults({ outage: true });
    const id = newId('limited');
    await ops.harness.requestPayment(id);
    await ops.harness.waitForStatus(id, ['unknown'], 15_000);
    const resolve = (key: string) => ops.call('POST', `/ops/payments/${TENANT}/${id}/resolve`, key, { outcome: 'settled', bankTransferId: 'tr_X', reason: 'r', evidence: 'e' });
    const answers = [await resolve(KEYS.operator), await resolve(KEYS.operator), await resolve(KEYS.operator)];
    expect(answers.map((answer) => answer.status)).toEqual([202, 202, 429]);
    expect(Number(answers[2]!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await answers[2]!.json()).toMatchObject({ type: '/problems/rate-limited', action: 'resolve' });
    expect((await resolve(KEYS.operator2)).status).toBe(202);
    const audit = await ops.harness.store.readStream(`audit-operator-${TENANT}:${id}`);
    expect(audit.map((event) => event.data['problem'])).toEqual(['rate_limited']);
  });
});
