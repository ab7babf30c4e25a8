/**
 * Issue 8, item 1: a PostgreSQL connection lost in the middle of a transaction
 * must not kill any process. Real processes (API, gateway, projector) on a fresh
 * schema; their backends are terminated with pg_terminate_backend over and over
 * while payments flow, including backends caught inside a transaction. Every
 * process must stay up, report ready again, and settle a payment made afterwards.
 */
import { createServer, type AddressInfo } from 'node:net';
import pg from 'pg';
import { serverPostgresSkipReason, serverPostgresUrl } from '../support/databases';
import { startDeployment, type Deployment } from './deployment';
import { startProcess, waitFor, waitForOutput, type RunningProcess } from './gateway-processes';

const RUN = `lost${Date.now().toString(36)}`;
const APP = { api: `${RUN}_api`, gateway: `${RUN}_gateway`, projector: `${RUN}_projector` } as const;
const TERMINATE_MS = 3_000;
const RECOVER_MS_MAX = 30_000;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const ready = async (url: string) => ((await fetch(url).catch(() => undefined))?.status === 200 ? true : undefined);

(serverPostgresUrl() ? describe : describe.skip)(`a lost PostgreSQL connection in real processes${serverPostgresUrl() ? '' : ` (SKIPPED: ${serverPostgresSkipReason()})`}`, () => {
  let deployment: Deployment;
  let gateway: RunningProcess;
  let projector: RunningProcess;
  let admin: pg.Client;
  let gatewayReady: string;
  let projectorReady: string;

  beforeAll(async () => {
    deployment = await startDeployment({ apiEnv: { PGAPPNAME: APP.api } });
    const gatewayPort = await freePort();
    gateway = await deployment.startGateway('gw-lost', { PGAPPNAME: APP.gateway, GATEWAY_HEALTH_PORT: String(gatewayPort) });
    gatewayReady = `http://127.0.0.1:${gatewayPort}/health/ready`;
    const projectorPort = await freePort();
    projector = startProcess('projector', 'src/processes/projector.ts', { ...deployment.storeEnv, PGAPPNAME: APP.projector, PROJECTOR_HEALTH_PORT: String(projectorPort), PROJECTOR_POLL_INTERVAL_MS: '20' });
    await waitForOutput(projector, /health endpoints listening/, 60_000);
    projectorReady = `http://127.0.0.1:${projectorPort}/health/ready`;
    admin = new pg.Client({ connectionString: serverPostgresUrl() });
    await admin.connect();
  }, 120_000);
  afterAll(async () => {
    await admin?.end();
    await projector?.kill('SIGKILL');
    await deployment?.close();
  });

  it('when their backends are terminated again and again, also inside transactions, then the API, the gateway and the projector stay up, are ready again and settle a new payment', async () => {
    const apiReady = `${deployment.apiUrl}/health/ready`;
    for (const url of [apiReady, gatewayReady, projectorReady]) await waitFor(`ready ${url}`, () => ready(url), RECOVER_MS_MAX);

    // Load: payments go in while the terminations run, so transactions are open when they land.
    const statuses: number[] = [];
    let loading = true;
    // Several at once: an append is one short statement (ADR 0018), so one request at a time would rarely be caught in it.
    const load = Promise.all(
      Array.from({ length: 6 }, async (_, loop) => {
        for (let i = 0; loading; i += 1) statuses.push(await deployment.putPayment(`load-${loop}-${i}`).catch(() => -1));
      }),
    );
    const inTransaction: Record<string, number> = { api: 0, gateway: 0, projector: 0 };
    const deadline = Date.now() + TERMINATE_MS;
    while (Date.now() < deadline) {
      const { rows } = await admin.query<{ app: string; in_transaction: boolean }>(
        `SELECT application_name AS app, xact_start IS NOT NULL AS in_transaction, pg_terminate_backend(pid) AS terminated
           FROM pg_stat_activity WHERE application_name = ANY($1::text[])`,
        [Object.values(APP)],
      );
      for (const row of rows) if (row.in_transaction) inTransaction[row.app.slice(RUN.length + 1)]! += 1;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    loading = false;
    await load;

    // The lost transactions were answered 503 (retryable), never 500, and never killed anyone.
    expect(statuses.filter((status) => status === 500)).toEqual([]);
    expect(statuses.some((status) => status === 503)).toBe(true);
    expect(inTransaction['api']).toBeGreaterThan(0);
    for (const running of [deployment.apiProcess, gateway, projector]) {
      expect({ name: running.name, running: running.isRunning(), output: running.isRunning() ? '' : running.output().slice(-3_000) }).toEqual({ name: running.name, running: true, output: '' });
    }

    for (const url of [apiReady, gatewayReady, projectorReady]) await waitFor(`ready again ${url}`, () => ready(url), RECOVER_MS_MAX);
    expect(await deployment.putPayment('after-recovery')).toBe(201);
    const settled = await waitFor('the payment made after recovery settles', async () => ((await deployment.getPayment('after-recovery')).status === 'settled' ? true : undefined), RECOVER_MS_MAX);
    expect(settled).toBe(true);
    // The projector caught up past the terminations: its read model lists the new payment.
    await waitFor('the projector applies it', async () => ((await (await fetch(projectorReady)).json()) as { status: string }).status === 'ready' ? true : undefined, RECOVER_MS_MAX);
    expect(inTransaction).toMatchObject({ gateway: expect.any(Number), projector: expect.any(Number) });
  }, 180_000);
});
