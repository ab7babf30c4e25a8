/**
 * The sandbox bank's refunds through real HTTP on a real ledger (in-memory
 * PGlite, and server PostgreSQL when it runs): idempotency as for transfers,
 * lookups and the listing, the bank refusing to refund more than is left
 * (also when refunds race), and every fault of the switchboard.
 */
import { createTestSchema, sqlEngines } from '../../test/support/databases';
import { MAGIC_CREDITOR_IBANS } from './magic-ibans';
import { REPLAY_HEADER } from './routes';
import type { LedgerStorage } from './server';
import { startSandboxBankForTests, type RefundView, type SandboxBankForTests, type TransferView } from './testing';

const PROBLEM = 'application/problem+json';
let sequence = 0;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = async (response: Response): Promise<any> => response.json();
const unique = (scenario: string) => `${scenario}-${Date.now().toString(36)}-${(sequence += 1)}`;

async function openStorage(engine: 'pglite' | 'postgres'): Promise<{ storage: LedgerStorage; drop(): Promise<void> }> {
  if (engine === 'pglite') return { storage: { kind: 'memory' }, drop: async () => undefined };
  const schema = await createTestSchema();
  return { storage: { kind: 'postgres', url: schema.url, schema: schema.schema }, drop: schema.drop };
}

describe.each(sqlEngines())('sandbox bank refunds over HTTP on %s', (engine) => {
  let bank: SandboxBankForTests;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const opened = await openStorage(engine);
    drop = opened.drop;
    bank = await startSandboxBankForTests({ storage: opened.storage, seed: 11 });
  });
  afterEach(() => bank.heal());
  afterAll(async () => {
    await bank.close();
    await drop();
  });

  const post = (path: string, idempotencyKey: string | undefined, body: unknown) =>
    fetch(`${bank.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bank.apiKey}`, 'content-type': 'application/json', ...(idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey }) },
      body: JSON.stringify(body),
    });
  const get = (path: string) => fetch(`${bank.url}${path}`, { headers: { authorization: `Bearer ${bank.apiKey}` } });

  async function transfer(amountMinor = 10_000, creditorIban = 'GB82WEST12345698765432'): Promise<TransferView> {
    const endToEndId = unique('T');
    const response = await post('/v1/transfers', `key-${endToEndId}`, {
      amountMinor,
      currency: 'EUR',
      debtor: { name: 'Acme Ltd', iban: 'DE89370400440532013000' },
      creditor: { name: 'Bob', iban: creditorIban },
      endToEndId,
    });
    expect(response.status).toBe(201);
    return (await response.json()) as TransferView;
  }
  const refund = (transferId: string, amountMinor: number, endToEndId = unique('R'), key = `rkey-${endToEndId}`) =>
    post('/v1/refunds', key, { transferId, amountMinor, currency: 'EUR', endToEndId });

  it('when a refund is new, then 201 with Location; a lookup by id and by end-to-end id finds it', async () => {
    const original = await transfer();
    const endToEndId = unique('R');
    const response = await refund(original.id, 2_500, endToEndId);
    expect(response.status).toBe(201);
    const body = (await response.json()) as RefundView;
    expect(body).toMatchObject({ status: 'accepted', transferId: original.id, endToEndId, amountMinor: 2_500, currency: 'EUR' });
    expect(body.id).toMatch(/^rf_/);
    expect(response.headers.get('location')).toBe(`/v1/refunds/${body.id}`);
    expect(await (await get(`/v1/refunds/${body.id}`)).json()).toEqual(body);
    const byReference = (await (await get(`/v1/refunds?endToEndId=${encodeURIComponent(endToEndId)}`)).json()) as { items: RefundView[] };
    expect(byReference.items).toEqual([body]);
    expect((await get('/v1/refunds/rf_nope')).status).toBe(404);
  });

  it('when the same request is retried with its key, then the stored answer replays and no second refund exists; another request with the key is 422', async () => {
    const original = await transfer();
    const endToEndId = unique('R');
    const first = await refund(original.id, 1_000, endToEndId, `k-${endToEndId}`);
    const again = await refund(original.id, 1_000, endToEndId, `k-${endToEndId}`);
    expect(again.status).toBe(201);
    expect(again.headers.get(REPLAY_HEADER)).toBe('true');
    expect(await again.json()).toEqual(await first.json());
    const other = await refund(original.id, 1_001, endToEndId, `k-${endToEndId}`);
    expect(other.status).toBe(422);
    expect(other.headers.get('content-type')).toContain(PROBLEM);
    expect((await json(other)).type).toBe('/problems/idempotency-key-reused');
    expect(await bank.refundsFor(endToEndId)).toHaveLength(1);
  });

  it('when two requests with one key overlap, then one executes and the other is 409 in flight', async () => {
    const original = await transfer();
    await bank.setFaults({ latencyMs: 300 });
    const endToEndId = unique('R');
    const [a, b] = await Promise.all([refund(original.id, 100, endToEndId, `k-${endToEndId}`), refund(original.id, 100, endToEndId, `k-${endToEndId}`)]);
    expect([a.status, b.status].sort()).toEqual([201, 409]);
    const conflict = a.status === 409 ? a : b;
    expect(conflict.headers.get('retry-after')).toBe('1');
    expect(await bank.refundsFor(endToEndId)).toHaveLength(1);
  });

  it('when a refund asks for more than is left on the transfer, then it is recorded as rejected (AM02), and a rejected transfer is never refunded', async () => {
    const original = await transfer(5_000);
    expect((await refund(original.id, 3_000)).status).toBe(201);
    const tooMuch = (await (await refund(original.id, 2_001)).json()) as RefundView;
    expect(tooMuch).toMatchObject({ status: 'rejected', rejectionReason: expect.stringMatching(/^AM02 /) });
    expect(((await (await refund(original.id, 2_000)).json()) as RefundView).status).toBe('accepted');

    const rejectedTransfer = await transfer(5_000, MAGIC_CREDITOR_IBANS.accountClosed.iban);
    expect(rejectedTransfer.status).toBe('rejected');
    expect(((await (await refund(rejectedTransfer.id, 1)).json()) as RefundView)).toMatchObject({ status: 'rejected', rejectionReason: expect.stringMatching(/^AG01 /) });
  });

  it('when 20 refunds race on one transfer, then the accepted ones never exceed it', async () => {
    const original = await transfer(10_000);
    const answers = await Promise.all(Array.from({ length: 20 }, () => refund(original.id, 700)));
    expect(answers.every((answer) => answer.status === 201)).toBe(true);
    const all = (await bank.allRefunds()).filter((item) => item.transferId === original.id);
    const accepted = all.filter((item) => item.status === 'accepted');
    expect(all).toHaveLength(20);
    expect(accepted).toHaveLength(14);
    expect(accepted.reduce((sum, item) => sum + item.amountMinor, 0)).toBe(9_800);
  });

  it('when the transfer does not exist or the currency differs, then 422 and nothing is recorded; a bad request is 400 listing every problem', async () => {
    const endToEndId = unique('R');
    const missing = await refund('tr_missing', 100, endToEndId);
    expect(missing.status).toBe(422);
    expect((await json(missing)).type).toBe('/problems/transfer-not-found');
    const original = await transfer();
    const currency = await post('/v1/refunds', `k-${unique('c')}`, { transferId: original.id, amountMinor: 1, currency: 'USD', endToEndId });
    expect(currency.status).toBe(422);
    expect((await json(currency)).type).toBe('/problems/currency-mismatch');
    const bad = await post('/v1/refunds', undefined, { transferId: '', amountMinor: 1.5, currency: 'eur', endToEndId: 'x'.repeat(36), extra: 1 });
    expect(bad.status).toBe(400);
    const pointers = ((await json(bad)).errors as Array<{ pointer: string }>).map((error) => error.pointer).sort();
    expect(pointers).toEqual(['#/header/idempotency-key', '/amountMinor', '/currency', '/endToEndId', '/extra', '/transferId']);
    expect(await bank.refundsFor(endToEndId)).toHaveLength(0);
  });

  it('when the bank fails before executing, then 503 and no refund; after committing, then 500 or a dropped connection, and the refund is there to look up', async () => {
    const original = await transfer();
    await bank.setFaults({ errorBeforeRate: 1 });
    const before = unique('R');
    expect((await refund(original.id, 100, before)).status).toBe(503);
    expect(await bank.refundsFor(before)).toHaveLength(0);

    await bank.setFaults({ errorBeforeRate: 0, errorAfterRate: 1 });
    const after = unique('R');
    expect((await refund(original.id, 100, after)).status).toBe(500);
    expect(await bank.refundsFor(after)).toHaveLength(1);

    await bank.setFaults({ errorAfterRate: 0, dropAfterCommitRate: 1 });
    const dropped = unique('R');
    await expect(refund(original.id, 100, dropped)).rejects.toThrow();
    await bank.heal();
    const found = (await (await get(`/v1/refunds?endToEndId=${encodeURIComponent(dropped)}`)).json()) as { items: RefundView[] };
    expect(found.items).toHaveLength(1);
    // The client's error is the drop, not some other failure: the bank logged dropping this refund's answer.
    expect(bank.injectedFaults()).toContainEqual(expect.objectContaining({ fault: 'drop-after-commit', refundId: found.items[0]!.id }));
    // The retry with the same key replays the refund the dropped connection never delivered.
    const retry = await refund(original.id, 100, dropped);
    expect(retry.headers.get(REPLAY_HEADER)).toBe('true');
    expect(((await retry.json()) as RefundView).id).toBe(found.items[0]!.id);
  });

  it('when lookups fail or the bank is out, then 503 with Retry-After, and the back office still lists', async () => {
    const original = await transfer();
    const endToEndId = unique('R');
    expect((await refund(original.id, 100, endToEndId)).status).toBe(201);
    await bank.setFaults({ lookupErrorRate: 1 });
    expect((await get(`/v1/refunds?endToEndId=${endToEndId}`)).status).toBe(503);
    await bank.setFaults({ lookupErrorRate: 0, outage: true });
    const out = await refund(original.id, 100);
    expect(out.status).toBe(503);
    expect(out.headers.get('retry-after')).toBe('1');
    expect(await bank.refundsFor(endToEndId)).toHaveLength(1);
  });

  it('when a key is past its TTL, then the same key makes a new refund: lookups by end-to-end id still find the first', async () => {
    const original = await transfer();
    const endToEndId = unique('R');
    expect((await refund(original.id, 100, endToEndId, `k-${endToEndId}`)).status).toBe(201);
    await bank.setFaults({ idempotencyTtlMs: 1 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = await refund(original.id, 100, endToEndId, `k-${endToEndId}`);
    expect(second.headers.get(REPLAY_HEADER)).toBeNull();
    expect(await bank.refundsFor(endToEndId)).toHaveLength(2);
  });

  it('when the listing is paged, then every refund appears once, oldest first', async () => {
    const original = await transfer();
    for (let index = 0; index < 5; index += 1) expect((await refund(original.id, 10)).status).toBe(201);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: RefundView[]; nextCursor: string | null } = await json(await get(`/v1/refunds?transferId=${original.id}&limit=2${cursor ? `&cursor=${cursor}` : ''}`));
      seen.push(...page.items.map((item) => item.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);
    expect([...seen].sort()).toEqual(seen);
  });
});
