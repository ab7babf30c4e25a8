/**
 * What every entry file does the same way: load the configuration (and stop with
 * a message naming every wrong variable), make the logger, start the process's
 * parts in order, and on SIGTERM/SIGINT stop them in the reverse order with a
 * bound on how long that may take. A part that fails to start stops the ones
 * already started before the process exits.
 */
import { ConfigError } from '../config';
import { createLogger, prettyLogsWanted, type Logger } from '../logging';
import type { ProcessModule } from '../shared/process-module';

export const SHUTDOWN_MS_MAX = 10_000;

/** The parts an entry file has started; each is stopped, last first, when the process stops. */
export interface Parts {
  /** Starts a module and remembers to stop it. */
  start<M extends ProcessModule>(module: M): Promise<M>;
  /** Something already open (the stores) that must be closed when the process stops. */
  closeOnStop<R extends { close(): Promise<void> }>(resource: R): R;
}

export type StartProcess = (logger: Logger, parts: Parts) => Promise<void | (() => Promise<void>)>;

export async function runProcess(name: string, start: StartProcess, logLevel = process.env.LOG_LEVEL ?? 'info'): Promise<void> {
  const logger = createLogger({ level: logLevel, name, pretty: prettyLogsWanted(process.stdout, process.env.NODE_ENV) });
  const stopping: Array<() => Promise<void>> = [];
  /** Stops every part, even after one fails to; false when one did. */
  const stopAll = async (): Promise<boolean> => {
    let clean = true;
    for (const stopOne of stopping.splice(0).reverse()) {
      await stopOne().catch((error: unknown) => {
        clean = false;
        logger.error({ err: error }, 'unclean stop');
      });
    }
    return clean;
  };
  const parts: Parts = {
    async start(module) {
      await module.start();
      stopping.push(() => module.stop());
      return module;
    },
    closeOnStop(resource) {
      stopping.push(() => resource.close());
      return resource;
    },
  };
  try {
    const stopMore = await start(logger, parts);
    if (stopMore) stopping.push(stopMore);
  } catch (error) {
    await stopAll();
    if (error instanceof ConfigError) {
      process.stderr.write(`${name}: ${error.message}\n`);
    } else {
      logger.fatal({ err: error }, `${name} failed to start`);
    }
    process.exit(1);
  }
  let stopRequested = false;
  const shutdown = (signal: string) => {
    if (stopRequested) return;
    stopRequested = true;
    logger.info({ signal }, `${name} stopping`);
    const forced = setTimeout(() => process.exit(1), SHUTDOWN_MS_MAX);
    forced.unref();
    void stopAll().then((clean) => process.exit(clean ? 0 : 1));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
