import { backoffAfterFailuresMs, createPause } from './pause';

describe('the interruptible pause', () => {
  it('when woken, then the wait ends before its time; a wake with nobody waiting ends the next wait at once', async () => {
    const pause = createPause();
    const started = Date.now();
    const waiting = pause.wait(10_000);
    pause.wake();
    await waiting;
    pause.wake();
    await pause.wait(10_000);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('when stopped, then every wait ends, and every later one returns at once', async () => {
    const pause = createPause();
    const started = Date.now();
    const waits = [pause.wait(10_000), pause.wait(20_000)];
    pause.stop();
    await Promise.all(waits);
    await pause.wait(10_000);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('when nothing wakes it, then it waits its time', async () => {
    const started = Date.now();
    await createPause().wait(50);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });

  it('backs off exponentially after failures, capped', () => {
    expect([0, 1, 2, 3].map((failures) => backoffAfterFailuresMs(failures, 100, 500))).toEqual([100, 200, 400, 500]);
    expect(backoffAfterFailuresMs(10_000, 100, 5_000)).toBe(5_000);
  });
});
