/**
 * The operator API for tests: a real gateway on a real store, the sandbox bank
 * over real HTTP, and the API on port 0 with the operator desk wired as in the
 * processes. The API's clock can be moved forward (replay window, expiry);
 * the bank and the gateway keep real time.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import pino from 'pino';
import { createIdempotencyRecords } from '../../application/idempotency';
import { createOperatorActions } from '../../application/operator-actions';
import { createBankClientFromConfig } from '../../bank-gateway/compose';
import { startGatewayHarness, testGatewayConfig, type GatewayHarness } from '../../bank-gateway/testing/harness';
import { startSandboxBankForTests, type SandboxBankForTests } from '../../bank-sandbox/testing';
import type { EngineName } from '../../../test/support/databases';
import { contractFetch } from '../../../test/support/openapi-contract';
import { DEMO_API_KEYS } from '../auth';
import { createApiServer, type ApiServer } from '../server';
import { createOpsPortalRouter } from '../ops-portal/routes';
import { createOpsRouter } from './routes';

/** The in-flight bound of Idempotency-Key claims in these tests (the API's clock moves past it to take a claim over). */
export const IDEMPOTENCY_IN_FLIGHT_MS_FOR_TESTS = 60_000;

/** A second supervisor, so that two can approve at the same moment. */
export const SECOND_SUPERVISOR_KEY = 'test-supervisor-sam-0000000007';

export interface OpsApiSettings {
  readonly actionLimitPerHour?: number;
  readonly replayWindowMs?: number;
  readonly approvalTtlMs?: number;
  /** The operator desk's bank, when not the sandbox the gateway uses (a bank that never answers, say), and its call timeout. */
  readonly operatorBank?: { readonly url: string; readonly timeoutMs: number };
}

/**
 * A bank that accepts connections and never answers: every call of the
 * operator desk runs into its timeout, so a request stays in flight that long.
 */
export async function startSilentBank(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

export async function startOpsApi(engine: EngineName, settings: OpsApiSettings = {}) {
  const bank: SandboxBankForTests = await startSandboxBankForTests();
  const harness: GatewayHarness = await startGatewayHarness(engine, { bank });
  // A short window, so a bank outage parks payments within the test.
  const parts = await harness.startGateway({ retryWindowMs: 1_000 });
  let clockOffsetMs = 0;
  const now = () => new Date(Date.now() + clockOffsetMs);
  const operatorActions = createOperatorActions({
    store: harness.store,
    payments: harness.payments,
    // Its own bank client, as in the API process: the gateway's open circuit does not block an operator's lookup.
    bank: createBankClientFromConfig(
      settings.operatorBank ? testGatewayConfig(settings.operatorBank.url, { bankTimeoutMs: settings.operatorBank.timeoutMs }) : testGatewayConfig(bank.url),
      harness.logger,
    ),
    replayWindowMs: settings.replayWindowMs ?? 7 * 24 * 3_600_000,
    approvalTtlMs: settings.approvalTtlMs ?? 24 * 3_600_000,
  });
  const idempotency = createIdempotencyRecords({ store: harness.store, inFlightMsMax: IDEMPOTENCY_IN_FLIGHT_MS_FOR_TESTS });
  const api: ApiServer = createApiServer({
    store: harness.store,
    payments: harness.payments,
    logger: pino({ level: 'silent' }),
    apiKeys: [...DEMO_API_KEYS, { key: SECOND_SUPERVISOR_KEY, role: 'supervisor', name: 'Sam Supervisor (test)' }],
    amountMajorMax: 1_000_000,
    bodyBytesMax: 65_536,
    now,
    idempotency,
    extraRouters: ({ registry }) => ({
      routers: [createOpsRouter({ operatorActions, workQueue: parts.workQueue, idempotency, now, registry, actionLimitPerHour: settings.actionLimitPerHour ?? 0 })],
      publicRouters: [createOpsPortalRouter()],
    }),
  });
  const url = (await api.listen(0, '127.0.0.1')).url;
  // Every answer is checked against the served OpenAPI document (test/support/openapi-contract.ts).
  const checkedFetch = contractFetch(url);
  const call = (method: string, path: string, key: string | undefined, body?: unknown, headers: Record<string, string> = {}) =>
    checkedFetch(`${url}${path}`, {
      method,
      headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  return {
    bank,
    harness,
    url,
    call,
    /** Moves the API's clock (not the bank's, not the gateway's). */
    setClockOffset: (offsetMs: number) => {
      clockOffsetMs = offsetMs;
    },
    async close() {
      await api.close();
      await harness.close();
      await bank.close();
    },
  };
}

export type OpsApi = Awaited<ReturnType<typeof startOpsApi>>;
