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

/** Where the bar is drawn: a terminal, or anything that says it is one (tests). */
export type ProgressStream = NodeJS.WritableStream & { readonly isTTY?: boolean; readonly columns?: number };

export interface ProgressReporterOptions {
  /** Clock of the log reporter's interval. */
  readonly now?: () => number;
}

/** A bar when `stream` is a terminal, log lines through `logger` otherwise. */
export function createProgressReporter(logger: Logger, stream: ProgressStream = process.stderr, options: ProgressReporterOptions = {}): ProgressReporter {
  return stream.isTTY === true ? terminalReporter(stream) : logReporter(logger, options.now ?? Date.now);
}

function terminalReporter(stream: ProgressStream): ProgressReporter {
  const bar = new SingleBar(
    { stream, format: '{projection} |{bar}| {percentage}% | {events} events | {rate} events/s | ETA {eta_formatted}', hideCursor: true, etaBuffer: 50 },
    Presets.shades_classic,
  );
  let started = false;
  let stopped = false;
  return {
    update(progress) {
      if (stopped) return;
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
    stop() {
      // Idempotent: the CLI stops the reporter on success and again on its way out.
      if (stopped) return;
      stopped = true;
      if (started) bar.stop();
    },
  };
}

function logReporter(logger: Logger, now: () => number): ProgressReporter {
  let lastAt: number | undefined;
  /** The latest progress not yet written, if any. */
  let pending: RebuildProgress | undefined;
  let stopped = false;
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
      if (stopped) return;
      // The first update is written at once, then at most one line per interval.
      if (lastAt !== undefined && now() - lastAt < PROGRESS_LOG_INTERVAL_MS) {
        pending = progress;
        return;
      }
      lastAt = now();
      pending = undefined;
      write(progress);
    },
    stop() {
      // Idempotent, and writes the last progress only if no line has shown it yet.
      if (stopped) return;
      stopped = true;
      if (pending) write(pending);
      pending = undefined;
    },
  };
}
