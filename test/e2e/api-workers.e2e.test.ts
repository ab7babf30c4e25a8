/**
 * API workers through node:cluster on server PostgreSQL, in real processes:
 * two workers share the port and answer, a SIGKILLed worker is replaced, a
 * SIGTERM stops them all, and the embedded store keeps one process.
 */
import { execFileSync } from 'node:child_process';
import { serverPostgresSkipReason, serverPostgresUrl, createTestSchema } from '../support/databases';
import { startProcess, waitFor, waitForOutput, type RunningProcess } from './gateway-processes';

const CLIENT_KEY = 'e2e-client-acme-000000000001';
const LISTENING = /paystream API listening/g;
const describeOnServer = serverPostgresUrl() ? describe : describe.skip;
if (!serverPostgresUrl()) console.warn(`[paystream tests] SKIPPED: the API workers test needs server PostgreSQL: ${serverPostgresSkipReason()}`);

/** The worker processes of a primary (tsx also runs an esbuild child, which is not one). */
const childrenOf = (pid: number): number[] => {
  try {
    return execFileSync('pgrep', ['-P', String(pid), '-f', 'src/processes/api.ts'], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
};
const listeningCount = (running: RunningProcess) => running.output().match(LISTENING)?.length ?? 0;
const body = JSON.stringify({ amount: '12.50', currency: 'EUR', debtor: { name: 'Acme Ltd', iban: 'DE89370400440532013000' }, creditor: { name: 'Bob', iban: 'GB82WEST12345698765432' }, reference: 'workers' });

describeOnServer('API workers (node:cluster, server PostgreSQL)', () => {
  let schema: Awaited<ReturnType<typeof createTestSchema>>;
  let api: RunningProcess;
  let url: string;

  beforeAll(async () => {
    schema = await createTestSchema();
    api = startProcess('api', 'src/processes/api.ts', {
      EVENT_STORE: 'postgres',
      DATABASE_URL: schema.url,
      DATABASE_SCHEMA: schema.schema,
      PORT: '0',
      API_WORKERS: '2',
      RATE_LIMIT_PER_MINUTE: '0',
      API_KEYS: JSON.stringify([{ key: CLIENT_KEY, role: 'client', tenant: 'acme' }]),
      TENANTS: JSON.stringify({ acme: { debitAccounts: ['DE89370400440532013000'] } }),
    });
    await waitFor('two workers listening', async () => (listeningCount(api) >= 2 ? true : undefined), 90_000);
    url = /"url":"(http:\/\/[^"]+)"/.exec(api.output())![1]!;
  });
  afterAll(async () => {
    const workers = api ? childrenOf(api.child.pid!) : [];
    await api?.kill('SIGKILL');
    for (const pid of workers) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await schema?.drop();
  });

  const put = async (id: string) => {
    const response = await fetch(`${url}/payments/${id}`, { method: 'PUT', headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json', connection: 'close' }, body });
    await response.arrayBuffer();
    return response.status;
  };

  it('when two workers run, then both share one port and every payment is answered exactly as by one process', async () => {
    expect(childrenOf(api.child.pid!)).toHaveLength(2);
    const ids = Array.from({ length: 40 }, (_, index) => `w-${Date.now()}-${index}`);
    expect(await Promise.all(ids.map(put))).toEqual(ids.map(() => 201));
    expect(await Promise.all(ids.map(put))).toEqual(ids.map(() => 200));
  });

  it('when a worker is SIGKILLed, then the primary starts another and the API keeps answering; SIGTERM stops every worker', async () => {
    const [victim] = childrenOf(api.child.pid!);
    process.kill(victim!, 'SIGKILL');
    await waitForOutput(api, /a worker died; starting another/, 10_000);
    await waitFor('a third listening line', async () => (listeningCount(api) >= 3 ? true : undefined), 60_000);
    const survivors = childrenOf(api.child.pid!);
    expect(survivors).toHaveLength(2);
    expect(survivors).not.toContain(victim);
    expect(await put(`after-kill-${Date.now()}`)).toBe(201);
    await api.kill('SIGTERM');
    expect((await api.exited()).code).toBe(0);
    for (const pid of survivors) expect(() => process.kill(pid, 0)).toThrow();
  });
});
