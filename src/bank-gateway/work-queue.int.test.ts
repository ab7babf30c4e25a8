import { randomUUID } from 'node:crypto';
import { paymentStreamName, type PaymentId, type TenantId } from '../domain/ids';
import type { RecordedEvent } from '../event-store/port';
import { openTestDatabase, sqlEngines } from '../../test/support/databases';
import { applyBatch, readFeederCheckpoint } from './work-feeder';
import { createWorkQueue, migrateWorkQueue, type WorkQueue } from './work-queue';

const LEASE_MS = 60_000;
let commit = 100n;

function recorded(paymentId: string, revision: number, type: string, data: Record<string, unknown> = {}): RecordedEvent {
  commit += 1n;
  return {
    id: randomUUID(),
    type,
    data: data as RecordedEvent['data'],
    metadata: {},
    streamName: paymentStreamName('acme' as TenantId, paymentId as PaymentId),
    revision,
    position: { commit, prepare: commit },
    recordedAt: new Date(),
  };
}

describe.each(sqlEngines())('gateway work queue on %s', (engine) => {
  let database: Awaited<ReturnType<typeof openTestDatabase>>;
  let queue: WorkQueue;

  beforeAll(async () => {
    database = await openTestDatabase(engine);
    queue = createWorkQueue(database, { migrate: migrateWorkQueue });
    await queue.migrate();
    await queue.migrate();
  });
  afterAll(() => database.dispose());

  const id = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;
  const row = (paymentId: string) => queue.get('acme' as TenantId, paymentId as PaymentId);

  it('when a payment is requested, then one pending row is due and the checkpoint moved in the same batch', async () => {
    const paymentId = id('fed');
    const event = recorded(paymentId, 0, 'PaymentRequested');
    const position = await applyBatch(database, [event]);
    expect(position).toEqual(event.position);
    expect(await readFeederCheckpoint(database)).toEqual(event.position);
    expect(await row(paymentId)).toMatchObject({ status: 'pending', paymentStatus: 'requested', streamRevision: 0 });
  });

  it('when a batch is replayed, then nothing changes (events at or before the checkpoint are skipped)', async () => {
    const paymentId = id('replay');
    const events = [recorded(paymentId, 0, 'PaymentRequested'), recorded(paymentId, 1, 'BankSubmissionStarted', { attempt: 1 }), recorded(paymentId, 2, 'PaymentSettled')];
    await applyBatch(database, events);
    await applyBatch(database, events.slice(0, 2));
    expect(await row(paymentId)).toMatchObject({ status: 'done', paymentStatus: 'settled', attempts: 1, streamRevision: 2 });
  });

  it('when two gateways claim at once, then each due row goes to exactly one of them', async () => {
    const ids = Array.from({ length: 12 }, () => id('race'));
    await applyBatch(database, ids.map((paymentId) => recorded(paymentId, 0, 'PaymentRequested')));
    const [first, second] = await Promise.all([queue.claim('g1', 50, LEASE_MS), queue.claim('g2', 50, LEASE_MS)]);
    const claimed = [...first, ...second].map((claim) => claim.item.paymentId).filter((paymentId) => ids.includes(paymentId));
    expect(claimed.sort()).toEqual([...ids].sort());
    expect(await queue.claim('g3', 50, LEASE_MS)).toEqual([]);
    for (const claim of [...first, ...second]) await queue.release(claim, 0);
  });

  it('when a lease expired and another gateway took the row, then the first can neither renew, release nor complete it', async () => {
    const paymentId = id('zombie');
    await applyBatch(database, [recorded(paymentId, 0, 'PaymentRequested')]);
    const [zombie] = (await queue.claim('zombie', 100, 50)).filter((claim) => claim.item.paymentId === paymentId);
    await new Promise((resolve) => setTimeout(resolve, 120));
    const [successor] = (await queue.claim('successor', 100, LEASE_MS)).filter((claim) => claim.item.paymentId === paymentId);
    expect(zombie && successor).toBeTruthy();
    expect(await queue.renew(zombie!, LEASE_MS)).toBe(false);
    expect(await queue.release(zombie!, 0)).toBe(false);
    expect(await queue.settle(zombie!, 'done', 'settled', 5)).toBe(false);
    expect(await row(paymentId)).toMatchObject({ status: 'pending', leaseOwner: 'successor' });
    expect(await queue.renew(successor!, LEASE_MS)).toBe(true);
    expect(await queue.release(successor!, 60_000, 'bank busy')).toBe(true);
    expect(await row(paymentId)).toMatchObject({ leaseOwner: null, lastError: 'bank busy' });
  });

  it('when a row is released with a delay, then it is not claimable before it is due', async () => {
    const paymentId = id('later');
    await applyBatch(database, [recorded(paymentId, 0, 'PaymentRequested')]);
    const claim = (await queue.claim('g1', 100, LEASE_MS)).find((candidate) => candidate.item.paymentId === paymentId)!;
    await queue.release(claim, 60_000);
    expect((await queue.claim('g1', 100, LEASE_MS)).some((candidate) => candidate.item.paymentId === paymentId)).toBe(false);
    await queue.wake('acme' as TenantId, paymentId as PaymentId);
    const again = (await queue.claim('g1', 100, LEASE_MS)).find((candidate) => candidate.item.paymentId === paymentId);
    expect(again?.item.claimsInWindow).toBe(2);
    await queue.release(again!, 60_000);
  });

  it('when parked, then listed for operators; when an operator retries, then due again with a fresh window', async () => {
    const paymentId = id('parked');
    await applyBatch(database, [
      recorded(paymentId, 0, 'PaymentRequested'),
      recorded(paymentId, 1, 'BankSubmissionStarted', { attempt: 1 }),
      recorded(paymentId, 2, 'BankAttemptFailed', { attempt: 1, error: 'timeout' }),
      recorded(paymentId, 3, 'BankOutcomeUnknown', { attempts: 1, lastError: 'retry window exhausted' }),
    ]);
    const parked = await queue.list({ status: 'parked', limit: 100 });
    expect(parked.find((item) => item.paymentId === paymentId)).toMatchObject({ status: 'parked', paymentStatus: 'unknown', attempts: 1, lastError: 'retry window exhausted' });
    expect((await queue.list({ status: 'unknown', limit: 100 })).some((item) => item.paymentId === paymentId)).toBe(true);
    await applyBatch(database, [recorded(paymentId, 4, 'OperatorRetryRequested')]);
    expect(await row(paymentId)).toMatchObject({ status: 'pending', paymentStatus: 'submitted', windowStartedAt: null, claimsInWindow: 0 });
    const claim = (await queue.claim('g1', 100, LEASE_MS)).find((candidate) => candidate.item.paymentId === paymentId);
    expect(claim).toBeDefined();
    await queue.settle(claim!, 'done', 'settled', 6);
  });

  it('when a gateway completes a row, then a lagging feeder replaying older events cannot move it back', async () => {
    const paymentId = id('lag');
    await applyBatch(database, [recorded(paymentId, 0, 'PaymentRequested')]);
    const claim = (await queue.claim('g1', 100, LEASE_MS)).find((candidate) => candidate.item.paymentId === paymentId)!;
    expect(await queue.settle(claim, 'done', 'settled', 2)).toBe(true);
    await applyBatch(database, [recorded(paymentId, 1, 'BankSubmissionStarted', { attempt: 1 })]);
    expect(await row(paymentId)).toMatchObject({ status: 'done', paymentStatus: 'settled', streamRevision: 2 });
  });

  it('when listing page by page, then every row comes once in key order', async () => {
    const ids = Array.from({ length: 5 }, (_, index) => `page-${index}-${randomUUID().slice(0, 4)}`);
    await applyBatch(database, ids.flatMap((paymentId) => [recorded(paymentId, 0, 'PaymentRequested'), recorded(paymentId, 1, 'BankOutcomeUnknown', { attempts: 0, lastError: 'x' })]));
    const seen: string[] = [];
    let after: { tenantId: string; paymentId: string } | undefined;
    for (let page = 0; page < 20; page += 1) {
      const items = await queue.list({ status: 'parked', limit: 2, ...(after ? { after } : {}) });
      if (items.length === 0) break;
      seen.push(...items.map((item) => item.paymentId));
      const last = items[items.length - 1]!;
      after = { tenantId: last.tenantId, paymentId: last.paymentId };
    }
    expect(seen.filter((paymentId) => ids.includes(paymentId))).toEqual([...ids].sort());
    expect(new Set(seen).size).toBe(seen.length);
  });
});
