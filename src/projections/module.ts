/**
 * The projections module's factories: the projector (the projector process and
 * the all-in-one start the read models through it) and the read side the API
 * is handed (queries and freshness), so no other module touches their tables.
 */
import type { Database } from '../db/database';
import type { EventStore } from '../event-store/port';
import type { Logger } from '../logging';
import type { ProcessModule } from '../shared/process-module';
import type { ProjectorConfig } from './config';
import { ensureProjectionSchema } from './checkpoints';
import { createFreshness, type Freshness } from './freshness';
import { createProjector } from './projector';
import { READ_MODELS } from './read-models';
import { createReadModelQueries, type ReadModelQueries } from './read-models/queries';
import { registerProjectorMetrics } from '../observability/metrics';

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
  let unregister: (() => void) | undefined;
  const figures = async () =>
    (await projector.report()).map((entry) => ({ projection: entry.name, lagEvents: entry.eventsBehind, lagSeconds: entry.secondsBehind }));
  return {
    async start() {
      await projector.start();
      unregister = registerProjectorMetrics(figures);
    },
    async stop() {
      unregister?.();
      await projector.stop();
    },
    readinessChecks: new Map([['projections', projector.readiness]]),
    freshness: projector.freshness,
  };
}

/** What the API reads from the read models: their queries and how fresh they are. */
export interface ReadModelAccess {
  /** Creates the read models' tables if missing, so an API started before the projector answers (empty, honestly fresh). */
  prepare(): Promise<void>;
  readonly queries: ReadModelQueries;
  readonly freshness: Freshness;
}

export interface ReadModelAccessOptions {
  readonly store: EventStore;
  readonly database: Database;
  /** The projector's own freshness when it runs in this process; else read from the checkpoints. */
  readonly freshness?: Freshness;
}

export function createReadModelAccess(options: ReadModelAccessOptions): ReadModelAccess {
  return {
    prepare: () => ensureProjectionSchema(options.database, READ_MODELS),
    queries: createReadModelQueries(options.database),
    freshness: options.freshness ?? createFreshness({ database: options.database, store: options.store, projections: READ_MODELS }),
  };
}
