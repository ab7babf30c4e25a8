/**
 * The projector module's factory: the projector process and the all-in-one both
 * start the read models through this, from the projector's configuration.
 */
import type { Database } from '../db/database';
import type { EventStore } from '../event-store/port';
import type { Logger } from '../logging';
import type { ProcessModule } from '../shared/process-module';
import type { ProjectorConfig } from './config';
import type { Freshness } from './freshness';
import { createProjector } from './projector';

export interface ProjectorModuleOptions {
  readonly config: Pick<ProjectorConfig, 'batchSizeMax' | 'pollIntervalMs' | 'lagLogIntervalMs'>;
  readonly store: EventStore;
  /** Where the read models and their checkpoints live. */
  readonly database: Database;
  readonly logger: Logger;
}

export interface ProjectorModule extends ProcessModule {
  /** How far behind each read model is, for the API's analyst routes in the same process. */
  readonly freshness: Freshness;
}

export function createProjectorModule(options: ProjectorModuleOptions): ProjectorModule {
  const { config } = options;
  const projector = createProjector({
    database: options.database,
    store: options.store,
    logger: options.logger,
    limits: { batchSizeMax: config.batchSizeMax, pollIntervalMs: config.pollIntervalMs },
    lagLogIntervalMs: config.lagLogIntervalMs,
  });
  return {
    start: () => projector.start(),
    stop: () => projector.stop(),
    readinessChecks: new Map([['projections', projector.readiness]]),
    freshness: projector.freshness,
  };
}
