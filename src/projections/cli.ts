/**
 * `npm run projections -- <command>`: list | status | rebuild <name> [--restart]
 * [--batch-size <n>] | skip <name> | resume <name>. Works against the configured
 * stores (same env as the other processes) and is safe while projectors run:
 * every change goes through the checkpoint row, which the runners lock and compare.
 *
 * stdout carries only the command's output (so it can be piped or parsed);
 * log lines and the progress bar go to stderr.
 */
import { parseArgs as parseNodeArgs } from 'node:util';
import pino from 'pino';
import type { Database } from '../db/database';
import { loadConfig, readCoreConfig } from '../config';
import { openStores } from '../event-store/open';
import { formatPosition, START, comparePositions, type EventStore, type GlobalPosition } from '../event-store/port';
import { createLogger, type Logger } from '../logging';
import { CHECKPOINT_TABLE, listCheckpoints, rebuildCheckpointName } from './checkpoints';
import { createFreshness } from './freshness';
import { resumeProjection, skipPoisonEvent } from './operations';
import { createProgressReporter, type ProgressStream } from './progress';
import type { Projection } from './projection';
import { findReadModel, READ_MODELS } from './read-models';
import { rebuildProjection, RebuildInterruptedError, REBUILD_BATCH_SIZE_MAX } from './rebuild';

const SECOND_INTERRUPT_GAP_MS_MIN = 1_000;
/** The SQL stores page at most this many events per read. */
const BATCH_SIZE_MAX = 10_000;
/** `status` counts a never-run projection's pending events up to this many, as freshness does. */
const PENDING_EVENTS_COUNT_MAX = 1_000;

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_NOT_ALL_RUNNING = 2;
export const EXIT_USAGE = 64;
export const EXIT_INTERRUPTED = 130;

export const USAGE = `usage: npm run projections -- <command>
  list                       the read models and their tables
  status                     each projection's position, status, lag and error
  rebuild <name> [--restart] [--batch-size <n>]
                             replay the log into shadow tables, then swap them in
                             (--batch-size: events per batch, 1-${BATCH_SIZE_MAX}, default ${REBUILD_BATCH_SIZE_MAX})
  skip <name>                move a stopped projection past its poison event
  resume <name>              retry a stopped projection (after a fix)`;

export interface CliDeps {
  readonly database: Database;
  readonly store: EventStore;
  readonly logger: Logger;
  readonly out: (line: string) => void;
  readonly projections?: readonly Projection[];
  readonly signal?: AbortSignal;
  /** Where the rebuild's progress goes (a bar when it is a terminal); default stderr. */
  readonly progressStream?: ProgressStream;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type CliCommand =
  | { readonly command: 'list' }
  | { readonly command: 'status' }
  | { readonly command: 'rebuild'; readonly projection: Projection; readonly restart: boolean; readonly batchSizeMax: number }
  | { readonly command: 'skip' | 'resume'; readonly projection: Projection };

/** Parses the arguments, or throws UsageError: before any store is opened, so a typo never waits for a database. */
export function parseArgs(args: readonly string[], projections: readonly Projection[] = READ_MODELS): CliCommand {
  const [command, ...rest] = args;
  const { positionals, values } = parseOptions(rest, command);
  const named = () => {
    const [name, ...extra] = positionals;
    const projection = name === undefined ? undefined : findReadModel(name, projections);
    if (!projection) throw new UsageError(`unknown projection ${name ?? '(none given)'}; one of: ${projections.map((p) => p.name).join(', ')}`);
    if (extra.length > 0) throw new UsageError(`unexpected argument ${extra[0]}`);
    return projection;
  };
  switch (command) {
    case 'list':
    case 'status':
      if (positionals[0] !== undefined) throw new UsageError(`unexpected argument ${positionals[0]}`);
      return { command };
    case 'skip':
    case 'resume':
      return { command, projection: named() };
    case 'rebuild':
      return { command, projection: named(), restart: values.restart === true, batchSizeMax: batchSizeOf(values['batch-size']) };
    default:
      throw new UsageError(command === undefined ? 'no command given' : `unknown command ${command}`);
  }
}

/** Options exist for rebuild only; any other option, anywhere, is a usage error in our words. */
function parseOptions(rest: readonly string[], command: string | undefined) {
  try {
    return parseNodeArgs({
      args: [...rest],
      allowPositionals: true,
      strict: true,
      options: command === 'rebuild' ? { restart: { type: 'boolean' }, 'batch-size': { type: 'string' } } : {},
    });
  } catch (error) {
    const code = (error as { code?: string }).code;
    const option = /'(--?[^' ]+)/.exec(String(error))?.[1];
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option === '--batch-size') batchSizeOf('(nothing)');
    throw new UsageError(code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? `unknown option ${option} for ${command}` : String(error));
  }
}

function batchSizeOf(value: unknown): number {
  if (value === undefined) return REBUILD_BATCH_SIZE_MAX;
  const parsed = typeof value === 'string' && /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
  if (!(parsed >= 1 && parsed <= BATCH_SIZE_MAX)) throw new UsageError(`--batch-size must be a whole number from 1 to ${BATCH_SIZE_MAX}, not ${String(value)}`);
  return parsed;
}

/** Runs one command; returns the process exit code. Throws UsageError, RebuildInterruptedError and operation errors. */
export async function runCli(args: readonly string[], deps: CliDeps): Promise<number> {
  const projections = deps.projections ?? READ_MODELS;
  const parsed = parseArgs(args, projections);
  switch (parsed.command) {
    case 'list':
      list(deps.out, projections);
      return EXIT_OK;
    case 'status':
      return status(deps, projections);
    case 'rebuild': {
      const { projection } = parsed;
      const reporter = createProgressReporter(deps.logger, deps.progressStream);
      try {
        const result = await rebuildProjection({
          database: deps.database,
          store: deps.store,
          logger: deps.logger,
          projection,
          restart: parsed.restart,
          batchSizeMax: parsed.batchSizeMax,
          onProgress: (progress) => reporter.update(progress),
          ...(deps.signal ? { signal: deps.signal } : {}),
        });
        // Before the result line: a bar on the same terminal must be finished first.
        reporter.stop();
        deps.out(`rebuilt ${result.projection}: ${result.eventsApplied} events in ${(result.elapsedMs / 1000).toFixed(1)} s (${Math.round(result.eventsPerSecond)} events/s), swapped in at ${describePosition(result.position)}${result.resumed ? ' (resumed)' : ''}`);
        return EXIT_OK;
      } finally {
        reporter.stop();
      }
    }
    case 'skip': {
      const { projection } = parsed;
      const outcome = await skipPoisonEvent(deps.database, projection.name, `cli:${process.env.USER ?? 'unknown'}`);
      deps.out(`skipped ${outcome.skipped.eventType ?? 'event'} ${outcome.skipped.eventId ?? ''} at ${formatPosition(outcome.skipped.position)} (${outcome.skipped.error ?? 'no error recorded'}); ${projection.name} runs again`);
      return EXIT_OK;
    }
    case 'resume': {
      const { projection } = parsed;
      const outcome = await resumeProjection(deps.database, projection.name);
      deps.out(`${projection.name} resumes from ${outcome.position}`);
      return EXIT_OK;
    }
  }
}

function list(out: (line: string) => void, projections: readonly Projection[]): void {
  for (const projection of projections) {
    out(`${projection.name}  v${projection.version}  tables: ${projection.tables.map((table) => table.name).join(', ')}  — ${projection.description}`);
  }
}

const describePosition = (position: GlobalPosition) => (comparePositions(position, START) === 0 ? 'start of log' : formatPosition(position));

/**
 * Read-only: it creates no table and no checkpoint. Rationale: creating them here
 * (as the projector does at start) would make a projection that never ran look
 * `running` at the start of the log, to this command and to the API's headers.
 */
async function status(deps: CliDeps, projections: readonly Projection[]): Promise<number> {
  const checkpoints = (await checkpointTableExists(deps.database)) ? await listCheckpoints(deps.database) : [];
  const freshness = createFreshness({ database: deps.database, store: deps.store, projections });
  let allRunning = true;
  for (const projection of projections) {
    const live = checkpoints.find((checkpoint) => checkpoint.name === projection.name);
    if (!live) {
      allRunning = false;
      const pending = await deps.store.readAll({ limit: PENDING_EVENTS_COUNT_MAX, filter: projection.filter });
      const count = `${pending.length}${pending.length >= PENDING_EVENTS_COUNT_MAX ? '+' : ''}`;
      deps.out(`${projection.name}  missing  no checkpoint: no projector or rebuild has run on this database yet  ${count} events to project`);
    } else {
      const current = await freshness.current(projection.name);
      if (current.status !== 'running') allRunning = false;
      const behind = `${current.eventsBehind}${current.eventsBehindCapped ? '+' : ''} events, ${current.secondsBehind.toFixed(1)} s behind`;
      deps.out(`${projection.name}  ${current.status}  at ${current.position ? describePosition(current.position) : '-'}  ${behind}${current.error ? `  error: ${current.error}` : ''}`);
    }
    const rebuild = checkpoints.find((checkpoint) => checkpoint.name === rebuildCheckpointName(projection.name));
    if (rebuild) deps.out(`  rebuild in progress at ${describePosition(rebuild.position)} (${rebuild.eventsApplied} events); run rebuild again to resume`);
  }
  return allRunning ? EXIT_OK : EXIT_NOT_ALL_RUNNING;
}

async function checkpointTableExists(database: Database): Promise<boolean> {
  const result = await database.query<{ found: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS found`, [CHECKPOINT_TABLE]);
  return result.rows[0]?.found === true;
}

export function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError) return EXIT_USAGE;
  if (error instanceof RebuildInterruptedError) return EXIT_INTERRUPTED;
  return EXIT_ERROR;
}

function reportError(error: unknown): void {
  if (error instanceof UsageError) process.stderr.write(`${error.message}\n\n${USAGE}\n`);
  else process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  try {
    // Arguments first: a typo is answered at once, without a configuration or a database.
    const parsed = parseArgs(args);
    // The read models are code: listing them needs no configuration and no database.
    if (parsed.command === 'list') list((line) => process.stdout.write(`${line}\n`), READ_MODELS);
    else await run(args);
  } catch (error) {
    reportError(error);
    process.exitCode = exitCodeOf(error);
  }
}

async function run(args: readonly string[]): Promise<void> {
  const { core } = loadConfig({ core: readCoreConfig });
  // Logs go to stderr (fd 2), synchronously so that no line is lost on a forced exit: stdout
  // is the command's output only.
  const logger = createLogger({ level: core.logLevel, name: 'paystream-projections', destination: pino.destination({ dest: 2, sync: true }) });
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
      process.exit(EXIT_INTERRUPTED);
    }
  });
  try {
    process.exitCode = await runCli(args, { database: stores.database, store: stores.store, logger, out: (line) => process.stdout.write(`${line}\n`), signal: controller.signal });
  } finally {
    await stores.close();
  }
}

if (require.main === module) void main();
