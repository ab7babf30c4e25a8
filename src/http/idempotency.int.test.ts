/**
 * Idempotency-Key through real HTTP on a real store: a POST retried with its
 * key is applied once and its stored answer replayed; another request under
 * the key is 422; a key whose first request still runs is 409; a claim left
 * without an answer past the in-flight bound is taken over and the action
 * still happens once; keys belong to the API key that sent them.
 */
import { randomUUID } from 'node:crypto';
import type { PaymentId, TenantId } from '../domain/ids';
import { paymentStreamName } from '../domain/ids';
import { KEYS, startTestApi, validPayment, type TestApi } from '../../test/support/api';
import { sqlEngines } from '../../test/support/databases';
import { TENANT } from '../bank-gateway/testing/harness';
import { IDEMPOTENCY_IN_FLIGHT_MS_FOR_TESTS, SECOND_SUPERVISOR_KEY, startOpsApi, startSilentBank, type OpsApi } from './ops/testing';
import type { EventStore } from '../event-store/port';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let sequence = 0;
const newId = (scenario: string) => `${scenario}-${Date.now().toString(36)}-${(sequence += 1)}`;

async function claimStreamEvents(store: EventStore): Promise<{ type: string; streamName: string; data: Json }[]> {
  return store.readAll({ limit: 10_000, filter: { streamPrefixes: ['idempotency-'] } });
}

async function proposalsFor(store: EventStore, paymentId: string): Promise<string[]> {
  const events = await store.readAll({ limit: 10_000, filter: { eventTypes: ['ApprovalProposed'] } });
  return events.filter((event) => (event.data['action'] as Json)['paymentId'] === paymentId).map((event) => String(event.data['approvalId']));
}

describe.each(sqlEngines())('Idempotency-Key on a client POST (cancel) on %s', (engine) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi(engine);
  });
  afterAll(() => api.close());

  // Each tenant pays from its own registered debit account.
  const debtorOf = (key: string) => (key === KEYS.globex ? { debtor: { name: 'Globex Corp', iban: 'GB29NWBK60161331926819' } } : {});
  const create = async (id: string, key: string = KEYS.acme) => expect((await api.call('PUT', `/payments/${id}`, { key, body: validPayment(debtorOf(key)) })).status).toBe(201);
  const cancel = (id: string, idempotencyKey: string | undefined, body: Json = { reason: 'ordered twice' }, key: string = KEYS.acme) =>
    api.call('POST', `/payments/${id}/cancel`, { key, body, headers: idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey } });
  const eventsOf = (id: string, tenant = 'acme') => api.store.readStream(paymentStreamName(tenant as TenantId, id as PaymentId));

  it('when a cancel is sent again with its key, then the stored answer comes back with Idempotent-Replayed: true and nothing is written', async () => {
    const id = newId('cancel');
    await create(id);
    const key = randomUUID();
    const first = await cancel(id, key);
    expect(first.status).toBe(200);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const firstBody = await first.json();
    const again = await cancel(id, key);
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('etag')).toBe(first.headers.get('etag'));
    expect(again.headers.get('x-log-position')).toBe(first.headers.get('x-log-position'));
    expect(await again.json()).toEqual(firstBody);
    expect((await eventsOf(id)).map((event) => event.type)).toEqual(['PaymentRequested', 'PaymentCancelled']);
  });

  it('when the key comes quoted ("k") and then bare (k), then it is one key', async () => {
    const id = newId('quoted');
    await create(id);
    const key = `k-${randomUUID()}`;
    expect((await cancel(id, `"${key}"`, { reason: 'duplicate' })).status).toBe(200);
    const bare = await cancel(id, key, { reason: 'duplicate' });
    expect(bare.status).toBe(200);
    expect(bare.headers.get('idempotent-replayed')).toBe('true');
  });

  it('when the same key comes with another body or for another payment, then 422 idempotency-key-reuse and nothing is written', async () => {
    const [id, other] = [newId('reuse'), newId('reuse-other')];
    await create(id);
    await create(other);
    const key = randomUUID();
    expect((await cancel(id, key, { reason: 'first reason' })).status).toBe(200);
    const otherBody = await cancel(id, key, { reason: 'another reason' });
    expect(otherBody.status).toBe(422);
    expect(await otherBody.json()).toMatchObject({ type: '/problems/idempotency-key-reuse' });
    const otherPath = await cancel(other, key, { reason: 'first reason' });
    expect(otherPath.status).toBe(422);
    expect((await eventsOf(other)).map((event) => event.type)).toEqual(['PaymentRequested']);
  });

  it('when two clients use the same key, then each key is their own: both cancels run, neither is a replay', async () => {
    const [mine, theirs] = [newId('scope-acme'), newId('scope-globex')];
    await create(mine, KEYS.acme);
    await create(theirs, KEYS.globex);
    const key = `shared-${randomUUID()}`;
    const acme = await cancel(mine, key, { reason: 'same words' }, KEYS.acme);
    const globex = await cancel(theirs, key, { reason: 'same words' }, KEYS.globex);
    expect([acme.status, globex.status]).toEqual([200, 200]);
    expect([acme.headers.get('idempotent-replayed'), globex.headers.get('idempotent-replayed')]).toEqual([null, null]);
    expect((await eventsOf(theirs, 'globex')).map((event) => event.type)).toEqual(['PaymentRequested', 'PaymentCancelled']);
  });

  it('when the key is too long, empty, badly quoted or sent twice, then 400 pointing at the header and nothing is written or claimed', async () => {
    const id = newId('badkey');
    await create(id);
    const claimsBefore = (await claimStreamEvents(api.store)).length;
    for (const bad of ['x'.repeat(256), '"', '""', '"a\\b"', 'has space', '"unterminated']) {
      const response = await cancel(id, bad);
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ errors: [{ pointer: '#/header/idempotency-key' }] });
    }
    const twice = await api.fetch(`${api.url}/payments/${id}/cancel`, {
      method: 'POST',
      headers: [['authorization', `Bearer ${KEYS.acme}`], ['content-type', 'application/json'], ['idempotency-key', 'a'], ['idempotency-key', 'b']],
      body: JSON.stringify({ reason: 'r' }),
    });
    expect(twice.status).toBe(400);
    expect((await eventsOf(id)).map((event) => event.type)).toEqual(['PaymentRequested']);
    expect((await claimStreamEvents(api.store)).length).toBe(claimsBefore);
    expect((await cancel(id, 'y'.repeat(255))).status).toBe(200);
  });

  it('when the first answer is a refusal (409), then the same request with the key gets that refusal again, replayed', async () => {
    const id = newId('refused');
    await create(id);
    expect((await cancel(id, undefined)).status).toBe(200);
    // Cancelled already: a cancel with If-Match at the old revision is refused, and the refusal is the key's answer.
    const key = randomUUID();
    const first = await api.call('POST', `/payments/${id}/cancel`, { key: KEYS.acme, body: { reason: 'r' }, headers: { 'idempotency-key': key, 'if-match': '"0"' } });
    expect(first.status).toBe(412);
    const again = await api.call('POST', `/payments/${id}/cancel`, { key: KEYS.acme, body: { reason: 'r' }, headers: { 'idempotency-key': key, 'if-match': '"0"' } });
    expect(again.status).toBe(412);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const otherPrecondition = await api.call('POST', `/payments/${id}/cancel`, { key: KEYS.acme, body: { reason: 'r' }, headers: { 'idempotency-key': key, 'if-match': '"1"' } });
    expect(otherPrecondition.status).toBe(422);
  });
});

describe.each(sqlEngines())('Idempotency-Key on the operator desk on %s', (engine) => {
  let ops: OpsApi;
  beforeAll(async () => {
    ops = await startOpsApi(engine);
  });
  afterEach(async () => {
    ops.setClockOffset(0);
    await ops.bank.heal();
  });
  afterAll(() => ops.close());

  async function parked(): Promise<string> {
    await ops.bank.setFaults({ outage: true });
    const id = newId('parked');
    await ops.harness.requestPayment(id);
    await ops.harness.waitForStatus(id, ['unknown'], 15_000);
    return id;
  }
  const resolveBody = { outcome: 'rejected', reason: 'bank statement shows nothing', evidence: 'statement 2026-12-01' };

  it('when 20 identical resolves with one key arrive at once while the bank is down, then one proposal; every answer is it (once fresh, else replayed) or 409 in flight', async () => {
    const id = await parked();
    const key = randomUUID();
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => ops.call('POST', `/ops/payments/${TENANT}/${id}/resolve`, KEYS.operator, resolveBody, { 'idempotency-key': key })),
    );
    const proposals = await proposalsFor(ops.harness.store, id);
    expect(proposals).toHaveLength(1);
    const fresh = answers.filter((answer) => answer.status === 202 && answer.headers.get('idempotent-replayed') === null);
    expect(fresh).toHaveLength(1);
    for (const answer of answers) {
      expect([202, 409]).toContain(answer.status);
      const body = (await answer.json()) as Json;
      if (answer.status === 202) expect(body['approval']['id']).toBe(proposals[0]);
      else {
        expect(body).toMatchObject({ type: '/problems/idempotency-key-in-flight' });
        expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
      }
    }
    const replayed = await ops.call('POST', `/ops/payments/${TENANT}/${id}/resolve`, KEYS.operator, resolveBody, { 'idempotency-key': key });
    expect(replayed.status).toBe(202);
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    expect(replayed.headers.get('location')).toBe(`/ops/approvals/${proposals[0]}`);
    // The control: without a key, each resolve during the outage is a proposal of its own.
    await ops.bank.setFaults({ outage: true });
    await ops.call('POST', `/ops/payments/${TENANT}/${id}/resolve`, KEYS.operator, resolveBody);
    expect(await proposalsFor(ops.harness.store, id)).toHaveLength(2);
  });

  it('when approve or reject comes without a key, then 400 idempotency-key-missing and nothing is decided; with one, a repeat is replayed; another supervisor\'s same key is theirs', async () => {
    const id = await parked();
    const proposed = await ops.call('POST', `/ops/payments/${TENANT}/${id}/resolve`, KEYS.operator, resolveBody, { 'idempotency-key': randomUUID() });
    expect(proposed.status).toBe(202);
    const approvalId = ((await proposed.json()) as Json)['approval']['id'];
    const path = `/ops/approvals/${approvalId}`;
    for (const decision of ['approve', 'reject']) {
      const missing = await ops.call('POST', `${path}/${decision}`, KEYS.supervisor, { reason: 'checked' });
      expect(missing.status).toBe(400);
      expect(await missing.json()).toMatchObject({ type: '/problems/idempotency-key-missing' });
    }
    const approvalStream = `approval-${approvalId}`;
    expect((await ops.harness.store.readStream(approvalStream)).map((event) => event.type)).toEqual(['ApprovalProposed']);

    const key = `decision-${randomUUID()}`;
    const approved = await ops.call('POST', `${path}/approve`, KEYS.supervisor, { reason: 'checked' }, { 'idempotency-key': key });
    expect(approved.status).toBe(200);
    const approvedBody = await approved.json();
    expect(approvedBody).toMatchObject({ status: 'approved', execution: { status: 'executed' } });
    const revisionAfter = (await ops.harness.store.readStream(approvalStream)).length;
    const again = await ops.call('POST', `${path}/approve`, KEYS.supervisor, { reason: 'checked' }, { 'idempotency-key': key });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual(approvedBody);
    expect((await ops.harness.store.readStream(approvalStream)).length).toBe(revisionAfter);

    const otherSupervisor = await ops.call('POST', `${path}/approve`, SECOND_SUPERVISOR_KEY, { reason: 'checked' }, { 'idempotency-key': key });
    expect(otherSupervisor.status).toBe(409);
    expect(otherSupervisor.headers.get('idempotent-replayed')).toBeNull();
    expect(await otherSupervisor.json()).toMatchObject({ type: '/problems/approval-already-decided' });
    expect((await ops.harness.store.readStream(paymentStreamName(TENANT, id as PaymentId))).filter((event) => event.type === 'PaymentResolvedByOperator')).toHaveLength(1);
  });
});

describe.each(sqlEngines())('Idempotency-Key while the first request is still running on %s', (engine) => {
  let ops: OpsApi;
  let silentBank: Awaited<ReturnType<typeof startSilentBank>>;
  beforeAll(async () => {
    silentBank = await startSilentBank();
    // The desk's bank never answers: each resolve waits out its 2 s timeout, and is in flight that long.
    ops = await startOpsApi(engine, { operatorBank: { url: silentBank.url, timeoutMs: 2_000 } });
  });
  afterEach(() => ops.setClockOffset(0));
  afterAll(async () => {
    await ops.close();
    await silentBank.close();
  });

  async function parked(): Promise<string> {
    await ops.bank.setFaults({ outage: true });
    const id = newId('inflight');
    await ops.harness.requestPayment(id);
    await ops.harness.waitForStatus(id, ['unknown'], 15_000);
    await ops.bank.heal();
    return id;
  }
  const resolveBody = { outcome: 'settled', bankTransferId: 'tr_FROM_STATEMENT', reason: 'statement shows it', evidence: 'statement line 3' };

  async function untilClaimed(countBefore: number): Promise<void> {
    const deadline = Date.now() + 5_000;
    while ((await claimStreamEvents(ops.harness.store)).filter((event) => event.type === 'IdempotencyKeyClaimed').length <= countBefore) {
      if (Date.now() > deadline) throw new Error('the first request never claimed its key');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  const claimCount = async () => (await claimStreamEvents(ops.harness.store)).filter((event) => event.type === 'IdempotencyKeyClaimed').length;

  it('when the same request comes while the first still runs, then 409 idempotency-key-in-flight with Retry-After; afterwards, the first answer replayed', async () => {
    const id = await parked();
    const key = randomUUID();
    const send = () => ops.call('POST', `/ops/payments/${TENANT}/${id}/resolve`, KEYS.operator, resolveBody, { 'idempotency-key': key });
    const before = await claimCount();
    const first = send();
    await untilClaimed(before);
    const second = await send();
    expect(second.status).toBe(409);
    expect(await second.json()).toMatchObject({ type: '/problems/idempotency-key-in-flight' });
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const firstAnswer = await first;
    expect(firstAnswer.status).toBe(202);
    const third = await send();
    expect(third.status).toBe(202);
    expect(third.headers.get('idempotent-replayed')).toBe('true');
    expect(((await third.json()) as Json)['approval']['id']).toBe(((await firstAnswer.json()) as Json)['approval']['id']);
  });

  it('when a claim is older than the in-flight bound without an answer (its process presumed dead), then the next request takes it over, and the action still happens once', async () => {
    const id = await parked();
    const key = randomUUID();
    const send = () => ops.call('POST', `/ops/payments/${TENANT}/${id}/resolve`, KEYS.operator, resolveBody, { 'idempotency-key': key });
    const before = await claimCount();
    const stalled = send();
    await untilClaimed(before);
    ops.setClockOffset(IDEMPOTENCY_IN_FLIGHT_MS_FOR_TESTS + 1_000);
    const takenOver = await send();
    expect(takenOver.status).toBe(202);
    const stalledAnswer = await stalled;
    expect(stalledAnswer.status).toBe(202);
    // Both ran the resolve; the claim's id made them one proposal.
    const proposals = await proposalsFor(ops.harness.store, id);
    expect(proposals).toHaveLength(1);
    const takeOvers = (await claimStreamEvents(ops.harness.store)).filter((event) => event.type === 'IdempotencyKeyClaimed' && event.data['tookOver'] !== null);
    expect(takeOvers).toHaveLength(1);
    const replayed = await send();
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    expect(((await replayed.json()) as Json)['approval']['id']).toBe(proposals[0]);
  });
});
