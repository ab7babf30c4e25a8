/**
 * The API's route modules beyond payments, built from the process's parts. The
 * API process and the all-in-one process both use this, so the routes an
 * operator or analyst reaches are the same whichever way paystream runs.
 */
import type { Router } from 'express';
import { createOperatorActions } from '../application/operator-actions';
import type { PaymentsModule } from '../application/payments';
import { createBankClientFromConfig } from '../bank-gateway/compose';
import type { GatewayConfig } from '../bank-gateway/config';
import { createWorkQueue, migrateWorkQueue } from '../bank-gateway/work-queue';
import type { CoreConfig } from '../config/core';
import type { Database } from '../db/database';
import type { EventStore } from '../event-store/port';
import type { Logger } from '../logging';
import { ensureProjectionSchema } from '../projections/checkpoints';
import { createFreshness, type Freshness } from '../projections/freshness';
import { createReadModelQueries } from '../projections/read-models/queries';
import { READ_MODELS } from '../projections/read-models';
import { createAnalyticsRouter } from './analytics/routes';
import { createDashboardRouter } from './dashboard/routes';
import { createOpsPortalRouter } from './ops-portal/routes';
import type { ExtraRoutersContext } from './server';
import { createOpsRouter } from './ops/routes';

export interface StaffRoutesOptions {
  readonly store: EventStore;
  /** Where the read models and the gateway's work queue live. */
  readonly database: Database;
  readonly gateway: GatewayConfig;
  readonly logger: Logger;
  readonly readWaitMsMax: number;
  readonly operatorDesk: OperatorDeskSettings;
  /** The projector's own freshness when it runs in this process; else read from the checkpoints. */
  readonly freshness?: Freshness;
}

export interface OperatorDeskSettings {
  readonly approvalTtlMs: number;
  readonly replayWindowMs: number;
  readonly actionLimitPerHour: number;
}

/** The operator desk's settings from the core configuration, picked in one place for both API entry points. */
export function operatorDeskSettingsFrom(core: Pick<CoreConfig, 'approvalTtlMs' | 'replayWindowMs' | 'opsActionLimitPerHour'>): OperatorDeskSettings {
  return { approvalTtlMs: core.approvalTtlMs, replayWindowMs: core.replayWindowMs, actionLimitPerHour: core.opsActionLimitPerHour };
}

export type ExtraRouters = (context: ExtraRoutersContext) => { routers: Router[]; publicRouters: Router[] };

/**
 * Prepares the tables the staff routes read (idempotent migrations, so an API
 * started before the projector or the gateway still answers, with empty
 * results and an honest freshness) and returns the routers.
 */
export async function prepareStaffRoutes(options: StaffRoutesOptions): Promise<ExtraRouters> {
  await ensureProjectionSchema(options.database, READ_MODELS);
  const workQueue = createWorkQueue(options.database, { migrate: migrateWorkQueue });
  await workQueue.migrate();
  const freshness = options.freshness ?? createFreshness({ database: options.database, store: options.store, projections: READ_MODELS });
  // Its own bank client: an open circuit in a gateway must not block an operator's lookup.
  const bank = createBankClientFromConfig(options.gateway, options.logger);
  return ({ registry, payments, idempotency }) => ({
    routers: [
      createOpsRouter({
        operatorActions: createOperatorActions({ store: options.store, payments, bank, replayWindowMs: options.operatorDesk.replayWindowMs, approvalTtlMs: options.operatorDesk.approvalTtlMs }),
        workQueue,
        idempotency,
        now: () => new Date(),
        registry,
        actionLimitPerHour: options.operatorDesk.actionLimitPerHour,
      }),
      createAnalyticsRouter({ queries: createReadModelQueries(options.database), freshness, registry, readWaitMsMax: options.readWaitMsMax }),
    ],
    publicRouters: [createDashboardRouter(), createOpsPortalRouter()],
  });
}
