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
import { createWorkFeeder, type Feeder } from './work-feeder';
import { createWorkQueue, migrateWorkQueue, type WorkQueue } from './work-queue';

/** Events per feeder transaction. */
export const FEEDER_BATCH_SIZE_MAX = 500;

export interface GatewayParts {
  readonly gateway: BankGateway;
  readonly workQueue: WorkQueue;
  readonly bank: BankClient;
  readonly crashPoints: CrashPoints;
}

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
  const bank = createBankClientFromConfig(config, logger);
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
  return { gateway, workQueue, bank, crashPoints };
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
