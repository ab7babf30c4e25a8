/**
 * Rebuild progress for people: a bar on a terminal (events done, events per
 * second, ETA), structured log lines every few seconds otherwise (CI, files,
 * containers), where a bar's control characters would be noise.
 *
 * Progress is measured along the log's `prepare` positions between the start and
 * the head seen at the start: on the SQL stores that is the event sequence, on
 * EventStoreDB a byte offset, proportional enough for an ETA on both.
 */
import { SingleBar, Presets } from 'cli-progress';
import { formatPosition } from '../event-store/port';
import type { Logger } from '../logging';
import type { RebuildProgress } from './rebuild';

export interface ProgressReporter {
  update(progress: RebuildProgress): void;
  stop(): void;
}

/** How often the non-terminal reporter writes a line. */
export const PROGRESS_LOG_INTERVAL_MS = 5_000;

function span(progress: RebuildProgress): { done: number; total: number } {
  const start = progress.from.prepare < 0n ? 0n : progress.from.prepare;
  const total = Number(progress.head.prepare - start);
  const done = Number(progress.position.prepare - start);
  return { total: Math.max(total, 1), done: Math.min(Math.max(done, 0), Math.max(total, 1)) };
}

const rate = (progress: RebuildProgress) => Math.round(progress.eventsApplied / Math.max(progress.elapsedMs / 1000, 0.001));

export function createProgressReporter(logger: Logger, stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  return stream.isTTY ? terminalReporter(stream) : logReporter(logger);
}

function terminalReporter(stream: NodeJS.WriteStream): ProgressReporter {
  const bar = new SingleBar(
    { stream, format: '{projection} |{bar}| {percentage}% | {events} events | {rate} events/s | ETA {eta_formatted}', hideCursor: true, etaBuffer: 50 },
    Presets.shades_classic,
  );
  let started = false;
  return {
    update(progress) {
      const { done, total } = span(progress);
      const payload = { projection: progress.projection, events: progress.eventsApplied, rate: rate(progress) };
      if (!started) {
        bar.start(total, done, payload);
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(done, payload);
      }
    },
    stop: () => bar.stop(),
  };
}

function logReporter(logger: Logger): ProgressReporter {
  let lastAt = 0;
  let last: RebuildProgress | undefined;
  const write = (progress: RebuildProgress) => {
    const { done, total } = span(progress);
    const eventsPerSecond = rate(progress);
    const fraction = done / total;
    const etaSeconds = fraction > 0 ? Math.round(((progress.elapsedMs / 1000) * (1 - fraction)) / fraction) : null;
    logger.info(
      { projection: progress.projection, eventsApplied: progress.eventsApplied, eventsPerSecond, percent: Math.round(fraction * 1000) / 10, etaSeconds, position: formatPosition(progress.position) },
      'rebuild progress',
    );
  };
  return {
    update(progress) {
      last = progress;
      if (Date.now() - lastAt < PROGRESS_LOG_INTERVAL_MS) return;
      lastAt = Date.now();
      write(progress);
    },
    stop() {
      // Idempotent: the CLI stops the reporter on success and again on its way out.
      if (last) write(last);
      last = undefined;
    },
  };
}
