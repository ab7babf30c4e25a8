/**
 * The sandbox bank through real HTTP on a real ledger: its idempotency
 * semantics, its listing, each fault as the client sees it, and a ledger that
 * survives a restart. Observed only through its API, as a bank's customer would.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestSchema, sqlEngines } from '../../test/support/databases';
import { MAGIC_CREDITOR_IBANS } from './magic-ibans';
import { REPLAY_HEADER } from './routes';
import type { LedgerStorage } from './server';
import { startSandboxBankForTests, type SandboxBankForTests, type TransferView } from './testing';

const PROBLEM = 'application/problem+json';
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let sequence = 0;
const unique = (scenario: string) => `${scenario}-${Date.now().toString(36)}-${(sequence += 1)}`;

function transferBody(endToEndId: string, overrides: Record<string, unknown> = {}) {
  return {
    amountMinor: 12_550,
    currency: 'EUR',
    debtor: { name: 'Acme Ltd', iban: 'DE89370400440532013000' },
    creditor: { name: 'Bob Supplier', iban: 'GB82WEST12345698765432' },
    endToEndId,
    remittanceInformation: `invoice ${endToEndId}`,
    ...overrides,
  };
}

function client(bank: SandboxBankForTests) {
  const submit = (idempotencyKey: string | undefined, body: unknown, key = bank.apiKey) =>
    fetch(`${bank.url}/v1/transfers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey }) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const get = (path: string, key = bank.apiKey) => fetch(`${bank.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
  /** The customer's lookup by end-to-end id (the tests' other view, `transfersFor`, is the back office's). */
  const lookup = async (endToEndId: string) => {
    const response = await get(`/v1/transfers?endToEndId=${encodeURIComponent(endToEndId)}`);
    expect(response.status).toBe(200);
    return ((await response.json()) as { items: TransferView[] }).items;
  };
  return { submit, get, lookup };
}

async function openStorage(engine: 'pglite' | 'postgres'): Promise<{ storage: LedgerStorage; drop(): Promise<void> }> {
  if (engine === 'pglite') return { storage: { kind: 'memory' }, drop: async () => undefined };
  const schema = await createTestSchema();
  return { storage: { kind: 'postgres', url: schema.url, schema: schema.schema }, drop: schema.drop };
}

describe.each(sqlEngines())('sandbox bank over HTTP on %s', (engine) => {
  let bank: SandboxBankForTests;
  let drop: () => Promise<void>;
  let submit: ReturnType<typeof client>['submit'];
  let get: ReturnType<typeof client>['get'];
  let lookup: ReturnType<typeof client>['lookup'];

  beforeAll(async () => {
    const opened = await openStorage(engine);
    drop = opened.drop;
    bank = await startSandboxBankForTests({ storage: opened.storage, seed: 7 });
    ({ submit, get, lookup } = client(bank));
  });
  afterEach(() => bank.heal());
  afterAll(async () => {
    await bank.close();
    await drop();
  });

  describe('transfers and idempotency', () => {
    it('when a transfer is submitted, then 201 with the accepted transfer, found by id and by end-to-end id', async () => {
      const endToEndId = unique('create');
      const response = await submit(unique('key'), transferBody(endToEndId));
      expect(response.status).toBe(201);
      expect(response.headers.get(REPLAY_HEADER)).toBeNull();
      const transfer = (await response.json()) as TransferView;
      expect(transfer).toMatchObject({ status: 'accepted', endToEndId, amountMinor: 12_550, currency: 'EUR', creditor: { iban: 'GB82WEST12345698765432' }, remittanceInformation: `invoice ${endToEndId}` });
      expect(transfer).not.toHaveProperty('rejectionReason');
      expect(response.headers.get('location')).toBe(`/v1/transfers/${transfer.id}`);
      expect(await (await get(`/v1/transfers/${transfer.id}`)).json()).toEqual(transfer);
      expect(await lookup(endToEndId)).toEqual([transfer]);
      expect(await bank.transfersFor(endToEndId)).toEqual([transfer]);
    });

    it('when the same key comes with the same body (in another key order), then the stored response again, marked as a replay, and still one transfer', async () => {
      const endToEndId = unique('replay');
      const key = unique('key');
      const first = await submit(key, transferBody(endToEndId));
      const firstText = await first.text();
      const { endToEndId: _e, ...rest } = transferBody(endToEndId);
      const again = await submit(key, { endToEndId, ...Object.fromEntries(Object.entries(rest).reverse()) });
      expect(again.status).toBe(201);
      expect(again.headers.get(REPLAY_HEADER)).toBe('true');
      expect(await again.text()).toBe(firstText);
      expect(await bank.transfersFor(endToEndId)).toHaveLength(1);
    });

    it('when the same key comes with a different body, then 422 problem and nothing executed', async () => {
      const endToEndId = unique('reused');
      const key = unique('key');
      await submit(key, transferBody(endToEndId));
      const response = await submit(key, transferBody(endToEndId, { amountMinor: 99 }));
      expect(response.status).toBe(422);
      expect(response.headers.get('content-type')).toContain(PROBLEM);
      expect(await response.json()).toMatchObject({ type: '/problems/idempotency-key-reused', status: 422 });
      expect(await bank.transfersFor(endToEndId)).toHaveLength(1);
    });

    it('when the same key comes while the first request is still in flight, then 409; once it lands, the key replays it', async () => {
      await bank.setFaults({ latencyMs: 800 });
      const endToEndId = unique('in-flight');
      const key = unique('key');
      const first = submit(key, transferBody(endToEndId));
      await pause(200);
      const second = await submit(key, transferBody(endToEndId));
      expect(second.status).toBe(409);
      expect(second.headers.get('content-type')).toContain(PROBLEM);
      expect(second.headers.get('retry-after')).toBe('1');
      // The lookup answers at once while the submission is held: nothing yet.
      expect(await lookup(endToEndId)).toHaveLength(0);
      const landed = await first;
      expect(landed.status).toBe(201);
      await bank.heal();
      const third = await submit(key, transferBody(endToEndId));
      expect(third.headers.get(REPLAY_HEADER)).toBe('true');
      expect(await bank.transfersFor(endToEndId)).toHaveLength(1);
    });

    it('when 50 requests with one key arrive at once, then exactly one transfer; the others see 409 or its replay', async () => {
      await bank.setFaults({ latencyMs: 200 });
      const endToEndId = unique('stampede');
      const key = unique('key');
      const responses = await Promise.all(Array.from({ length: 50 }, () => submit(key, transferBody(endToEndId))));
      const transfers = await bank.transfersFor(endToEndId);
      expect(transfers).toHaveLength(1);
      const fresh = responses.filter((response) => response.status === 201 && response.headers.get(REPLAY_HEADER) === null);
      expect(fresh).toHaveLength(1);
      for (const response of responses) expect([201, 409]).toContain(response.status);
      const ids = await Promise.all(responses.filter((response) => response.status === 201).map(async (response) => ((await response.json()) as TransferView).id));
      expect(new Set(ids)).toEqual(new Set([transfers[0]!.id]));
    });

    it('when the idempotency key expired, then the same key makes a new transfer, and the lookup by end-to-end id still finds the first', async () => {
      const endToEndId = unique('expired');
      const key = unique('key');
      const first = (await (await submit(key, transferBody(endToEndId))).json()) as TransferView;
      await bank.setFaults({ idempotencyTtlMs: 50 });
      await pause(120);
      // A different body would be 422 if the key were still remembered.
      const later = await submit(key, transferBody(unique('expired-other')));
      expect(later.status).toBe(201);
      expect(later.headers.get(REPLAY_HEADER)).toBeNull();
      expect(await lookup(endToEndId)).toEqual([first]);
    });

    it.each(Object.entries(MAGIC_CREDITOR_IBANS))('when the creditor is the magic IBAN for %s, then the transfer is rejected with its reason', async (_name, magic) => {
      const endToEndId = unique('magic');
      const response = await submit(unique('key'), transferBody(endToEndId, { creditor: { name: 'Magic', iban: magic.iban } }));
      expect(response.status).toBe(201);
      expect(await response.json()).toMatchObject({ status: 'rejected', rejectionReason: magic.reason, endToEndId });
      expect(await bank.transfersFor(endToEndId)).toEqual([expect.objectContaining({ status: 'rejected', rejectionReason: magic.reason })]);
    });
  });

  describe('refused requests', () => {
    it('when the key is missing and the body is wrong, then 400 lists every problem', async () => {
      const response = await submit(undefined, { ...transferBody('x'), amountMinor: 1.5, currency: 'euro', creditor: { name: '', iban: 'DE00 1234' }, colour: 'red' });
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toContain(PROBLEM);
      const pointers = ((await response.json()) as { errors: Array<{ pointer: string }> }).errors.map((error) => error.pointer).sort();
      expect(pointers).toEqual(['#/header/idempotency-key', '/amountMinor', '/colour', '/creditor/iban', '/creditor/name', '/currency']);
    });

    it('when the body is not JSON, then 415; when it is malformed JSON, then 400', async () => {
      const plain = await fetch(`${bank.url}/v1/transfers`, { method: 'POST', headers: { authorization: `Bearer ${bank.apiKey}`, 'idempotency-key': 'k', 'content-type': 'text/plain' }, body: 'hello' });
      expect(plain.status).toBe(415);
      expect((await submit('k', '{"amountMinor":')).status).toBe(400);
    });

    it('when the bearer key is missing or wrong, then 401; the admin key does not open /v1 nor the API key /admin', async () => {
      const missing = await fetch(`${bank.url}/v1/transfers`);
      expect(missing.status).toBe(401);
      expect(missing.headers.get('content-type')).toContain(PROBLEM);
      expect(missing.headers.get('www-authenticate')).toContain('Bearer');
      expect((await submit('k', transferBody('x'), 'wrong-key')).status).toBe(401);
      expect((await get('/v1/transfers', bank.adminKey)).status).toBe(401);
      expect((await get('/admin/faults', bank.apiKey)).status).toBe(401);
    });

    it('when the transfer id is unknown, then 404 problem', async () => {
      const response = await get('/v1/transfers/tr_nothing');
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toContain(PROBLEM);
    });
  });

  describe('reconciliation listing', () => {
    it('when all transfers are listed in small pages, then each appears once, in the order executed, and the last page has no cursor', async () => {
      const created: string[] = [];
      for (let index = 0; index < 5; index++) created.push(((await (await submit(unique('key'), transferBody(unique('list')))).json()) as TransferView).id);
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 1_000; page++) {
        const response = await get(`/v1/transfers?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        expect(response.status).toBe(200);
        const body = (await response.json()) as { items: TransferView[]; nextCursor: string | null };
        expect(body.items.length).toBeLessThanOrEqual(2);
        seen.push(...body.items.map((item) => item.id));
        cursor = body.nextCursor;
        if (cursor === null) break;
      }
      expect(cursor).toBeNull();
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.filter((id) => created.includes(id))).toEqual(created);
      expect(seen).toEqual((await bank.allTransfers()).map((transfer) => transfer.id));
    });

    it('when the paging parameters are wrong, then 400 names each', async () => {
      const response = await get('/v1/transfers?limit=101&cursor=bm90LWEtbnVtYmVy&colour=red');
      expect(response.status).toBe(400);
      const pointers = ((await response.json()) as { errors: Array<{ pointer: string }> }).errors.map((error) => error.pointer).sort();
      expect(pointers).toEqual(['#/query/colour', '#/query/cursor', '#/query/limit']);
    });
  });

  describe('faults, as the client sees them', () => {
    it('when a 503 strikes before executing, then nothing is executed and the key is free for the retry', async () => {
      await bank.setFaults({ errorBeforeRate: 1 });
      const endToEndId = unique('before');
      const key = unique('key');
      const failed = await submit(key, transferBody(endToEndId));
      expect(failed.status).toBe(503);
      expect(failed.headers.get('content-type')).toContain(PROBLEM);
      expect(await bank.transfersFor(endToEndId)).toHaveLength(0);
      await bank.heal();
      const retried = await submit(key, transferBody(endToEndId));
      expect(retried.status).toBe(201);
      expect(retried.headers.get(REPLAY_HEADER)).toBeNull();
      expect(await bank.transfersFor(endToEndId)).toHaveLength(1);
    });

    it('when a 500 strikes after executing, then the transfer exists and the retry replays it', async () => {
      await bank.setFaults({ errorAfterRate: 1 });
      const endToEndId = unique('after');
      const key = unique('key');
      const failed = await submit(key, transferBody(endToEndId));
      expect(failed.status).toBe(500);
      expect(failed.headers.get('content-type')).toContain(PROBLEM);
      const [transfer] = await bank.transfersFor(endToEndId);
      expect(transfer).toBeDefined();
      await bank.heal();
      const retried = await submit(key, transferBody(endToEndId));
      expect(retried.headers.get(REPLAY_HEADER)).toBe('true');
      expect(((await retried.json()) as TransferView).id).toBe(transfer!.id);
    });

    it('when the connection is dropped after the commit, then the client gets no answer, yet the transfer exists and the retry replays it', async () => {
      await bank.setFaults({ dropAfterCommitRate: 1 });
      const endToEndId = unique('drop');
      const key = unique('key');
      await expect(submit(key, transferBody(endToEndId))).rejects.toThrow();
      const [transfer] = await bank.transfersFor(endToEndId);
      expect(transfer).toBeDefined();
      // The client's error is the drop, not some other failure: the bank logged dropping this transfer's answer.
      expect(bank.injectedFaults()).toContainEqual(expect.objectContaining({ fault: 'drop-after-commit', transferId: transfer!.id }));
      await bank.heal();
      const retried = await submit(key, transferBody(endToEndId));
      expect(retried.headers.get(REPLAY_HEADER)).toBe('true');
      expect(((await retried.json()) as TransferView).id).toBe(transfer!.id);
    });

    it('when latency is added, then submissions take at least that long and lookups do not', async () => {
      await bank.setFaults({ latencyMs: 400 });
      const endToEndId = unique('slow');
      const started = Date.now();
      const submission = submit(unique('key'), transferBody(endToEndId));
      const lookupStarted = Date.now();
      await lookup(endToEndId);
      expect(Date.now() - lookupStarted).toBeLessThan(300);
      expect((await submission).status).toBe(201);
      expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    });

    it('when lookups fail, then GETs are 503 while submissions still execute; the back office still sees the transfer', async () => {
      await bank.setFaults({ lookupErrorRate: 1 });
      const endToEndId = unique('lookup-error');
      const posted = await submit(unique('key'), transferBody(endToEndId));
      expect(posted.status).toBe(201);
      const { id } = (await posted.json()) as TransferView;
      for (const path of [`/v1/transfers?endToEndId=${endToEndId}`, `/v1/transfers/${id}`]) {
        const response = await get(path);
        expect(response.status).toBe(503);
        expect(response.headers.get('content-type')).toContain(PROBLEM);
      }
      expect(await bank.transfersFor(endToEndId)).toEqual([expect.objectContaining({ id })]);
    });

    it('when the bank has an outage, then every /v1 request is 503 while the admin endpoints still answer', async () => {
      const executed = (await (await submit(unique('key'), transferBody(unique('before-outage')))).json()) as TransferView;
      await bank.setFaults({ outage: true });
      const posted = await submit(unique('key'), transferBody(unique('outage')));
      expect(posted.status).toBe(503);
      expect(posted.headers.get('content-type')).toContain(PROBLEM);
      expect((await get('/v1/transfers')).status).toBe(503);
      expect(await bank.faults()).toMatchObject({ outage: true });
      expect(await bank.transfersFor(executed.endToEndId)).toEqual([executed]);
      await bank.heal();
      expect((await get('/v1/transfers')).status).toBe(200);
    });

    it('when a partial rate is set with a seed, then the same seed strikes the same requests again', async () => {
      const pattern = async () => {
        await bank.setFaults({ errorBeforeRate: 0.5, seed: 42 });
        const statuses: number[] = [];
        for (let index = 0; index < 16; index++) statuses.push((await submit(unique('key'), transferBody(unique('dice')))).status);
        return statuses;
      };
      const first = await pattern();
      expect(first).toEqual(expect.arrayContaining([201, 503]));
      expect(await pattern()).toEqual(first);
    });

    it('when faults are patched, then only the named ones change; when replaced, then omitted faults are off; bad values are 400', async () => {
      await bank.setFaults({ latencyMs: 5, errorAfterRate: 0.25 });
      await bank.setFaults({ outage: true });
      expect(await bank.faults()).toEqual({ latencyMs: 5, errorBeforeRate: 0, errorAfterRate: 0.25, dropAfterCommitRate: 0, lookupErrorRate: 0, outage: true, idempotencyTtlMs: 86_400_000 });
      const replace = (body: unknown) =>
        fetch(`${bank.url}/admin/faults`, { method: 'PUT', headers: { authorization: `Bearer ${bank.adminKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(await (await replace({ dropAfterCommitRate: 0.5 })).json()).toEqual({ latencyMs: 0, errorBeforeRate: 0, errorAfterRate: 0, dropAfterCommitRate: 0.5, lookupErrorRate: 0, outage: false, idempotencyTtlMs: 86_400_000 });
      const bad = await fetch(`${bank.url}/admin/faults`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${bank.adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ errorBeforeRate: 2, latencyMs: -1, colour: 'red' }),
      });
      expect(bad.status).toBe(400);
      const pointers = ((await bad.json()) as { errors: Array<{ pointer: string }> }).errors.map((error) => error.pointer).sort();
      expect(pointers).toEqual(['/colour', '/errorBeforeRate', '/latencyMs']);
    });
  });
});

describe('sandbox bank ledger on a PGlite directory', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'bank-sandbox-'));
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it('when the sandbox is closed and opened again on the same directory, then its transfers and idempotency keys are still there', async () => {
    const endToEndId = unique('durable');
    const key = unique('key');
    const before = await startSandboxBankForTests({ storage: { kind: 'pglite', dataDir } });
    const created = (await (await client(before).submit(key, transferBody(endToEndId))).json()) as TransferView;
    await before.close();

    const after = await startSandboxBankForTests({ storage: { kind: 'pglite', dataDir } });
    try {
      const { submit, get, lookup } = client(after);
      expect(await (await get(`/v1/transfers/${created.id}`)).json()).toEqual(created);
      expect(await lookup(endToEndId)).toEqual([created]);
      const replayed = await submit(key, transferBody(endToEndId));
      expect(replayed.headers.get(REPLAY_HEADER)).toBe('true');
      expect(await replayed.json()).toEqual(created);
      expect(await after.allTransfers()).toHaveLength(1);
    } finally {
      await after.close();
    }
  });
});
