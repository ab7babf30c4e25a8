/**
 * API worker processes through node:cluster (docs/adr/0013-lean-request-path.md, "API workers"). The
 * primary only forks, restarts a worker that died, and passes SIGTERM/SIGINT
 * on; the workers share the listening port and each runs the ordinary process
 * entry. Rationale: one Node thread was the API's bottleneck on the server
 * stores (issue 13), and the store, not the process, is what keeps payments
 * exact, so N processes answer exactly as one does.
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { createLogger } from '../logging';

export const WORKER_RESTART_DELAY_MS = 1_000;

/** Workers for a configured count (0 is one per core) on a store kind; the embedded store has one connection, so one process. */
export function apiWorkerCount(configured: number, eventStore: string): number {
  if (eventStore === 'pglite') return 1;
  return configured === 0 ? availableParallelism() : configured;
}

/** A per-process limit as each of `workers` processes' share of it, so that the whole API keeps to it (0 stays off). */
export function perWorkerShare(limit: number, workers: number): number {
  return limit === 0 ? 0 : Math.max(1, Math.ceil(limit / workers));
}

/** Runs `work` here when one process is asked for (or in a worker); else becomes the primary of `workers`. */
export function runClustered(name: string, workers: number, work: () => void): void {
  if (workers <= 1 || cluster.isWorker) {
    work();
    return;
  }
  runPrimary(name, workers);
}

function runPrimary(name: string, workers: number): void {
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'info', name: `${name}-primary` });
  const forkedAt = new Map<Worker, number>();
  /** Workers that have listened: one that exits with an error before that failed to start, and restarting it would only loop. */
  const listened = new WeakSet<Worker>();
  let stopping = false;
  let exitCode = 0;
  const fork = () => forkedAt.set(cluster.fork(), Date.now());

  cluster.on('listening', (worker) => listened.add(worker));
  cluster.on('exit', (worker, code, signal) => {
    forkedAt.delete(worker);
    if (stopping) {
      if (code !== 0) exitCode = 1;
      process.exitCode = exitCode;
      if (forkedAt.size === 0) process.exit(exitCode);
      return;
    }
    if (!listened.has(worker) && signal === null && code !== 0) {
      logger.fatal({ pid: worker.process.pid, code, signal }, `${name}: a worker failed to start; stopping`);
      stop('worker-failed', 1);
      return;
    }
    logger.error({ pid: worker.process.pid, code, signal }, `${name}: a worker died; starting another`);
    setTimeout(() => {
      if (!stopping) fork();
    }, WORKER_RESTART_DELAY_MS).unref();
  });

  const stop = (reason: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    // Also when the last worker's end lets the event loop empty before its 'exit' is handled.
    process.exitCode = code;
    logger.info({ reason, workers: forkedAt.size }, `${name} stopping its workers`);
    if (forkedAt.size === 0) process.exit(exitCode);
    for (const worker of forkedAt.keys()) worker.process.kill('SIGTERM');
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  logger.info({ workers }, `${name} starting ${workers} workers`);
  for (let index = 0; index < workers; index++) fork();
}
