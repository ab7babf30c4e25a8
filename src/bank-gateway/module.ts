/**
 * The gateway module's factories: the gateway itself (the gateway process and
 * the all-in-one start it through this) and the side of it the operator desk
 * is handed (work queue, bank lookups), so the API never builds them itself.
 */
import type { ProcessModule } from '../shared/process-module';
import type { Database } from '../db/database';
import type { Logger } from '../logging';
import type { BankClient } from './bank-client';
import { composeBankGateway, createBankClientFromConfig, gatewayFigures, type ComposeOptions, type GatewayParts } from './compose';
import type { GatewayConfig } from './config';
import { createWorkQueue, migrateWorkQueue, type WorkQueue } from './work-queue';
import { registerGatewayMetrics } from '../observability/metrics';

export type GatewayModuleOptions = ComposeOptions;

export interface GatewayModule extends ProcessModule {
  /** The assembled parts, for callers that inspect them (tests, the crash points). */
  readonly parts: GatewayParts;
}

export function createGatewayModule(options: GatewayModuleOptions): GatewayModule {
  const parts = composeBankGateway(options);
  let unregister: (() => void) | undefined;
  return {
    async start() {
      await parts.gateway.start();
      unregister = registerGatewayMetrics(gatewayFigures(parts, options.store));
    },
    async stop() {
      unregister?.();
      await parts.gateway.stop();
    },
    readinessChecks: new Map([['gateway', parts.gateway.readiness]]),
    parts,
  };
}

/** What the operator desk uses of the gateway's side: the work queue it lists and requeues, and a bank to look transfers up at. */
export interface OperatorBankAccess {
  /** Creates the work queue's table if missing, so an API started before any gateway still answers. */
  prepare(): Promise<void>;
  readonly workQueue: WorkQueue;
  readonly bank: BankClient;
}

export interface OperatorBankAccessOptions {
  /** Names the bank an operator's lookup goes to. */
  readonly config: GatewayConfig;
  readonly database: Database;
  readonly logger: Logger;
}

export function createOperatorBankAccess(options: OperatorBankAccessOptions): OperatorBankAccess {
  const workQueue = createWorkQueue(options.database, { migrate: migrateWorkQueue });
  return {
    prepare: () => workQueue.migrate(),
    workQueue,
    // Its own bank client: an open circuit in a gateway must not block an operator's lookup.
    bank: createBankClientFromConfig(options.config, options.logger),
  };
}
