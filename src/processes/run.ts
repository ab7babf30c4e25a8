/**
 * What every entry file does the same way: load the configuration (and stop with
 * a message naming every wrong variable), make the logger, and shut down cleanly
 * on SIGTERM/SIGINT with a bound on how long that may take.
 */
import { ConfigError } from '../config';
import { createLogger, type Logger } from '../logging';

export const SHUTDOWN_MS_MAX = 10_000;

export async function runProcess(name: string, start: (logger: Logger) => Promise<() => Promise<void>>, logLevel = process.env.LOG_LEVEL ?? 'info'): Promise<void> {
  const logger = createLogger({ level: logLevel, name });
  let stop: (() => Promise<void>) | undefined;
  try {
    stop = await start(logger);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${name}: ${error.message}\n`);
    } else {
      logger.fatal({ err: error }, `${name} failed to start`);
    }
    process.exit(1);
  }
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, `${name} stopping`);
    const forced = setTimeout(() => process.exit(1), SHUTDOWN_MS_MAX);
    forced.unref();
    void stop!().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'unclean stop');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
