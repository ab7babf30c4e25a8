/**
 * What every module's factory returns (API, gateway, projector, sandbox bank,
 * relay): a part an entry file starts, and stops in the reverse order. The
 * factory takes everything the part depends on, so an entry file is only the
 * list of parts its process runs, and the all-in-one composes the same parts.
 */
import type { ReadinessChecks } from './readiness';

export interface ProcessModule {
  /** Sets up what the part needs (its tables, a listening socket) and starts its work. */
  start(): Promise<void>;
  /** Finishes or abandons in-flight work within the process's shutdown bound. */
  stop(): Promise<void>;
  /** What the part adds to its process's /health/ready; empty when it has nothing to say. */
  readonly readinessChecks: ReadinessChecks;
}
