/**
 * Builds the gateway and its parts from the validated configuration. The entry
 * file, the all-in-one process and the tests use this one function, so what is
 * tested is what runs.
 */
import type { PaymentsModule } from '../application/payments';
import type { Database } from '../db/database';
import type { EventStore } from '../event-store/port';
import type { Logger } from '../logging';
import type { BankClient } from './bank-client';
import type { GatewayConfig } from './config';
import { createCrashPoints, type CrashPoints } from './crash-points';
import { createBankGateway, type BankGateway } from './gateway';
import { createHttpBankClient } from './http-bank-client';
import { EventStoreDbEventStore } from '../event-store/eventstoredb/eventstoredb-event-store';
import { createPersistentSubscriptionFeeder } from './eventstoredb-work-source';
import { createWorkFeeder, FEEDER_FILTER, type Feeder } from './work-feeder';
import { instrumentBankClient } from './instrumented-bank-client';
import type { GatewayFigures } from '../observability/metrics';
import { createWorkQueue, migrateWorkQueue, type WorkQueue } from './work-queue';

/** Events per feeder transaction. */
export const FEEDER_BATCH_SIZE_MAX = 500;

export interface GatewayParts {
  readonly gateway: BankGateway;
  readonly workQueue: WorkQueue;
  readonly bank: BankClient;
  readonly crashPoints: CrashPoints;
  readonly feeder: Feeder;
}

const LAG_EVENTS_COUNT_MAX = 1_000;

export interface ComposeOptions {
  readonly config: GatewayConfig;
  readonly nodeEnv: string | undefined;
  readonly store: EventStore;
  readonly database: Database;
  readonly payments: PaymentsModule;
  readonly logger: Logger;
  readonly now?: () => Date;
  readonly statusLogIntervalMs?: number;
}

export function createBankClientFromConfig(config: GatewayConfig, logger: Logger): BankClient {
  return createHttpBankClient({
    baseUrl: config.bankUrl.replace(/\/+$/, ''),
    apiKey: config.bankApiKey,
    timeoutMs: config.bankTimeoutMs,
    lookupRetryCountMax: config.lookupRetryCountMax,
    lookupBackoffBaseMs: Math.min(config.backoffBaseMs, config.bankTimeoutMs),
    circuitFailureCountMax: config.circuitFailureCountMax,
    circuitHalfOpenAfterMs: config.circuitHalfOpenAfterMs,
    logger,
  });
}

export function composeBankGateway(options: ComposeOptions): GatewayParts {
  const { config, logger } = options;
  const bank = instrumentBankClient(createBankClientFromConfig(config, logger));
  const workQueue = createWorkQueue(options.database, { migrate: migrateWorkQueue });
  const feeder = createFeeder(options);
  const crashPoints = createCrashPoints({ spec: config.crashPoints, nodeEnv: options.nodeEnv, logger });
  const gateway = createBankGateway({
    payments: options.payments,
    store: options.store,
    workQueue,
    feeder,
    bank,
    logger,
    settings: config,
    crashPoints,
    ...(options.now ? { now: options.now } : {}),
    ...(options.statusLogIntervalMs ? { statusLogIntervalMs: options.statusLogIntervalMs } : {}),
  });
  return { gateway, workQueue, bank, crashPoints, feeder };
}

/** The gateway's figures for /metrics, read when scraped. */
export function gatewayFigures(parts: GatewayParts, store: EventStore): () => Promise<GatewayFigures> {
  return async () => {
    const fed = parts.feeder.position();
    const [queue, pending] = await Promise.all([
      parts.workQueue.stats(),
      fed === undefined ? Promise.resolve([]) : store.readAll({ fromPosition: fed, limit: LAG_EVENTS_COUNT_MAX, filter: FEEDER_FILTER }),
    ]);
    return { inFlight: parts.gateway.inFlightCount(), lagEvents: pending.length, parked: queue.parked, circuit: parts.bank.circuitStatus() };
  };
}

/**
 * The catch-up feeder works on every store; on EventStoreDB the consumer group
 * is the default, so the server spreads the feeding and parks what fails.
 * Either way the never-twice guarantee rests on the intent's expected revision,
 * not on how the work is distributed.
 */
function createFeeder(options: ComposeOptions): Feeder {
  const { config, store, database, logger } = options;
  const onEventStoreDb = store instanceof EventStoreDbEventStore;
  if (config.workSource === 'persistent-subscription' && !onEventStoreDb) {
    throw new Error('GATEWAY_WORK_SOURCE=persistent-subscription needs EVENT_STORE=eventstoredb');
  }
  if (onEventStoreDb && config.workSource !== 'catch-up') {
    logger.info({ workSource: 'persistent-subscription' }, 'gateway work arrives through the EventStoreDB consumer group');
    return createPersistentSubscriptionFeeder({ client: store.esdbClient(), database, logger });
  }
  return createWorkFeeder({ store, database, logger, batchSizeMax: FEEDER_BATCH_SIZE_MAX });
}
