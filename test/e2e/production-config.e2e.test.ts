/**
 * NODE_ENV=production refuses to start on settings that are fine on a laptop:
 * the published bank and sandbox keys, a bank reached over plain http, and the
 * sandbox bank itself. Each case starts the real entry file with that
 * environment and asserts the exit code, the message naming the variable, and
 * that nothing was opened first: the database address is a TCP listener of this
 * test that counts the connections it receives (none may arrive).
 *
 * A positive control on server PostgreSQL shows each refusal is specific: with
 * the same environment put right (or BANK_URL_INSECURE_ALLOWED=true), the
 * process starts and listens.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { startProcess, waitForOutput } from './gateway-processes';
import { createTestSchema, serverPostgresSkipReason, serverPostgresUrl } from '../support/databases';

const EXIT_MS_MAX = 30_000;
const START_MS_MAX = 60_000;

const API_KEYS = JSON.stringify([
  { key: 'production-client-key-000001', role: 'client', tenant: 'acme' },
  { key: 'production-operator-key-0002', role: 'operator' },
]);

/** A listener standing in for PostgreSQL: it answers nothing and counts who called. */
let database: Server;
let connections = 0;
const sockets = new Set<Socket>();
let databaseUrl = '';

beforeAll(async () => {
  database = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => database.listen(0, '127.0.0.1', resolve));
  databaseUrl = `postgres://paystream:secret@127.0.0.1:${(database.address() as AddressInfo).port}/paystream`;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => database.close(() => resolve()));
});

/** What a production deployment of the separate processes sets, all of it acceptable. */
const productionEnv = (): Record<string, string> => ({
  NODE_ENV: 'production',
  EVENT_STORE: 'postgres',
  DATABASE_URL: databaseUrl,
  API_KEYS,
  // Every client key's tenant with its registered debit accounts (required with API_KEYS).
  TENANTS: JSON.stringify({ acme: { debitAccounts: ['DE89370400440532013000'] } }),
  BANK_URL: 'https://bank.example.test',
  BANK_API_KEY: 'issued-by-the-bank-0001',
  PORT: '0',
});

async function expectRefusal(name: string, entry: string, env: Record<string, string>, messages: readonly string[]) {
  const before = connections;
  const running = startProcess(name, entry, env);
  try {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), EXIT_MS_MAX);
    });
    const exit = await Promise.race([running.exited(), timeout]).finally(() => clearTimeout(timer));
    expect({ exit, output: running.output() }).toEqual({ exit: { code: 1, signal: null }, output: expect.stringContaining('invalid configuration') });
    for (const message of messages) expect(running.stderr()).toContain(message);
    expect(running.output()).not.toMatch(/listening|started/);
    // Refused from the configuration alone: not one connection to the database.
    expect(connections).toBe(before);
  } finally {
    await running.kill();
  }
}

const BANK_KEY_REFUSED = 'BANK_API_KEY: the published development key is refused when NODE_ENV=production';
const BANK_URL_REFUSED = 'BANK_URL: must be https:// when NODE_ENV=production';

describe('NODE_ENV=production refuses to start, before opening anything', () => {
  it('when the gateway has no BANK_API_KEY (the published default sandbox-key), then it exits 1 naming BANK_API_KEY', async () => {
    const { BANK_API_KEY: _unset, ...env } = productionEnv();
    await expectRefusal('gateway-default-bank-key', 'src/processes/gateway.ts', env, [`paystream-gateway: invalid configuration`, BANK_KEY_REFUSED]);
  });

  it.each(['sandbox-key', 'sandbox-admin-key'])('when the API is given BANK_API_KEY=%s (published), then it exits 1 naming BANK_API_KEY', async (published) => {
    await expectRefusal('api-published-bank-key', 'src/processes/api.ts', { ...productionEnv(), BANK_API_KEY: published }, [BANK_KEY_REFUSED]);
  });

  it.each([
    ['src/processes/gateway.ts', 'paystream-gateway'],
    ['src/processes/api.ts', 'paystream-api'],
  ])('when %s is pointed at a plain-http BANK_URL, then it exits 1 naming BANK_URL', async (entry, name) => {
    await expectRefusal(`${name}-http-bank`, entry, { ...productionEnv(), BANK_URL: 'http://bank.example.test:8080' }, [`${name}: invalid configuration`, BANK_URL_REFUSED]);
  });

  it('when several settings are wrong, then one start-up names every one of them', async () => {
    const { BANK_API_KEY: _unset, ...env } = productionEnv();
    await expectRefusal('gateway-all-wrong', 'src/processes/gateway.ts', { ...env, BANK_URL: 'http://bank.example.test' }, [BANK_KEY_REFUSED, BANK_URL_REFUSED]);
  });

  it('when the sandbox bank process is started, then it exits 1: the sandbox is never started in production, and its published keys are named', async () => {
    await expectRefusal('sandbox-in-production', 'src/processes/bank-sandbox.ts', { NODE_ENV: 'production', BANK_SANDBOX_PORT: '0', BANK_SANDBOX_DATABASE_URL: databaseUrl }, [
      'paystream-bank-sandbox: invalid configuration',
      'BANK_SANDBOX: the sandbox bank is a test stand-in and is refused when NODE_ENV=production',
      'BANK_SANDBOX_API_KEY: the published default is refused',
      'BANK_SANDBOX_ADMIN_KEY: the published default is refused',
    ]);
  });

  it('when the sandbox bank process has keys of its own, then it still exits 1 in production (only the refusal of the sandbox is named)', async () => {
    const running = startProcess('sandbox-own-keys', 'src/processes/bank-sandbox.ts', {
      NODE_ENV: 'production',
      BANK_SANDBOX_PORT: '0',
      BANK_SANDBOX_API_KEY: 'own-sandbox-key-0001',
      BANK_SANDBOX_ADMIN_KEY: 'own-admin-key-0001',
      BANK_SANDBOX_DATABASE_URL: databaseUrl,
    });
    try {
      expect(await running.exited()).toEqual({ code: 1, signal: null });
      expect(running.stderr()).toContain('BANK_SANDBOX: the sandbox bank is a test stand-in');
      expect(running.stderr()).not.toContain('BANK_SANDBOX_ADMIN_KEY');
    } finally {
      await running.kill();
    }
  });

  it('when the all-in-one is asked for the sandbox bank (BANK_SANDBOX_ENABLED=true), then it exits 1 naming BANK_SANDBOX_ENABLED', async () => {
    await expectRefusal('all-in-one-sandbox', 'src/main.ts', { ...productionEnv(), BANK_SANDBOX_ENABLED: 'true', BANK_SANDBOX_PORT: '0' }, [
      'paystream: invalid configuration',
      'BANK_SANDBOX_ENABLED: the sandbox bank is refused when NODE_ENV=production',
    ]);
  });

  it.each([
    ['src/processes/api.ts', 'no TENANTS', undefined, 'TENANTS: required when API_KEYS is set'],
    ['src/main.ts', 'a TENANTS without the client tenant', JSON.stringify({ globex: { debitAccounts: ['GB29NWBK60161331926819'] } }), 'TENANTS: tenant acme has a client API key but no registered debit accounts'],
  ])('when %s is started with %s, then it exits 1 naming TENANTS', async (entry, _case, tenants, message) => {
    const { TENANTS: _unset, ...env } = productionEnv();
    await expectRefusal('tenants-missing', entry, { ...env, ...(tenants ? { TENANTS: tenants } : {}), BANK_SANDBOX_ENABLED: 'false' }, [message]);
  });

  it('when the all-in-one leaves BANK_SANDBOX_ENABLED unset, then its gateway needs a real bank: the published key and plain http are refused', async () => {
    const { BANK_API_KEY: _unset, ...env } = productionEnv();
    await expectRefusal('all-in-one-default-bank', 'src/main.ts', { ...env, BANK_URL: 'http://127.0.0.1:4010' }, [BANK_KEY_REFUSED, BANK_URL_REFUSED]);
  });
});

describe('the API refuses keys and proxies it cannot tell apart, in any NODE_ENV, before opening anything', () => {
  const duplicated = JSON.stringify([
    { key: 'shared-key-of-two-entries-01', role: 'client', tenant: 'acme' },
    { key: 'production-operator-key-0002', role: 'operator' },
    { key: 'shared-key-of-two-entries-01', role: 'supervisor' },
  ]);

  it.each(['production', 'development'])('when API_KEYS lists one key twice (NODE_ENV=%s), then the API exits 1 naming the entries, never the key', async (nodeEnv) => {
    const env = { ...productionEnv(), NODE_ENV: nodeEnv, API_KEYS: duplicated };
    await expectRefusal('api-duplicate-keys', 'src/processes/api.ts', env, ['API_KEYS: entries 1 and 3 have the same key; each key must be listed once']);
  });

  it('when the duplicate reaches the all-in-one, then it is refused there too, and the key is not printed', async () => {
    const running = startProcess('all-in-one-duplicate-keys', 'src/main.ts', { ...productionEnv(), NODE_ENV: 'development', API_KEYS: duplicated, BANK_SANDBOX_PORT: '0' });
    try {
      expect(await running.exited()).toEqual({ code: 1, signal: null });
      expect(running.stderr()).toContain('API_KEYS: entries 1 and 3 have the same key');
      expect(running.output()).not.toContain('shared-key-of-two-entries-01');
    } finally {
      await running.kill();
    }
  });

  it.each(['true', 'everyone', '10.0.0.0/8,not-an-address'])('when TRUST_PROXY=%s, then the API exits 1 naming TRUST_PROXY (any client could pick its own address)', async (trustProxy) => {
    await expectRefusal('api-trust-proxy', 'src/processes/api.ts', { ...productionEnv(), TRUST_PROXY: trustProxy }, ['TRUST_PROXY: must be a hop count']);
  });
});

const describeOnServer = serverPostgresUrl() ? describe : describe.skip;
if (!serverPostgresUrl()) console.warn(`[paystream tests] SKIPPED: production start-up controls need server PostgreSQL: ${serverPostgresSkipReason()}`);

describeOnServer(`the same processes with production settings put right${serverPostgresUrl() ? '' : ` (SKIPPED: ${serverPostgresSkipReason()})`}`, () => {
  it('when BANK_URL is plain http but BANK_URL_INSECURE_ALLOWED=true, then the API starts and listens; and the all-in-one starts without a sandbox', async () => {
    const schema = await createTestSchema();
    const env = { ...productionEnv(), DATABASE_URL: schema.url, DATABASE_SCHEMA: schema.schema };
    const api = startProcess('api-insecure-allowed', 'src/processes/api.ts', { ...env, BANK_URL: 'http://bank.internal:8080', BANK_URL_INSECURE_ALLOWED: 'true' });
    const allInOne = startProcess('all-in-one-production', 'src/main.ts', { ...env, GATEWAY_ENABLED: 'false', PROJECTOR_ENABLED: 'false' });
    try {
      await waitForOutput(api, /paystream API listening/, START_MS_MAX);
      await waitForOutput(allInOne, /paystream listening/, START_MS_MAX);
      expect(allInOne.output()).not.toMatch(/sandbox bank/);
    } finally {
      await api.kill();
      await allInOne.kill();
      await schema.drop();
    }
  });
});
