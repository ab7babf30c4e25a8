/**
 * How fresh a read model is, for response headers, readiness and logs, read from
 * the checkpoint rows so that an API process sees the lag of a projector running
 * in another process. Lag is counted in events (up to a bound: counting further
 * would cost more than it tells) and in seconds (age of the oldest event the
 * projection has not applied yet).
 */
import type { SqlClient } from '../db/database';
import { comparePositions, type EventStore, type GlobalPosition } from '../event-store/port';
import { readCheckpoint, type CheckpointStatus } from './checkpoints';
import type { Projection } from './projection';

export interface ProjectionFreshness {
  readonly name: string;
  readonly status: CheckpointStatus | 'missing';
  readonly position: GlobalPosition | undefined;
  /** Events of the projection's filter after its position, counted up to `lagEventsCountMax`. */
  readonly eventsBehind: number;
  /** True when there are at least `eventsBehind` events, maybe more. */
  readonly eventsBehindCapped: boolean;
  readonly secondsBehind: number;
  readonly error: string | null;
}

export interface WaitResult {
  readonly reached: boolean;
  readonly freshness: ProjectionFreshness;
  /**
   * Set when `target` is after the newest position the log has written: no
   * append ever answered it, so no wait could reach it and none was made.
   * The log's newest written position.
   */
  readonly beyondLog?: GlobalPosition;
}

export interface Freshness {
  current(name: string): Promise<ProjectionFreshness>;
  /**
   * Waits until the projection's position is at or after `target`, at most
   * `timeoutMs`; answers at once when the target is beyond the log (`beyondLog`).
   */
  waitFor(name: string, target: GlobalPosition, timeoutMs: number): Promise<WaitResult>;
}

export interface FreshnessOptions {
  readonly database: SqlClient;
  readonly store: EventStore;
  readonly projections: readonly Projection[];
  readonly lagEventsCountMax?: number;
  /** Lag figures are reused this long for the same checkpoint position. */
  readonly lagCacheMs?: number;
  /** How often a wait looks at the checkpoint again. */
  readonly waitPollIntervalMs?: number;
  readonly now?: () => number;
}

interface CachedLag {
  readonly positionText: string;
  readonly at: number;
  readonly eventsBehind: number;
  readonly capped: boolean;
  readonly oldestPendingMs: number | undefined;
}

export function createFreshness(options: FreshnessOptions): Freshness {
  const lagEventsCountMax = options.lagEventsCountMax ?? 1_000;
  const lagCacheMs = options.lagCacheMs ?? 1_000;
  const waitPollIntervalMs = options.waitPollIntervalMs ?? 25;
  const now = options.now ?? Date.now;
  const cache = new Map<string, CachedLag>();

  function projectionNamed(name: string): Projection {
    const projection = options.projections.find((candidate) => candidate.name === name);
    if (!projection) throw new Error(`unknown projection ${name}`);
    return projection;
  }

  async function lagOf(projection: Projection, position: GlobalPosition): Promise<CachedLag> {
    const positionText = `${position.commit}/${position.prepare}`;
    const cached = cache.get(projection.name);
    if (cached && cached.positionText === positionText && now() - cached.at < lagCacheMs) return cached;
    const pending = await options.store.readAll({ fromPosition: position, limit: lagEventsCountMax, filter: projection.filter });
    const lag: CachedLag = {
      positionText,
      at: now(),
      eventsBehind: pending.length,
      capped: pending.length >= lagEventsCountMax,
      oldestPendingMs: pending[0]?.recordedAt.getTime(),
    };
    cache.set(projection.name, lag);
    return lag;
  }

  async function current(name: string): Promise<ProjectionFreshness> {
    const projection = projectionNamed(name);
    const checkpoint = await readCheckpoint(options.database, name);
    if (!checkpoint) {
      return { name, status: 'missing', position: undefined, eventsBehind: 0, eventsBehindCapped: false, secondsBehind: 0, error: 'no checkpoint' };
    }
    const lag = await lagOf(projection, checkpoint.position);
    return {
      name,
      status: checkpoint.status,
      position: checkpoint.position,
      eventsBehind: lag.eventsBehind,
      eventsBehindCapped: lag.capped,
      secondsBehind: lag.oldestPendingMs === undefined ? 0 : Math.max(0, (now() - lag.oldestPendingMs) / 1000),
      error: checkpoint.error,
    };
  }

  async function waitFor(name: string, target: GlobalPosition, timeoutMs: number): Promise<WaitResult> {
    projectionNamed(name);
    const deadline = now() + timeoutMs;
    for (let polls = 0; ; polls += 1) {
      const checkpoint = await readCheckpoint(options.database, name);
      const reached = checkpoint !== undefined && comparePositions(checkpoint.position, target) >= 0;
      if (!reached && polls === 0) {
        // Rationale: the last written position, not headPosition. A position an append has
        // just answered can be ahead of what readers see while an older transaction is
        // still open; that one will be reached and must be waited for, not refused.
        const lastWritten = await options.store.lastWrittenPosition();
        if (comparePositions(target, lastWritten) > 0) return { reached: false, freshness: await current(name), beyondLog: lastWritten };
      }
      if (reached || now() >= deadline) return { reached, freshness: await current(name) };
      await new Promise((resolve) => setTimeout(resolve, Math.min(waitPollIntervalMs, Math.max(1, deadline - now()))));
    }
  }

  return { current, waitFor };
}
