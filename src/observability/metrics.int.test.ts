/**
 * /metrics through real HTTP: the API's (staff keys only) and a worker
 * process's health port, with the API, the gateway (against the sandbox bank),
 * the projector and the relay (against a nats-server of the test's own) running
 * on one PGlite store, as in the all-in-one. A payment is settled and relayed;
 * then every family is there, with its labels, and no id, IBAN or key is.
 */
import pino from 'pino';
import { createPaymentsModule } from '../application/payments';
import { startSandboxBankForTests, type SandboxBankForTests } from '../bank-sandbox/testing';
import { createGatewayModule } from '../bank-gateway/module';
import { testGatewayConfig } from '../bank-gateway/testing/harness';
import { PgliteDatabase } from '../db/database';
import { instrumentEventStore } from '../event-store/instrumented';
import { SqlEventStore } from '../event-store/sql/sql-event-store';
import { DEMO_API_KEYS } from '../http/auth';
import { createHealthServerModule } from '../http/health-server';
import { createApiServer } from '../http/server';
import { createProjectorModule } from '../projections/module';
import { readRelayConfig } from '../relay/config';
import { createRelayModule } from '../relay/module';
import type { ProcessModule } from '../shared/process-module';
import { contractFetch } from '../../test/support/openapi-contract';
import { freePort, readWholeStream, startTestNatsServer, uniqueStreamNames, type TestNatsServer } from '../../test/support/nats';

const logger = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
const CLIENT = DEMO_API_KEYS[0]!.key;
const OPERATOR = DEMO_API_KEYS[3]!.key;
const SUPERVISOR = DEMO_API_KEYS[5]!.key;
const ANALYST = DEMO_API_KEYS[2]!.key;

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The value of one sample line, e.g. sample(text, 'payment_status_transitions_total{status="settled"}'). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('metrics (Prometheus, real HTTP)', () => {
  let nats: TestNatsServer;
  let bank: SandboxBankForTests;
  let database: PgliteDatabase;
  let apiUrl: string;
  let workerUrl: string;
  let closeApi: () => Promise<void>;
  let streamName: string;
  const modules: ProcessModule[] = [];
  const checkedFetch = () => contractFetch(apiUrl);

  beforeAll(async () => {
    nats = await startTestNatsServer();
    bank = await startSandboxBankForTests();
    database = await PgliteDatabase.open();
    const store = instrumentEventStore(await SqlEventStore.open(database));
    const payments = createPaymentsModule({ store });
    const names = uniqueStreamNames('metrics');
    streamName = names.streamName;
    const relayConfig = readRelayConfig({ NATS_URL: nats.url, NATS_STREAM: names.streamName, NATS_SUBJECT_PREFIX: names.subjectPrefix, RELAY_POLL_INTERVAL_MS: '20' }, []);
    const started = [
      createProjectorModule({ config: { batchSizeMax: 100, pollIntervalMs: 20, lagLogIntervalMs: 60_000 }, store, database, logger }),
      createGatewayModule({ config: testGatewayConfig(bank.url), nodeEnv: 'test', store, database, payments, logger }),
      createRelayModule({ config: relayConfig, nodeEnv: 'test', store, database, logger }),
    ];
    for (const module of started) {
      await module.start();
      modules.push(module);
    }
    const healthPort = await freePort();
    const health = createHealthServerModule({ name: 'worker', checks: new Map(), port: healthPort, host: '127.0.0.1', logger });
    await health.start();
    modules.push(health);
    workerUrl = `http://127.0.0.1:${healthPort}`;
    const api = createApiServer({ store, logger, apiKeys: undefined, amountMajorMax: 1_000_000, bodyBytesMax: 65_536, payments });
    apiUrl = (await api.listen(0, '127.0.0.1')).url;
    closeApi = () => api.close();

    const put = await checkedFetch()(`${apiUrl}/payments/metrics-1`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${CLIENT}`, 'content-type': 'application/json' },
      body: JSON.stringify({ amount: '12.00', currency: 'EUR', debtor: { name: 'Acme Ltd', iban: 'DE89370400440532013000' }, creditor: { name: 'Bob', iban: 'GB82WEST12345698765432' } }),
    });
    expect(put.status).toBe(201);
    await eventually('the payment settled and relayed', async () => ((await readWholeStream(nats.url, names.streamName)).length >= 3 ? true : undefined));
  }, 120_000);

  afterAll(async () => {
    await closeApi?.();
    for (const module of modules.reverse()) await module.stop();
    await database?.close();
    await bank?.close();
    await nats?.close();
  });

  it('answers a staff key with every family, labelled by route template, status and outcome, and no id, IBAN or key in it', async () => {
    const text = await eventually('metrics after the relay caught up', async () => {
      const response = await checkedFetch()(`${apiUrl}/metrics`, { headers: { authorization: `Bearer ${OPERATOR}` } });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const body = await response.text();
      return sample(body, 'relay_lag_events') === 0 && sample(body, 'gateway_in_flight') === 0 ? body : undefined;
    });
    expect(sample(text, 'http_server_request_duration_seconds_count{method="PUT",route="/payments/:id",status="201"}')).toBe(1);
    expect(sample(text, 'event_store_append_duration_seconds_count{outcome="ok"}')).toBeGreaterThanOrEqual(3);
    expect(sample(text, 'event_store_read_duration_seconds_count{operation="all",outcome="ok"}')).toBeGreaterThan(0);
    // Accepted on the submit, or (when the submit timed out on a busy machine) on the lookup after it.
    const accepted = ['submit', 'lookup'].map((operation) => sample(text, `gateway_bank_call_duration_seconds_count{operation="${operation}",outcome="accepted"}`) ?? 0);
    expect(accepted[0]! + accepted[1]!).toBe(1);
    expect(sample(text, 'gateway_lag_events')).toBe(0);
    expect(sample(text, 'gateway_parked')).toBe(0);
    expect(sample(text, 'gateway_circuit_state{state="closed"}')).toBe(1);
    expect(sample(text, 'gateway_circuit_state{state="open"}')).toBe(0);
    for (const status of ['requested', 'submitted', 'settled']) expect(sample(text, `payment_status_transitions_total{status="${status}"}`)).toBe(1);
    expect(sample(text, 'projector_lag_events{projection="payments"}')).toBeDefined();
    expect(sample(text, 'projector_lag_seconds{projection="payments"}')).toBeDefined();
    // Three events, or four when a busy machine made the first submit time out (BankAttemptFailed).
    const onStream = (await readWholeStream(nats.url, streamName)).length;
    expect(sample(text, 'relay_events_published_total')).toBe(onStream);
    expect(sample(text, 'relay_last_published_sequence')).toBe(onStream);
    expect(sample(text, 'relay_up')).toBe(1);
    expect(text).toMatch(/^process_cpu_seconds_total /m);
    // Counters end in _total; nothing identifies a payment, a person or an account.
    for (const name of text.match(/^# TYPE (\S+) counter$/gm) ?? []) expect(name).toMatch(/_total counter$/);
    // (Not the IBANs' last digits: numbers like 3000 occur in any sample value.)
    expect(text).not.toMatch(/metrics-1|acme|DE89370400440532013000|GB82WEST|\*\*\*\*|demo-/);
  });

  it('refuses a client or analyst key (403), and no key (401), as problem details', async () => {
    for (const key of [CLIENT, ANALYST]) {
      const refused = await checkedFetch()(`${apiUrl}/metrics`, { headers: { authorization: `Bearer ${key}` } });
      expect(refused.status).toBe(403);
      expect(refused.headers.get('content-type')).toContain('application/problem+json');
    }
    expect((await checkedFetch()(`${apiUrl}/metrics`)).status).toBe(401);
    expect((await checkedFetch()(`${apiUrl}/metrics`, { headers: { authorization: `Bearer ${SUPERVISOR}` } })).status).toBe(200);
  });

  it('serves the same families on a worker process\'s health port, without a key', async () => {
    const response = await fetch(`${workerUrl}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain('# TYPE gateway_bank_call_duration_seconds histogram');
    expect(text).toContain('# TYPE projector_lag_seconds gauge');
    expect(text).toContain('# TYPE relay_lag_events gauge');
  });
});
