/**
 * Issue 8, item 6: no full IBAN and no API key reaches the log output of any
 * process, errors included, and no answer an analyst can get holds a full IBAN.
 *
 * Real processes on a fresh PostgreSQL schema (the sandbox bank, the API, a
 * gateway, the projector), all logging at debug. Payments settle and are
 * rejected; every key is used, and a wrong one. Then each process is made to
 * fail on a database error whose failing row holds the payment's IBANs (CHECK
 * constraints added to the schema: the API's append, the gateway's intent, the
 * projector's row), which node-postgres reports in the error's `detail`.
 * Last, every operation of the served OpenAPI document is called as an analyst.
 */
import { createServer, type AddressInfo } from 'node:net';
import pg from 'pg';
import { PAYMENTS_TABLE } from '../../src/projections/read-models/payments';
import { serverPostgresSkipReason, serverPostgresUrl } from '../support/databases';
import { BANK_ADMIN_KEY, BANK_API_KEY, CLIENT_KEY, IBAN_CREDITOR, IBAN_DEBTOR, startDeployment, TENANT, type Deployment } from './deployment';
import { startProcess, waitFor, waitForOutput, type RunningProcess } from './gateway-processes';

const ANALYST_KEY = 'e2e-analyst-log-hygiene-0001';
const OPERATOR_KEY = 'e2e-operator-log-hygiene-001';
const SUPERVISOR_KEY = 'e2e-supervisor-log-hygiene-1';
const WRONG_KEY = 'e2e-wrong-key-log-hygiene-01';
const REJECTING_IBAN = 'DE02100100109307118603';
const FULL_IBANS = [IBAN_DEBTOR, IBAN_CREDITOR, REJECTING_IBAN];
const KEYS = [CLIENT_KEY, ANALYST_KEY, OPERATOR_KEY, SUPERVISOR_KEY, WRONG_KEY, BANK_API_KEY, BANK_ADMIN_KEY];
const SETTLE_MS_MAX = 30_000;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Every full IBAN and every key found in `text`, with a little context to say where. */
function leaksIn(text: string): string[] {
  const found: string[] = [];
  for (const secret of [...FULL_IBANS, ...KEYS]) {
    for (let at = text.indexOf(secret); at >= 0; at = text.indexOf(secret, at + 1)) found.push(`${secret} in …${text.slice(Math.max(0, at - 160), at + 60)}…`);
  }
  return found;
}

(serverPostgresUrl() ? describe : describe.skip)(`log hygiene in real processes${serverPostgresUrl() ? '' : ` (SKIPPED: ${serverPostgresSkipReason()})`}`, () => {
  let deployment: Deployment;
  let gateway: RunningProcess;
  let projector: RunningProcess;
  let admin: pg.Client;
  let schema: string;

  beforeAll(async () => {
    deployment = await startDeployment({
      apiEnv: {
        LOG_LEVEL: 'debug',
        API_KEYS: JSON.stringify([
          { key: CLIENT_KEY, role: 'client', tenant: TENANT },
          { key: ANALYST_KEY, role: 'analyst', name: 'Log Analyst' },
          { key: OPERATOR_KEY, role: 'operator', name: 'Log Operator' },
          { key: SUPERVISOR_KEY, role: 'supervisor', name: 'Log Supervisor' },
        ]),
      },
      bankEnv: { LOG_LEVEL: 'debug' },
    });
    gateway = await deployment.startGateway('gw-logs', { LOG_LEVEL: 'debug' });
    projector = startProcess('projector', 'src/processes/projector.ts', { ...deployment.storeEnv, LOG_LEVEL: 'debug', PROJECTOR_HEALTH_PORT: String(await freePort()), PROJECTOR_POLL_INTERVAL_MS: '20' });
    await waitForOutput(projector, /health endpoints listening/, 60_000);
    schema = deployment.storeEnv['DATABASE_SCHEMA']!;
    admin = new pg.Client({ connectionString: deployment.storeEnv['DATABASE_URL'], options: `-c search_path=${schema}` });
    await admin.connect();
  }, 180_000);
  afterAll(async () => {
    await admin?.end();
    await projector?.kill('SIGKILL');
    await deployment?.close();
  });

  const call = (path: string, key: string, init: RequestInit = {}) =>
    fetch(`${deployment.apiUrl}${path}`, { ...init, headers: { authorization: `Bearer ${key}`, ...(init.body ? { 'content-type': 'application/json' } : {}), ...(init.headers as Record<string, string> | undefined) } });
  const put = (id: string, debtorName: string, creditorIban = IBAN_CREDITOR) =>
    call(`/payments/${id}`, CLIENT_KEY, {
      method: 'PUT',
      body: JSON.stringify({ amount: '12.34', currency: 'EUR', debtor: { name: debtorName, iban: IBAN_DEBTOR }, creditor: { name: 'Bob Supplier', iban: creditorIban }, reference: `log ${id}` }),
    });
  const statusOf = async (id: string) => ((await (await call(`/payments/${id}`, CLIENT_KEY)).json()) as { status: string }).status;

  it('when payments settle and fail, every key is used, and each process hits a database error holding IBANs, then no log line of any process holds a full IBAN or a key', async () => {
    expect((await put('log-settles', 'Acme Ltd')).status).toBe(201);
    expect((await put('log-rejected', 'Acme Ltd', REJECTING_IBAN)).status).toBe(201);
    await waitFor('both payments final', async () => ((await statusOf('log-settles')) === 'settled' && (await statusOf('log-rejected')) === 'rejected' ? true : undefined), SETTLE_MS_MAX);
    for (const key of [ANALYST_KEY, OPERATOR_KEY, SUPERVISOR_KEY]) expect((await call(`/payments/log-settles?tenant=${TENANT}`, key)).status).toBe(200);
    expect((await call('/payments?limit=5', ANALYST_KEY, { headers: { accept: 'text/csv' } })).status).toBe(200);
    expect((await call('/ops/payments', OPERATOR_KEY)).status).toBe(200);
    expect((await call('/payments/log-settles', WRONG_KEY)).status).toBe(401);

    // The API: its append refused by the database, the payment's IBANs in the failing row.
    await admin.query(`ALTER TABLE events ADD CONSTRAINT log_probe_api CHECK (data::text NOT LIKE '%Api Probe%') NOT VALID`);
    const refused = await put('log-api-probe', 'Api Probe Ltd');
    expect(refused.status).toBe(500);
    // The gateway: recording its intent to call the bank refused.
    await admin.query(`ALTER TABLE events ADD CONSTRAINT log_probe_gateway CHECK (NOT (stream_name LIKE '%log-gateway-probe%' AND event_type <> 'PaymentRequested')) NOT VALID`);
    // The projector: the read model's row refused.
    await admin.query(`ALTER TABLE ${PAYMENTS_TABLE} ADD CONSTRAINT log_probe_projector CHECK (debtor_name NOT LIKE 'Projector Probe%') NOT VALID`);
    expect((await put('log-gateway-probe', 'Projector Probe Ltd')).status).toBe(201);

    await waitForOutput(gateway, /"code":"23514"/, SETTLE_MS_MAX);
    await waitForOutput(projector, /"code":"23514"/, SETTLE_MS_MAX);
    await waitForOutput(deployment.apiProcess, /"code":"23514"/, SETTLE_MS_MAX);
    // The errors were logged, naming what failed (node-postgres put the failing row, IBANs and all,
    // into their `detail`: src/logging.int.test.ts shows the driver does).
    expect(deployment.apiProcess.output()).toContain('"constraint":"log_probe_api"');
    expect(gateway.output()).toContain('"constraint":"log_probe_gateway"');
    expect(projector.output()).toContain('"constraint":"log_probe_projector"');

    const processes = [deployment.apiProcess, gateway, projector, deployment.bankProcess];
    expect(processes.map((running) => ({ process: running.name, leaks: leaksIn(running.output()) }))).toEqual(processes.map((running) => ({ process: running.name, leaks: [] })));
    // Masked IBANs are what the lines say instead.
    expect(processes.some((running) => running.output().includes('****3000') || running.output().includes('****5432'))).toBe(true);
  }, 120_000);

  it('when an analyst calls every operation of the served OpenAPI document, then no answer holds a full IBAN and none is a 5xx', async () => {
    const document = (await (await fetch(`${deployment.apiUrl}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const values: Record<string, string> = { id: 'log-settles', paymentId: 'log-settles', tenant: TENANT, refundId: 'refund-1', approvalId: 'approval-1' };
    const answers: Array<{ operation: string; status: number; leaks: string[] }> = [];
    for (const [template, operations] of Object.entries(document.paths)) {
      const path = template.replace(/\{(\w+)\}/g, (_whole, name: string) => encodeURIComponent(values[name] ?? 'log-settles'));
      for (const method of Object.keys(operations).filter((name) => ['get', 'put', 'post', 'patch', 'delete'].includes(name))) {
        for (const accept of method === 'get' ? ['application/json', 'text/csv'] : ['application/json']) {
          const response = await call(`${path}${path.includes('?') ? '&' : '?'}tenant=${TENANT}`, ANALYST_KEY, {
            method: method.toUpperCase(),
            headers: { accept, 'idempotency-key': `log-hygiene-${answers.length}` },
            ...(method === 'get' || method === 'delete' ? {} : { body: '{}' }),
          });
          answers.push({ operation: `${method.toUpperCase()} ${template} (${accept})`, status: response.status, leaks: leaksIn(await response.text()) });
        }
      }
    }
    expect(answers.length).toBeGreaterThan(10);
    // The walk reached the payment itself, and the list.
    expect(answers.filter((answer) => answer.status === 200).map((answer) => answer.operation)).toEqual(expect.arrayContaining(['GET /payments/{id} (application/json)', 'GET /payments (text/csv)']));
    expect(answers.filter((answer) => answer.status >= 500 || answer.leaks.length > 0)).toEqual([]);
  }, 120_000);
});
