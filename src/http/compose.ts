/**
 * The API's route modules beyond payments, built from the process's parts. The
 * API process and the all-in-one process both use this, so the routes an
 * operator or analyst reaches are the same whichever way paystream runs.
 */
import type { Router } from 'express';
import { createOperatorActions } from '../application/operator-actions';
import type { OperatorBankAccess } from '../bank-gateway/module';
import type { CoreConfig } from '../config/core';
import type { EventStore } from '../event-store/port';
import type { Logger } from '../logging';
import type { ReadModelAccess } from '../projections/module';
import { createAnalyticsRouter } from './analytics/routes';
import { createDashboardRouter } from './dashboard/routes';
import { createOpsPortalRouter } from './ops-portal/routes';
import type { ExtraRoutersContext } from './server';
import { createOpsRouter } from './ops/routes';

export interface StaffRoutesOptions {
  readonly store: EventStore;
  /** The read models' queries and freshness, built by the projections module. */
  readonly readModels: ReadModelAccess;
  /** The work queue and the bank lookups, built by the gateway module. */
  readonly bankAccess: OperatorBankAccess;
  readonly logger: Logger;
  readonly readWaitMsMax: number;
  readonly operatorDesk: OperatorDeskSettings;
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
  await options.readModels.prepare();
  await options.bankAccess.prepare();
  const { workQueue, bank } = options.bankAccess;
  const { queries, freshness } = options.readModels;
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
      createAnalyticsRouter({ queries, freshness, registry, readWaitMsMax: options.readWaitMsMax }),
    ],
    publicRouters: [createDashboardRouter(), createOpsPortalRouter()],
  });
}
