/**
 * `npm start`'s entry file as a real process on the embedded store: a payment
 * goes from PUT to settled at the sandbox bank, the analyst read model shows it,
 * and after a SIGKILL and a restart on the same data folder everything is still
 * there, with exactly one transfer at the bank. A wrong setting stops start-up.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProcess, waitFor, waitForOutput, type RunningProcess } from './gateway-processes';

const CLIENT = 'Bearer demo-client-acme-0000000001';
const ANALYST = 'Bearer demo-analyst-00000000000003';
const BANK = 'Bearer sandbox-key';
const payment = {
  amount: '125.5',
  currency: 'EUR',
  debtor: { name: 'Acme Ltd', iban: 'DE89 3704 0044 0532 0130 00' },
  creditor: { name: 'Bob', iban: 'GB82WEST12345698765432' },
  reference: 'invoice 42',
};

const START_MS_MAX = 60_000;

describe('the all-in-one process (npm start)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'paystream-all-in-one-'));
  let running: RunningProcess | undefined;

  const start = async () => {
    const process = startProcess('paystream', 'src/main.ts', { DATA_DIR: dataDir, PORT: '0', BANK_SANDBOX_PORT: '0', NODE_ENV: 'development' });
    running = process;
    await waitForOutput(process, /sandbox bank {3}http:\/\/\S+/, START_MS_MAX);
    const api = /paystream is listening on (http:\/\/\S+)/.exec(process.output())![1]!;
    const bank = /sandbox bank {3}(http:\/\/\S+)/.exec(process.output())![1]!;
    return { api, bank };
  };

  afterAll(async () => {
    await running?.kill();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('settles a payment, survives a SIGKILL, and never pays twice', async () => {
    const first = await start();
    const put = await fetch(`${first.api}/payments/inv-42`, { method: 'PUT', headers: { authorization: CLIENT, 'content-type': 'application/json' }, body: JSON.stringify(payment) });
    expect(put.status).toBe(201);

    const settled = await waitFor(
      'the payment to settle',
      async () => {
        const body = (await (await fetch(`${first.api}/payments/inv-42`, { headers: { authorization: CLIENT } })).json()) as { status: string; bank: { transferId: string; endToEndId: string } | null };
        return body.status === 'settled' ? body : undefined;
      },
      30_000,
    );
    const listed = await waitFor(
      'the analyst read model to show it',
      async () => {
        const page = (await (await fetch(`${first.api}/payments?status=settled`, { headers: { authorization: ANALYST } })).json()) as { items: Array<{ id: string; bankTransferId: string }> };
        return page.items.find((item) => item.id === 'inv-42');
      },
      30_000,
    );
    expect(listed.bankTransferId).toBe(settled.bank!.transferId);

    await running!.kill('SIGKILL');
    const second = await start();

    // The retry after a crash is answered from the log: same payment, not a new one.
    const retry = await fetch(`${second.api}/payments/inv-42`, { method: 'PUT', headers: { authorization: CLIENT, 'content-type': 'application/json' }, body: JSON.stringify({ ...payment, amount: '125.50' }) });
    expect(retry.status).toBe(200);
    expect(await retry.json()).toMatchObject({ id: 'inv-42', status: 'settled', bank: { transferId: settled.bank!.transferId } });

    const transfers = (await (await fetch(`${second.bank}/v1/transfers?endToEndId=${settled.bank!.endToEndId}`, { headers: { authorization: BANK } })).json()) as { items: unknown[] };
    expect(transfers.items).toHaveLength(1);
    await running!.kill('SIGTERM');
  });

  it('refuses to start with an invalid setting, naming it', async () => {
    const bad = startProcess('paystream-bad', 'src/main.ts', { DATA_DIR: dataDir, PORT: 'not-a-port', EVENT_STORE: 'mongodb' });
    const { code } = await bad.exited();
    expect(code).toBe(1);
    expect(bad.output()).toMatch(/PORT:/);
    expect(bad.output()).toMatch(/EVENT_STORE:/);
  });
});
