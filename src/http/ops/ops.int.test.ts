/**
 * The operator routes through real HTTP, with a real gateway, the sandbox bank
 * and a real store: parked payments are listed, retried (lookup first) and
 * resolved, every action an audited event.
 */
import type { PaymentId } from '../../domain/ids';
import { KEYS } from '../../../test/support/api';
import { sqlEngines } from '../../../test/support/databases';
import { TENANT, type GatewayHarness } from '../../bank-gateway/testing/harness';
import type { SandboxBankForTests } from '../../bank-sandbox/testing';
import { startOpsApi, type OpsApi } from './testing';

const PROBLEM = 'application/problem+json';
let sequence = 0;
const newId = (scenario: string) => `${scenario}-${Date.now().toString(36)}-${(sequence += 1)}`;

describe.each(sqlEngines())('operator API over HTTP on %s', (engine) => {
  let ops: OpsApi;
  let bank: SandboxBankForTests;
  let harness: GatewayHarness;
  let call: OpsApi['call'];

  beforeAll(async () => {
    ops = await startOpsApi(engine);
    ({ bank, harness, call } = ops);
  });
  afterEach(() => bank.heal());
  afterAll(() => ops.close());

  /** A payment parked as unknown while the bank is down (nothing executed). */
  async function parkedDuringOutage(): Promise<string> {
    await bank.setFaults({ outage: true });
    const id = newId('parked');
    await harness.requestPayment(id);
    await harness.waitForStatus(id, ['unknown'], 15_000);
    return id;
  }

  /**
   * A payment the bank executed, then parked because every answer was lost:
   * the submission's connection drops after the commit and every lookup fails,
   * so the gateway can neither see the transfer nor (rightly) submit again.
   */
  async function parkedAfterExecution(): Promise<string> {
    await bank.setFaults({ dropAfterCommitRate: 1, lookupErrorRate: 1 });
    const id = newId('executed');
    await harness.requestPayment(id);
    await harness.waitForStatus(id, ['unknown'], 15_000);
    expect(await harness.transfersFor(id)).toHaveLength(1);
    return id;
  }

  it('when payments are parked, then operators list them with attempts and the last error', async () => {
    const id = await parkedDuringOutage();
    await bank.heal();
    const response = await call('GET', '/ops/payments?status=unknown&limit=100', KEYS.operator);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { items: Array<Record<string, unknown>> };
    expect(body.items.find((item) => item['id'] === id)).toMatchObject({ tenant: TENANT, status: 'unknown', queueStatus: 'parked', lastError: expect.stringMatching(/.+/) });
    const parked = (await (await call('GET', '/ops/payments?status=parked', KEYS.supervisor)).json()) as { items: Array<Record<string, unknown>> };
    expect(parked.items.some((item) => item['id'] === id)).toBe(true);
  });

  it('when the query is wrong, then 400 lists every bad parameter', async () => {
    const response = await call('GET', '/ops/payments?status=lost&limit=0&colour=red&cursor=***', KEYS.operator);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain(PROBLEM);
    const pointers = ((await response.json()) as { errors: Array<{ pointer: string }> }).errors.map((error) => error.pointer).sort();
    expect(pointers).toEqual(['#/query/colour', '#/query/cursor', '#/query/limit', '#/query/status']);
  });

  const problems = async (response: Response) => ((await response.json()) as { errors: Array<{ pointer: string; detail: string }> }).errors;
  const cursorOf = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

  it.each(['1e1', '0x10', '%201', '1.0', '-1', '101'])('when limit=%s, then 400 with its one problem, as on /payments', async (limit) => {
    const response = await call('GET', `/ops/payments?limit=${limit}`, KEYS.operator);
    expect(response.status).toBe(400);
    expect(await problems(response)).toEqual([{ pointer: '#/query/limit', detail: 'must be a whole number from 1 to 100' }]);
  });

  it.each([
    ['a NUL character in the tenant', '["acme\\u0000","x"]'],
    ['an id outside the id pattern', '["acme","x y"]'],
    ['a part too few', '["acme"]'],
    ['a part that is not a string', '["acme",7]'],
    ['the same key spelled otherwise', '[ "acme", "x" ]'],
  ])('when the list cursor holds %s, then 400 naming the cursor', async (_case, json) => {
    const response = await call('GET', `/ops/payments?cursor=${cursorOf(json)}`, KEYS.operator);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain(PROBLEM);
    expect(await problems(response)).toEqual([{ pointer: '#/query/cursor', detail: 'must be a cursor returned by a previous page' }]);
  });

  it('when an operator pages one payment at a time, then each parked payment comes once and the cursors given out are accepted', async () => {
    // Two of its own, so the paging is tested whatever earlier tests left parked.
    const ids = [await parkedDuringOutage(), await parkedDuringOutage()];
    await bank.heal();
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const response = await call('GET', `/ops/payments?status=unknown&limit=1${cursor ? `&cursor=${cursor}` : ''}`, KEYS.operator);
      expect(response.status).toBe(200);
      const body = (await response.json()) as { items: Array<{ id: string }>; nextCursor: string | null };
      seen.push(...body.items.map((item) => item.id));
      cursor = body.nextCursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining(ids));
  });

  it('when there is no key, then 401; when the role is client or analyst, then 403', async () => {
    expect((await call('GET', '/ops/payments', undefined)).status).toBe(401);
    expect((await call('GET', '/ops/payments', KEYS.acme)).status).toBe(403);
    expect((await call('POST', '/ops/payments/acme/x/retry', KEYS.analyst, { reason: 'r' })).status).toBe(403);
  });

  it('when an operator retries a payment the bank never executed, then the retry is recorded and the gateway settles it once with the same key', async () => {
    const id = await parkedDuringOutage();
    await bank.heal();
    const response = await call('POST', `/ops/payments/${TENANT}/${id}/retry`, KEYS.operator, { reason: 'bank outage INC-1 is over' });
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ action: 'retry-requested', lookup: { result: 'not-found' } });
    await harness.waitForStatus(id, ['settled'], 15_000);
    expect(await harness.transfersFor(id)).toHaveLength(1);
    const events = await harness.store.readStream(`payment-${TENANT}:${id}`);
    const retry = events.find((event) => event.type === 'OperatorRetryRequested')!;
    expect(retry.data).toMatchObject({ reason: 'bank outage INC-1 is over', operator: expect.stringContaining('operator:'), bankLookup: { result: 'not-found', bankTransferId: null } });
    expect(retry.metadata['principal']).toMatchObject({ kind: 'staff', role: 'operator' });
    const keys = new Set(events.filter((event) => event.type === 'BankSubmissionStarted').map((event) => event.data['idempotencyKey']));
    expect(keys.size).toBe(1);
  });

  it('when an operator retries a payment the bank did execute, then the lookup finds it and the outcome is recorded at once, without a second transfer', async () => {
    const id = await parkedAfterExecution();
    await bank.heal();
    const [transfer] = await harness.transfersFor(id);
    const response = await call('POST', `/ops/payments/${TENANT}/${id}/retry`, KEYS.operator, { reason: 'check the bank' });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ action: 'resolved-from-bank', lookup: { result: 'accepted', bankTransferId: transfer!.id }, payment: { status: 'settled' } });
    const state = (await harness.payments.getPayment(TENANT, id as PaymentId))!.state;
    expect(state).toMatchObject({ status: 'settled', bankTransferId: transfer!.id, resolvedBy: expect.stringContaining('operator:') });
    expect(await harness.transfersFor(id)).toHaveLength(1);
  });

  it('when an operator resolves a parked payment, then it is final with the evidence audited; the same resolve again changes nothing', async () => {
    const id = await parkedDuringOutage();
    await bank.heal();
    const body = { outcome: 'rejected', reason: 'bank confirms no transfer', evidence: 'call with bank ops, ticket 5521' };
    const first = await call('POST', `/ops/payments/${TENANT}/${id}/resolve`, KEYS.supervisor, body);
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ status: 'rejected', rejectionReason: 'bank confirms no transfer' });
    const again = await call('POST', `/ops/payments/${TENANT}/${id}/resolve`, KEYS.supervisor, body);
    expect(again.status).toBe(200);
    const events = await harness.store.readStream(`payment-${TENANT}:${id}`);
    const resolutions = events.filter((event) => event.type === 'PaymentResolvedByOperator');
    expect(resolutions).toHaveLength(1);
    expect(resolutions[0]!.data).toMatchObject({ outcome: 'rejected', evidence: 'call with bank ops, ticket 5521', operator: expect.stringContaining('supervisor:') });
    expect(await harness.transfersFor(id)).toHaveLength(0);
  });

  it('when the resolve body is wrong, then 400 lists every problem', async () => {
    const response = await call('POST', `/ops/payments/${TENANT}/whatever/resolve`, KEYS.operator, { outcome: 'settled', reason: '', extra: 1 });
    expect(response.status).toBe(400);
    const pointers = ((await response.json()) as { errors: Array<{ pointer: string }> }).errors.map((error) => error.pointer).sort();
    expect(pointers).toEqual(['/bankTransferId', '/evidence', '/extra', '/reason']);
  });

  it('when the payment does not exist, then 404; when it is not parked, then 409', async () => {
    expect((await call('POST', `/ops/payments/${TENANT}/no-such-payment/retry`, KEYS.operator, { reason: 'r' })).status).toBe(404);
    expect((await call('POST', `/ops/payments/${TENANT}/no-such-payment/resolve`, KEYS.operator, { outcome: 'rejected', reason: 'r', evidence: 'e' })).status).toBe(404);
    const id = newId('settled');
    await harness.requestPayment(id);
    await harness.waitForStatus(id, ['settled']);
    const retry = await call('POST', `/ops/payments/${TENANT}/${id}/retry`, KEYS.operator, { reason: 'r' });
    expect(retry.status).toBe(409);
    expect(retry.headers.get('content-type')).toContain(PROBLEM);
    const resolve = await call('POST', `/ops/payments/${TENANT}/${id}/resolve`, KEYS.operator, { outcome: 'rejected', reason: 'r', evidence: 'e' });
    expect(resolve.status).toBe(409);
  });
});
