/**
 * A real gateway for tests: the sandbox bank over real HTTP on a loopback port,
 * a real event store on a real database (PGlite or a fresh PostgreSQL schema),
 * and one or more gateways built by the same composition as the process.
 * Nothing of ours is mocked.
 */
import pino from 'pino';
import type { Logger } from '../../logging';
import { createPaymentsModule, type PaymentsModule } from '../../application/payments';
import { paymentStreamName, type PaymentId, type TenantId } from '../../domain/ids';
import type { CurrencyCode } from '../../domain/money';
import type { PaymentStatus } from '../../domain/payment';
import { SqlEventStore } from '../../event-store/sql/sql-event-store';
import { randomBytes } from 'node:crypto';
import { PostgresDatabase } from '../../db/database';
import { createTestSchema, openTestDatabase, type EngineName } from '../../../test/support/databases';
import { readGatewayConfig, type GatewayConfig } from '../config';
import { composeBankGateway, type GatewayParts } from '../compose';
import { endToEndIdFor } from '../keys';
import { startSandboxBankForTests, type SandboxBankForTests } from '../../bank-sandbox/testing';

export const TENANT = 'acme' as TenantId;
export const IBAN_DEBTOR = 'DE89370400440532013000';
export const IBAN_CREDITOR = 'GB82WEST12345698765432';

/** Fast settings for tests; each test overrides what it is about. */
export function testGatewayConfig(bankUrl: string, overrides: Partial<GatewayConfig> = {}): GatewayConfig {
  const problems: string[] = [];
  const base = readGatewayConfig(
    {
      BANK_URL: bankUrl,
      BANK_TIMEOUT_MS: '500',
      BANK_RETRY_WINDOW_MS: '20000',
      BANK_BACKOFF_BASE_MS: '30',
      BANK_BACKOFF_MAX_MS: '200',
      BANK_IN_FLIGHT_WAIT_MS: '100',
      BANK_LOOKUP_RETRY_COUNT_MAX: '1',
      BANK_CIRCUIT_FAILURE_COUNT_MAX: '5',
      BANK_CIRCUIT_HALF_OPEN_AFTER_MS: '300',
      GATEWAY_LEASE_MS: '5000',
      GATEWAY_CONCURRENCY_MAX: '8',
      GATEWAY_POLL_INTERVAL_MS: '20',
      GATEWAY_ID: 'gateway-test',
    },
    problems,
  );
  if (problems.length > 0) throw new Error(problems.join('; '));
  return { ...base, ...overrides };
}

export type GatewayHarness = Awaited<ReturnType<typeof startGatewayHarness>>;

/**
 * On PostgreSQL the connections carry an application name of their own, so a
 * test can find exactly them in pg_stat_activity.
 */
async function openDatabase(engine: EngineName) {
  if (engine === 'pglite') return { database: await openTestDatabase(engine), applicationName: undefined };
  const schema = await createTestSchema();
  const applicationName = `paystream_gw_${randomBytes(4).toString('hex')}`;
  const separator = schema.url.includes('?') ? '&' : '?';
  const database = await PostgresDatabase.open({ connectionString: `${schema.url}${separator}application_name=${applicationName}`, schema: schema.schema });
  const dispose = async () => {
    await database.close();
    await schema.drop();
  };
  return { database: Object.assign(database, { dispose }), applicationName };
}

/** What the harness needs of a bank: the sandbox, or a test's own misbehaving bank. */
export type HarnessBank = Pick<SandboxBankForTests, 'url' | 'transfersFor' | 'close'>;

export async function startGatewayHarness(engine: EngineName, options: { bank?: HarnessBank; logger?: Logger } = {}) {
  const { database, applicationName } = await openDatabase(engine);
  const store = await SqlEventStore.open(database, { pollIntervalMs: 20 });
  const payments = createPaymentsModule({ store });
  const bank: HarnessBank = options.bank ?? (await startSandboxBankForTests());
  const logger = options.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const gateways: GatewayParts[] = [];

  async function startGateway(overrides: Partial<GatewayConfig> = {}): Promise<GatewayParts> {
    const parts = composeBankGateway({ config: testGatewayConfig(bank.url, overrides), nodeEnv: 'test', store, database, payments, logger });
    await parts.gateway.start();
    gateways.push(parts);
    return parts;
  }

  async function requestPayment(paymentId: string, creditorIban = IBAN_CREDITOR) {
    await payments.requestPayment(
      {
        tenantId: TENANT,
        paymentId: paymentId as PaymentId,
        createOnly: true,
        instruction: {
          amountMinor: 12_550,
          currency: 'EUR' as CurrencyCode,
          debtor: { name: 'Acme Ltd', iban: IBAN_DEBTOR },
          creditor: { name: 'Bob Supplier', iban: creditorIban },
          reference: `invoice ${paymentId}`,
          metadata: {},
        },
      },
      clientMetadata(),
    );
  }

  return {
    database,
    applicationName,
    store,
    payments,
    bank,
    logger,
    gateways,
    startGateway,
    requestPayment,
    status: (paymentId: string) => statusOf(payments, paymentId),
    waitForStatus: (paymentId: string, statuses: readonly PaymentStatus[], timeoutMs = 15_000) => waitForStatus(payments, paymentId, statuses, timeoutMs),
    transfersFor: (paymentId: string) => bank.transfersFor(endToEndIdFor(TENANT, paymentId as PaymentId)),
    /** The payment stream's event types in order; empty while the payment does not exist. */
    eventTypes: (paymentId: string) => streamTypes(store, paymentId),
    async close() {
      await Promise.all(gateways.map((parts) => parts.gateway.stop()));
      if (!options.bank) await bank.close();
      await store.close();
      await database.dispose();
    },
  };
}

export function clientMetadata() {
  return { now: new Date(), principal: { kind: 'client' as const, id: 'client:acme:test', tenantId: TENANT }, requestId: 'test', correlationId: 'test', causationId: 'test' };
}

async function streamTypes(store: SqlEventStore, paymentId: string): Promise<string[]> {
  return (await store.readStream(paymentStreamName(TENANT, paymentId as PaymentId))).map((event) => event.type);
}

async function statusOf(payments: PaymentsModule, paymentId: string): Promise<PaymentStatus | undefined> {
  return (await payments.getPayment(TENANT, paymentId as PaymentId))?.state.status;
}

/** Polls the payment until it is in one of `statuses` (bounded in time). */
export async function waitForStatus(payments: PaymentsModule, paymentId: string, statuses: readonly PaymentStatus[], timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let last: PaymentStatus | undefined;
  while (Date.now() < deadline) {
    const found = await payments.getPayment(TENANT, paymentId as PaymentId);
    last = found?.state.status;
    if (found && statuses.includes(found.state.status)) return found.state;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`payment ${paymentId} stayed ${last ?? 'absent'} for ${timeoutMs} ms; expected ${statuses.join(' or ')}`);
}
