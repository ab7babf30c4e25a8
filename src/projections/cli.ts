/**
 * `npm run projections -- <command>`: list | status | rebuild <name> [--restart] |
 * skip <name> | resume <name>. Works against the configured stores (same env as
 * the other processes) and is safe while projectors run: every change goes
 * through the checkpoint row, which the runners lock and compare.
 */
import type { Database } from '../db/database';
import { loadConfig, readCoreConfig } from '../config';
import { openStores } from '../event-store/open';
import { formatPosition, type EventStore } from '../event-store/port';
import { createLogger, type Logger } from '../logging';
import { ensureProjectionSchema, listCheckpoints } from './checkpoints';
import { createFreshness } from './freshness';
import { resumeProjection, skipPoisonEvent } from './operations';
import { createProgressReporter } from './progress';
import type { Projection } from './projection';
import { findReadModel, READ_MODELS } from './read-models';
import { rebuildProjection, RebuildInterruptedError } from './rebuild';

const SECOND_INTERRUPT_GAP_MS_MIN = 1_000;

export const USAGE = `usage: npm run projections -- <command>
  list                       the read models and their tables
  status                     each projection's position, status, lag and error
  rebuild <name> [--restart] replay the log into shadow tables, then swap them in
  skip <name>                move a stopped projection past its poison event
  resume <name>              retry a stopped projection (after a fix)`;

export interface CliDeps {
  readonly database: Database;
  readonly store: EventStore;
  readonly logger: Logger;
  readonly out: (line: string) => void;
  readonly projections?: readonly Projection[];
  readonly signal?: AbortSignal;
}

/** Runs one command; returns the process exit code. */
export async function runCli(args: readonly string[], deps: CliDeps): Promise<number> {
  const projections = deps.projections ?? READ_MODELS;
  const [command, name] = args;
  const named = () => {
    const projection = name === undefined ? undefined : findReadModel(name, projections);
    if (!projection) throw new UsageError(`unknown projection ${name ?? '(none given)'}; one of: ${projections.map((p) => p.name).join(', ')}`);
    return projection;
  };
  switch (command) {
    case 'list':
      for (const projection of projections) {
        deps.out(`${projection.name}  v${projection.version}  tables: ${projection.tables.map((table) => table.name).join(', ')}  — ${projection.description}`);
      }
      return 0;
    case 'status':
      return status(deps, projections);
    case 'rebuild': {
      const projection = named();
      const reporter = createProgressReporter(deps.logger);
      try {
        const result = await rebuildProjection({ ...deps, projection, restart: args.includes('--restart'), onProgress: (progress) => reporter.update(progress), ...(deps.signal ? { signal: deps.signal } : {}) });
        reporter.stop();
        deps.out(`rebuilt ${result.projection}: ${result.eventsApplied} events in ${(result.elapsedMs / 1000).toFixed(1)} s (${Math.round(result.eventsPerSecond)} events/s), swapped in at ${formatPosition(result.position)}${result.resumed ? ' (resumed)' : ''}`);
        return 0;
      } finally {
        reporter.stop();
      }
    }
    case 'skip': {
      const projection = named();
      const outcome = await skipPoisonEvent(deps.database, projection.name, `cli:${process.env.USER ?? 'unknown'}`);
      deps.out(`skipped ${outcome.skipped.eventType ?? 'event'} ${outcome.skipped.eventId ?? ''} at ${formatPosition(outcome.skipped.position)} (${outcome.skipped.error ?? 'no error recorded'}); ${projection.name} runs again`);
      return 0;
    }
    case 'resume': {
      const projection = named();
      const outcome = await resumeProjection(deps.database, projection.name);
      deps.out(`${projection.name} resumes from ${outcome.position}`);
      return 0;
    }
    default:
      throw new UsageError(command === undefined ? 'no command given' : `unknown command ${command}`);
  }
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

async function status(deps: CliDeps, projections: readonly Projection[]): Promise<number> {
  await ensureProjectionSchema(deps.database, projections);
  const freshness = createFreshness({ database: deps.database, store: deps.store, projections });
  const checkpoints = await listCheckpoints(deps.database);
  for (const projection of projections) {
    const current = await freshness.current(projection.name);
    const behind = `${current.eventsBehind}${current.eventsBehindCapped ? '+' : ''} events, ${current.secondsBehind.toFixed(1)} s behind`;
    deps.out(`${projection.name}  ${current.status}  at ${current.position ? formatPosition(current.position) : '-'}  ${behind}${current.error ? `  error: ${current.error}` : ''}`);
    const rebuild = checkpoints.find((checkpoint) => checkpoint.name === `${projection.name}#rebuild`);
    if (rebuild) deps.out(`  rebuild in progress at ${formatPosition(rebuild.position)} (${rebuild.eventsApplied} events); run rebuild again to resume`);
  }
  return projections.every((projection) => checkpoints.find((checkpoint) => checkpoint.name === projection.name)?.status === 'running') ? 0 : 2;
}

async function main(): Promise<void> {
  const { core } = loadConfig({ core: readCoreConfig });
  const logger = createLogger({ level: core.logLevel, name: 'paystream-projections' });
  const stores = await openStores(core, logger);
  const controller = new AbortController();
  // First Ctrl-C stops a rebuild cleanly between batches (resumable); a second one exits at once.
  // Rationale for the gap: under `npm run`, one Ctrl-C reaches this process twice (from the
  // terminal and relayed by the tsx runner), which must not count as the second.
  let interruptedAt: number | undefined;
  process.on('SIGINT', () => {
    if (interruptedAt === undefined) {
      interruptedAt = Date.now();
      controller.abort();
      process.stderr.write('stopping after the current batch; Ctrl-C again to exit at once\n');
    } else if (Date.now() - interruptedAt >= SECOND_INTERRUPT_GAP_MS_MIN) {
      process.exit(130);
    }
  });
  try {
    process.exitCode = await runCli(process.argv.slice(2), { database: stores.database, store: stores.store, logger, out: (line) => process.stdout.write(`${line}\n`), signal: controller.signal });
  } catch (error) {
    if (error instanceof UsageError) process.stderr.write(`${error.message}\n\n${USAGE}\n`);
    else process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = error instanceof UsageError ? 64 : error instanceof RebuildInterruptedError ? 130 : 1;
  } finally {
    await stores.close();
  }
}

if (require.main === module) void main();
