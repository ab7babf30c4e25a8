/**
 * The one interruptible pause, for every loop that waits (the gateway's poll,
 * the feeders' retries after a failure, a held message): `wake()` cuts the
 * current waits short, `stop()` ends them and every later one at once, so a
 * process stops without waiting out a back-off. A wake that comes while
 * nobody waits is kept for the next wait, so work fed during a claim is not
 * left for a whole poll interval.
 */
export interface Pause {
  wait(ms: number): Promise<void>;
  wake(): void;
  stop(): void;
}

export function createPause(): Pause {
  const waiters = new Set<() => void>();
  let wokenEarly = false;
  let stopped = false;
  return {
    wait(ms: number) {
      if (stopped) return Promise.resolve();
      if (wokenEarly) {
        wokenEarly = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, ms));
        waiters.add(done);
      });
    },
    wake() {
      if (waiters.size === 0) wokenEarly = true;
      for (const done of [...waiters]) done();
    },
    stop() {
      stopped = true;
      for (const done of [...waiters]) done();
    },
  };
}

/** Exponential back-off after `failures` consecutive failures: base × 2^failures, capped (the exponent too, so it never overflows). */
export function backoffAfterFailuresMs(failures: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(failures, 0), 20));
}
