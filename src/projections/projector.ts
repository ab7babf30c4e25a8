/**
 * The projector: sets up the read models' tables, runs one worker per projection,
 * and reports their state (readiness, lag in logs, freshness for the API). Built
 * from its dependencies so the projector process and the all-in-one process wire
 * the same thing.
 */
import type { Database } from '../db/database';
import { formatPosition, type EventStore } from '../event-store/port';
import type { ReadinessCheck, ReadinessReport } from '../shared/readiness';
import type { Logger } from '../logging';
import { ensureProjectionSchema } from './checkpoints';
import { createFreshness, type Freshness, type ProjectionFreshness } from './freshness';
import type { Projection } from './projection';
import { READ_MODELS } from './read-models';
import { DEFAULT_RUNNER_LIMITS, ProjectionWorker, type RunnerLimits } from './runner';

export interface ProjectorOptions {
  readonly database: Database;
  readonly store: EventStore;
  readonly logger: Logger;
  readonly projections?: readonly Projection[];
  readonly limits?: Partial<RunnerLimits>;
  /** How often each projection's lag is logged. */
  readonly lagLogIntervalMs?: number;
}

export interface Projector {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly readiness: ReadinessCheck;
  readonly freshness: Freshness;
  /** Each projection's freshness, in the order they were given. */
  report(): Promise<ProjectionFreshness[]>;
  /** Lets idle workers look for events now (e.g. right after this process appended). */
  wake(): void;
}

export function createProjector(options: ProjectorOptions): Projector {
  const projections = options.projections ?? READ_MODELS;
  const limits: RunnerLimits = { ...DEFAULT_RUNNER_LIMITS, ...options.limits };
  const logger = options.logger.child({ component: 'projector' });
  const workers = projections.map((projection) => new ProjectionWorker(projection, { database: options.database, store: options.store, logger, limits }));
  const freshness = createFreshness({ database: options.database, store: options.store, projections });
  let lagTimer: NodeJS.Timeout | undefined;

  async function report(): Promise<ProjectionFreshness[]> {
    return Promise.all(projections.map((projection) => freshness.current(projection.name)));
  }

  async function logLag(): Promise<void> {
    for (const entry of await report()) {
      const fields = { projection: entry.name, status: entry.status, position: entry.position && formatPosition(entry.position), eventsBehind: entry.eventsBehind, secondsBehind: entry.secondsBehind };
      if (entry.status === 'running') logger.info(fields, 'projection lag');
      else logger.error({ ...fields, error: entry.error }, 'projection not running');
    }
  }

  const readiness: ReadinessCheck = async (): Promise<ReadinessReport> => {
    const entries = await report();
    const details = Object.fromEntries(
      entries.map((entry) => [
        entry.name,
        {
          status: entry.status,
          position: entry.position ? formatPosition(entry.position) : null,
          eventsBehind: entry.eventsBehindCapped ? `${entry.eventsBehind}+` : entry.eventsBehind,
          secondsBehind: Math.round(entry.secondsBehind * 10) / 10,
          ...(entry.error ? { error: entry.error } : {}),
        },
      ]),
    );
    return { healthy: entries.every((entry) => entry.status === 'running'), details };
  };

  return {
    async start() {
      await ensureProjectionSchema(options.database, projections);
      for (const worker of workers) worker.start();
      const interval = options.lagLogIntervalMs ?? 30_000;
      lagTimer = setInterval(() => void logLag().catch((error: unknown) => logger.warn({ err: error }, 'could not measure projection lag')), interval);
      lagTimer.unref();
      logger.info({ projections: projections.map((projection) => projection.name) }, 'projector started');
    },
    async stop() {
      clearInterval(lagTimer);
      await Promise.all(workers.map((worker) => worker.stop()));
      logger.info('projector stopped');
    },
    readiness,
    freshness,
    report,
    wake: () => workers.forEach((worker) => worker.wake()),
  };
}
