/**
 * A real API for tests: real HTTP on port 0, a real event store on a real
 * database (in-memory PGlite or a fresh schema on server PostgreSQL), and the
 * demo API keys. Nothing is mocked.
 */
import pino from 'pino';
import { SqlEventStore } from '../../src/event-store/sql/sql-event-store';
import { createApiServer, type ApiServerOptions } from '../../src/http/server';
import { DEMO_API_KEYS } from '../../src/http/auth';
import { openTestDatabase, type EngineName } from './databases';
import { contractFetch } from './openapi-contract';

export const KEYS = {
  acme: DEMO_API_KEYS[0]!.key,
  globex: DEMO_API_KEYS[1]!.key,
  analyst: DEMO_API_KEYS[2]!.key,
  operator: DEMO_API_KEYS[3]!.key,
  operator2: DEMO_API_KEYS[4]!.key,
  supervisor: DEMO_API_KEYS[5]!.key,
} as const;

/** fetch's Response, with json() typed loosely: tests assert on the shape. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TestResponse = Omit<Response, 'json'> & { json(): Promise<any> };

export type TestApi = Awaited<ReturnType<typeof startTestApi>>;

export async function startTestApi(engine: EngineName, overrides: Partial<ApiServerOptions> = {}) {
  const database = await openTestDatabase(engine);
  const store = await SqlEventStore.open(database);
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const api = createApiServer({ store, logger, apiKeys: undefined, amountMajorMax: 1_000_000, bodyBytesMax: 65_536, ...overrides });
  const { url } = await api.listen(0, '127.0.0.1');
  // Every answer is checked against the served OpenAPI document (test/support/openapi-contract.ts).
  const checkedFetch = contractFetch(url);
  const call = (method: string, path: string, options: { key?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {}): Promise<TestResponse> => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.key) headers['authorization'] = `Bearer ${options.key}`;
    let body: string | undefined;
    if (options.rawBody !== undefined) body = options.rawBody;
    else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    return checkedFetch(`${url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) }) as Promise<TestResponse>;
  };
  return {
    url,
    store,
    database,
    api,
    call,
    /** fetch with the same contract check, for requests `call` cannot make. */
    fetch: checkedFetch,
    close: async () => {
      await api.close();
      await store.close();
      await database.dispose();
    },
  };
}

export function validPayment(overrides: Record<string, unknown> = {}) {
  return {
    amount: '125.50',
    currency: 'EUR',
    debtor: { name: 'Acme Ltd', iban: 'DE89 3704 0044 0532 0130 00' },
    creditor: { name: 'Bob Supplier', iban: 'GB82WEST12345698765432' },
    reference: 'Invoice 2026-11-001',
    ...overrides,
  };
}
