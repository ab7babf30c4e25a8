/**
 * The API built from configured keys: API_KEYS parsed by the core configuration,
 * handed to createApiServer as the processes do, driven over real HTTP. And the
 * other side of the rule: a server store without API_KEYS gets no demo keys, the
 * API refuses to start, in-process and as the real API process.
 */
import pino from 'pino';
import { paymentStreamName, type PaymentId, type TenantId } from '../domain/ids';
import { readCoreConfig } from '../config/core';
import { ConfigError } from '../config/env';
import { readTenantsConfig } from '../config/tenants';
import { DEMO_API_KEYS } from './auth';
import { createApiServer } from './server';
import { startTestApi, validPayment, type TestApi, type TestResponse } from '../../test/support/api';
import { createTestSchema, serverPostgresSkipReason, serverPostgresUrl } from '../../test/support/databases';
import { startProcess } from '../../test/e2e/gateway-processes';

const CLIENT_A = 'configured-client-tenant-a-0001';
const CLIENT_B = 'configured-client-tenant-b-0002';
const ANALYST = 'configured-analyst-000000000003';
const CONFIGURED_KEYS = [
  { key: CLIENT_A, role: 'client', tenant: 'tenant-a', name: 'Tenant A' },
  { key: CLIENT_B, role: 'client', tenant: 'tenant-b' },
  { key: ANALYST, role: 'analyst', name: 'Configured analyst' },
];

/** TENANTS must list every configured client's tenant with its debit accounts. */
const CONFIGURED_TENANTS = JSON.stringify({ 'tenant-a': { debitAccounts: ['DE89370400440532013000'] }, 'tenant-b': { debitAccounts: ['GB29NWBK60161331926819'] } });

function tenantsConfigFrom(env: NodeJS.ProcessEnv) {
  const problems: string[] = [];
  const tenants = readTenantsConfig(env, problems);
  expect(problems).toEqual([]);
  return tenants;
}

function coreConfigFrom(env: NodeJS.ProcessEnv) {
  const problems: string[] = [];
  const core = readCoreConfig(env, problems);
  expect(problems).toEqual([]);
  return core;
}

async function expectProblem(response: TestResponse, status: number, code: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toContain('application/problem+json');
  const problem = await response.json();
  expect(problem).toMatchObject({ type: `/problems/${code}`, status, requestId: response.headers.get('x-request-id') });
}

let api: TestApi;
beforeAll(async () => {
  const env = { API_KEYS: JSON.stringify(CONFIGURED_KEYS), TENANTS: CONFIGURED_TENANTS };
  api = await startTestApi('pglite', { apiKeys: coreConfigFrom(env).apiKeys, tenants: tenantsConfigFrom(env) });
});
afterAll(() => api.close());

describe('API built from API_KEYS in the configuration', () => {
  it('when a configured client key creates and reads a payment, then 201 and 200 for its own tenant and the event names that client', async () => {
    const created = await api.call('PUT', '/payments/configured-1', { key: CLIENT_A, body: validPayment() });
    expect(created.status).toBe(201);
    expect((await api.call('GET', '/payments/configured-1', { key: CLIENT_A })).status).toBe(200);
    const [event, ...rest] = await api.store.readStream(paymentStreamName('tenant-a' as TenantId, 'configured-1' as PaymentId));
    expect(rest).toEqual([]);
    expect(event?.metadata['principal']).toEqual({ kind: 'client', tenantId: 'tenant-a', id: expect.stringMatching(/^client:tenant-a:[0-9a-f]{8}$/) });
  });

  it('when another configured tenant reads that id, then 404: the key decides the tenant', async () => {
    await api.call('PUT', '/payments/configured-2', { key: CLIENT_A, body: validPayment() });
    await expectProblem(await api.call('GET', '/payments/configured-2', { key: CLIENT_B }), 404, 'payment-not-found');
  });

  it('when a configured analyst key creates a payment, then 403 and nothing is written; it may read with ?tenant=', async () => {
    await expectProblem(await api.call('PUT', '/payments/configured-3', { key: ANALYST, body: validPayment() }), 403, 'forbidden');
    expect(await api.store.readStream(paymentStreamName('tenant-a' as TenantId, 'configured-3' as PaymentId))).toEqual([]);
    await api.call('PUT', '/payments/configured-3', { key: CLIENT_A, body: validPayment() });
    expect((await api.call('GET', '/payments/configured-3?tenant=tenant-a', { key: ANALYST })).status).toBe(200);
  });

  it.each(DEMO_API_KEYS.map((entry) => [entry.role, entry.key]))('when a demo key (%s %s) is presented, then 401: configured keys replace the demo keys', async (_role, key) => {
    await expectProblem(await api.call('GET', '/payments/configured-1', { key }), 401, 'unauthenticated');
    await expectProblem(await api.call('PUT', '/payments/demo-attempt', { key, body: validPayment() }), 401, 'unauthenticated');
  });
});

describe('API whose client keys name tenants without registered debit accounts', () => {
  it('when TENANTS leaves out a configured client tenant, then createApiServer refuses with a ConfigError naming the tenant', () => {
    const env = { API_KEYS: JSON.stringify(CONFIGURED_KEYS), TENANTS: JSON.stringify({ 'tenant-a': { debitAccounts: ['DE89370400440532013000'] } }) };
    expect(() =>
      createApiServer({ store: api.store, logger: pino({ level: 'silent' }), apiKeys: coreConfigFrom(env).apiKeys, tenants: tenantsConfigFrom(env), amountMajorMax: 1_000_000, bodyBytesMax: 65_536 }),
    ).toThrow(new ConfigError(['TENANTS: tenant tenant-b has a client API key but no registered debit accounts']));
  });

  it('when API_KEYS is set without TENANTS, then the configuration is refused naming TENANTS (no demo tenants for configured keys)', () => {
    const problems: string[] = [];
    readTenantsConfig({ API_KEYS: JSON.stringify(CONFIGURED_KEYS) }, problems);
    expect(problems).toEqual(['TENANTS: required when API_KEYS is set (each client tenant needs its registered debit accounts)']);
  });
});

describe('API on a server store without API_KEYS', () => {
  it.each([
    ['postgres', { EVENT_STORE: 'postgres', DATABASE_URL: 'postgres://db.invalid/paystream' }],
    ['eventstoredb', { EVENT_STORE: 'eventstoredb', DATABASE_URL: 'postgres://db.invalid/paystream', EVENTSTORE_URL: 'esdb://esdb.invalid:2113?tls=false' }],
  ])('when EVENT_STORE=%s, then createApiServer refuses with a ConfigError naming API_KEYS, and seeds no demo keys', (store, env) => {
    const core = coreConfigFrom(env);
    let error: unknown;
    try {
      createApiServer({ store: api.store, logger: pino({ level: 'silent' }), apiKeys: core.apiKeys, amountMajorMax: 1_000_000, bodyBytesMax: 65_536 });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(`API_KEYS: required when EVENT_STORE=${store}`);
  });

  const describeOnServer = serverPostgresUrl() ? describe : describe.skip;
  if (!serverPostgresUrl()) console.warn(`[paystream tests] SKIPPED: the API process on PostgreSQL without API_KEYS needs server PostgreSQL: ${serverPostgresSkipReason()}`);

  describeOnServer(`the API process on server PostgreSQL${serverPostgresUrl() ? '' : ` (SKIPPED: ${serverPostgresSkipReason()})`}`, () => {
    it('when it starts with EVENT_STORE=postgres and no API_KEYS, then it exits 1 naming API_KEYS and never listens', async () => {
      const schema = await createTestSchema();
      try {
        const api = startProcess('api-without-keys', 'src/processes/api.ts', {
          EVENT_STORE: 'postgres',
          DATABASE_URL: schema.url,
          DATABASE_SCHEMA: schema.schema,
          PORT: '0',
          NODE_ENV: 'development',
        });
        try {
          let timer: NodeJS.Timeout | undefined;
          const timeout = new Promise<'timeout'>((resolve) => {
            timer = setTimeout(() => resolve('timeout'), 30_000);
          });
          const exit = await Promise.race([api.exited(), timeout]).finally(() => clearTimeout(timer));
          expect(exit).toEqual({ code: 1, signal: null });
          expect(api.output()).toContain('API_KEYS: required when EVENT_STORE=postgres');
          expect(api.output()).not.toMatch(/listening/);
        } finally {
          await api.kill();
        }
      } finally {
        await schema.drop();
      }
    });
  });
});
