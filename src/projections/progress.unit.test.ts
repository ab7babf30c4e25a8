import { Writable } from 'node:stream';
import pino from 'pino';
import type { GlobalPosition } from '../event-store/port';
import { createProgressReporter, PROGRESS_LOG_INTERVAL_MS, type ProgressStream } from './progress';
import type { RebuildProgress } from './rebuild';

/** Collects what is written to it; says it is a terminal when asked to. */
class FakeStream extends Writable {
  readonly chunks: string[] = [];
  constructor(
    readonly isTTY: boolean,
    readonly columns = 160,
  ) {
    super();
  }
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    this.chunks.push(chunk.toString());
    callback();
  }
  text(): string {
    return this.chunks.join('');
  }
}

/** A pino logger writing JSON lines into an array, synchronously. */
function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

const at = (prepare: number): GlobalPosition => ({ commit: BigInt(prepare), prepare: BigInt(prepare) });

function progress(done: number, total: number, elapsedMs: number, options: { from?: number; eventsApplied?: number } = {}): RebuildProgress {
  const from = options.from ?? -1;
  return {
    projection: 'payments',
    eventsApplied: options.eventsApplied ?? done - Math.max(from, 0),
    position: at(done),
    head: at(total),
    from: at(from),
    elapsedMs,
  };
}

/** Strips ANSI control sequences, so the bar's text can be read. */
const plain = (text: string) => text.replace(/\x1B(?:\[[0-9;?]*[A-Za-z]|[78])/g, '');

describe('the rebuild progress reporter on a terminal', () => {
  it('when the stream is a TTY, then it draws a bar with the projection, percentage, events and rate, and logs nothing', () => {
    const stream = new FakeStream(true);
    const { logger, lines } = capturingLogger();
    const reporter = createProgressReporter(logger, stream as ProgressStream);

    reporter.update(progress(2_500, 10_000, 1_000));
    reporter.stop();

    const text = plain(stream.text());
    expect(text).toMatch(/payments \|[█░]+\| 25% \| 2500 events \| 2500 events\/s \| ETA /);
    expect(lines).toEqual([]);
  });

  it('when the rebuild finishes, then the final draw shows 100% and the bar ends its line and shows the cursor again', () => {
    const stream = new FakeStream(true);
    const reporter = createProgressReporter(pino({ level: 'silent' }), stream as ProgressStream);

    reporter.update(progress(2_500, 10_000, 1_000));
    reporter.update(progress(10_000, 10_000, 2_000));
    reporter.stop();

    const text = stream.text();
    expect(plain(text)).toContain('100% | 10000 events | 5000 events/s');
    expect(text).toContain('\x1B[?25l'); // cursor hidden while drawing
    expect(text.endsWith('\n')).toBe(true);
    expect(text.lastIndexOf('\x1B[?25h')).toBeGreaterThan(text.lastIndexOf('\x1B[?25l'));
  });

  it('when it is stopped twice, or updated after the stop, then nothing more is written', () => {
    const stream = new FakeStream(true);
    const reporter = createProgressReporter(pino({ level: 'silent' }), stream as ProgressStream);
    reporter.update(progress(10, 100, 100));
    reporter.stop();
    const written = stream.text();

    reporter.stop();
    reporter.update(progress(50, 100, 200));

    expect(stream.text()).toBe(written);
  });

  it('when it is stopped before any progress (the rebuild failed at once), then it writes nothing', () => {
    const stream = new FakeStream(true);
    const reporter = createProgressReporter(pino({ level: 'silent' }), stream as ProgressStream);

    reporter.stop();

    expect(stream.text()).toBe('');
  });

  it('when a resumed rebuild reports, then the bar measures from where it resumed', () => {
    const stream = new FakeStream(true);
    const reporter = createProgressReporter(pino({ level: 'silent' }), stream as ProgressStream);

    // Resumed at 6 000 of 10 000; 1 000 more applied: a quarter of what was left.
    reporter.update(progress(7_000, 10_000, 500, { from: 6_000, eventsApplied: 1_000 }));
    reporter.stop();

    expect(plain(stream.text())).toContain('| 25% | 1000 events | 2000 events/s');
  });
});

describe('the rebuild progress reporter off a terminal (structured log lines)', () => {
  function logReporter() {
    const stream = new FakeStream(false);
    const { logger, lines } = capturingLogger();
    let now = 1_000_000;
    const reporter = createProgressReporter(logger, stream as ProgressStream, { now: () => now });
    return { reporter, lines, stream, advance: (ms: number) => (now += ms) };
  }

  it('when the first progress arrives, then one "rebuild progress" line is logged at once with count, rate, percent, ETA and position, and nothing reaches the stream', () => {
    const { reporter, lines, stream } = logReporter();

    reporter.update(progress(2_500, 10_000, 1_000));

    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'rebuild progress', projection: 'payments', eventsApplied: 2_500, eventsPerSecond: 2_500, percent: 25, etaSeconds: 3, position: '2500/2500' });
    expect(stream.text()).toBe('');
  });

  it(`when progress keeps coming within ${PROGRESS_LOG_INTERVAL_MS} ms, then it is not logged; once the interval has passed, then the latest is`, () => {
    const { reporter, lines, advance } = logReporter();
    reporter.update(progress(1_000, 10_000, 100));

    advance(PROGRESS_LOG_INTERVAL_MS - 1);
    reporter.update(progress(2_000, 10_000, 200));
    reporter.update(progress(3_000, 10_000, 300));
    expect(lines).toHaveLength(1);

    advance(1);
    reporter.update(progress(4_000, 10_000, 400));
    expect(lines.map((line) => line['eventsApplied'])).toEqual([1_000, 4_000]);
  });

  it('when it is stopped with progress not yet logged, then that last progress is logged once, however often stop is called', () => {
    const { reporter, lines, advance } = logReporter();
    reporter.update(progress(1_000, 10_000, 100));
    advance(10);
    reporter.update(progress(10_000, 10_000, 900));

    reporter.stop();
    reporter.stop();

    expect(lines.map((line) => line['eventsApplied'])).toEqual([1_000, 10_000]);
    expect(lines[1]).toMatchObject({ percent: 100, etaSeconds: 0 });
  });

  it('when it is stopped right after a logged progress (a short rebuild), then that progress is not logged a second time', () => {
    const { reporter, lines } = logReporter();
    reporter.update(progress(40, 40, 50));

    reporter.stop();
    reporter.stop();

    expect(lines).toHaveLength(1);
  });

  it('when the log was empty (head at the start), then percent is 0 and the ETA is null rather than a division by zero', () => {
    const { reporter, lines } = logReporter();

    reporter.update({ projection: 'payments', eventsApplied: 0, position: at(-1), head: at(-1), from: at(-1), elapsedMs: 0 });

    expect(lines[0]).toMatchObject({ eventsApplied: 0, eventsPerSecond: 0, percent: 0, etaSeconds: null, position: '-1/-1' });
  });
});
