/**
 * The gateway against a bank that lies: a tiny real HTTP server on a loopback
 * port that answers each request the way the test scripts it (another amount,
 * another creditor, a huge rejection reason, raw error text, an endless body).
 * The gateway must never settle on a contradicting answer, must bound whatever
 * it keeps, and must never show the bank's text to the client.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { sqlEngines } from '../../test/support/databases';
import { KEYS } from '../../test/support/api';
import type { PaymentId } from '../domain/ids';
import { createApiServer, type ApiServer } from '../http/server';
import { REJECTION_REASON_CHARS_MAX } from './bank-wire';
import { BANK_ANSWER_BYTES_MAX } from './http-bank-client';
import { startGatewayHarness, TENANT, type GatewayHarness } from './testing/harness';

type Answer = { status: number; body: string | object };
type Script = (request: { method: string; url: string; body: Record<string, unknown> | undefined }) => Answer;

interface LyingBank {
  readonly url: string;
  script: Script;
  transfersFor(): Promise<never[]>;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function startLyingBank(): Promise<LyingBank> {
  const bank = { script: (() => ({ status: 503, body: 'not scripted' })) as Script };
  const server: Server = createServer((req, res) => {
    void readBody(req).then((text) => {
      const answer = bank.script({ method: req.method ?? 'GET', url: req.url ?? '/', body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined });
      const body = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
      res.writeHead(answer.status, { 'content-type': typeof answer.body === 'string' ? 'text/plain' : 'application/json' }).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(bank, {
    url: `http://127.0.0.1:${port}`,
    transfersFor: async () => [],
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

/** The transfer the bank should answer with: exactly what was asked, accepted. */
const echoed = (body: Record<string, unknown>, changes: Record<string, unknown> = {}) => ({
  id: 'tr_lying_1',
  status: 'accepted',
  endToEndId: body['endToEndId'],
  amountMinor: body['amountMinor'],
  currency: body['currency'],
  debtor: body['debtor'],
  creditor: body['creditor'],
  createdAt: new Date().toISOString(),
  ...changes,
});

const notFound: Answer = { status: 200, body: { items: [], nextCursor: null } };

let sequence = 0;
const newId = (scenario: string) => `${scenario}-${Date.now().toString(36)}-${(sequence += 1)}`;

describe.each(sqlEngines())('bank gateway against a bank that answers wrongly, on %s', (engine) => {
  let bank: LyingBank;
  let harness: GatewayHarness;
  let api: ApiServer;
  let apiUrl: string;
  const logLines: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    bank = await startLyingBank();
    const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) });
    harness = await startGatewayHarness(engine, { bank, logger });
    await harness.startGateway();
    api = createApiServer({ store: harness.store, payments: harness.payments, logger: pino({ level: 'silent' }), apiKeys: undefined, amountMajorMax: 1_000_000, bodyBytesMax: 65_536 });
    apiUrl = (await api.listen(0, '127.0.0.1')).url;
  });
  afterAll(async () => {
    await api.close();
    await harness.close();
    await bank.close();
  });

  const clientView = async (id: string) => {
    const response = await fetch(`${apiUrl}/payments/${id}`, { headers: { authorization: `Bearer ${KEYS.acme}` } });
    expect(response.status).toBe(200);
    return { text: await response.clone().text(), body: (await response.json()) as Record<string, any> };
  };

  it.each([
    ['another amount and currency', { amountMinor: 1_234_000, currency: 'USD' }, 'amountMinor, currency'],
    ['another creditor', { creditor: { name: 'Mallory', iban: 'DE89370400440532013000' } }, 'creditor.iban'],
    ['another end-to-end id', { endToEndId: 'PS1FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF' }, 'endToEndId'],
  ])('when the bank answers "accepted" for %s, then the payment is parked as conflicting with an alarm, never settled', async (_case, changes, fields) => {
    bank.script = ({ method, body }) => (method === 'POST' ? { status: 201, body: echoed(body!, changes) } : notFound);
    const id = newId('conflict');
    await harness.requestPayment(id);
    const state = await harness.waitForStatus(id, ['unknown', 'settled', 'rejected']);
    expect(state.status).toBe('unknown');
    expect(state.bank).toMatchObject({ lastErrorCode: 'bank_answer_conflicting', lastError: expect.stringContaining(fields) });
    expect(await harness.eventTypes(id)).not.toContain('PaymentSettled');
    const alarm = logLines.find((line) => line['paymentId'] === id && line['alarm'] === 'bank_answer_conflicting');
    expect(alarm).toMatchObject({ level: 50 });
    // The alarm names fields, never the account numbers.
    expect(JSON.stringify(alarm)).not.toMatch(/DE89370400440532013000/);
    expect((await clientView(id)).body['bank']).toMatchObject({ lastErrorCode: 'bank_answer_conflicting' });
  });

  it('when the lookup after a failed submission finds a transfer to another creditor, then the payment is parked as conflicting', async () => {
    let submissions = 0;
    bank.script = ({ method, url }) => {
      if (method === 'POST') return (submissions += 1), { status: 503, body: 'busy' };
      const endToEndId = new URL(url, 'http://x').searchParams.get('endToEndId');
      if (submissions === 0) return notFound;
      return { status: 200, body: { items: [echoed({ endToEndId, amountMinor: 12_550, currency: 'EUR', creditor: { name: 'Mallory', iban: 'DE89370400440532013000' } })], nextCursor: null } };
    };
    const id = newId('lookup-conflict');
    await harness.requestPayment(id);
    const state = await harness.waitForStatus(id, ['unknown', 'settled', 'rejected']);
    expect(state).toMatchObject({ status: 'unknown', bank: { lastErrorCode: 'bank_answer_conflicting' } });
  });

  it('when the bank rejects with a 100,000-character reason, then a bounded reason is stored and the client sees our description and the code', async () => {
    const huge = `AC04 ${'x'.repeat(100_000)}`;
    bank.script = ({ method, body }) => (method === 'POST' ? { status: 201, body: echoed(body!, { status: 'rejected', rejectionReason: huge }) } : notFound);
    const id = newId('huge-reason');
    await harness.requestPayment(id);
    const state = await harness.waitForStatus(id, ['rejected', 'unknown', 'settled']);
    expect(state.status).toBe('rejected');
    expect(state.status === 'rejected' && state.reason.length).toBeLessThanOrEqual(REJECTION_REASON_CHARS_MAX);
    const { body, text } = await clientView(id);
    expect(body).toMatchObject({ status: 'rejected', rejectionCode: 'AC04', rejectionReason: 'account closed' });
    expect(text).not.toContain('xxxxxxxxxx');
  });

  it("when the bank fails with its own error text, then the client sees a stable code and never the bank's words", async () => {
    const secret = 'ORA-00942: table LEDGER_INTERNAL does not exist at db-7.bank.internal';
    bank.script = ({ method }) => (method === 'POST' ? { status: 500, body: secret } : notFound);
    const id = newId('raw-text');
    await harness.requestPayment(id);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !(await harness.eventTypes(id)).includes('BankAttemptFailed')) await new Promise((resolve) => setTimeout(resolve, 20));
    const { body, text } = await clientView(id);
    expect(body['bank']).toMatchObject({ lastErrorCode: 'bank_unavailable' });
    expect(body['bank']).not.toHaveProperty('lastError');
    expect(text).not.toContain('ORA-00942');
    // Staff still have the (bounded) text in the stream for diagnosis.
    const found = await harness.payments.getPayment(TENANT, id as PaymentId);
    expect(found?.state.bank?.lastError).toContain('ORA-00942');
  });

  it('when the bank answers with a body over the size bound, then it is not read whole and the payment is parked as unreadable', async () => {
    bank.script = ({ method, body }) => (method === 'POST' ? { status: 201, body: echoed(body!, { padding: 'p'.repeat(BANK_ANSWER_BYTES_MAX + 1) }) } : notFound);
    const id = newId('oversized');
    await harness.requestPayment(id);
    const state = await harness.waitForStatus(id, ['unknown', 'settled', 'rejected']);
    expect(state).toMatchObject({ status: 'unknown', bank: { lastErrorCode: 'bank_answer_unreadable' } });
  });

  it('when the bank answers with a transfer id longer than the bound, then it is unreadable (an id is never cut), not settled', async () => {
    bank.script = ({ method, body }) => (method === 'POST' ? { status: 201, body: echoed(body!, { id: 't'.repeat(10_000) }) } : notFound);
    const id = newId('long-id');
    await harness.requestPayment(id);
    const state = await harness.waitForStatus(id, ['unknown', 'settled', 'rejected']);
    expect(state).toMatchObject({ status: 'unknown', bank: { lastErrorCode: 'bank_answer_unreadable' } });
  });
});
