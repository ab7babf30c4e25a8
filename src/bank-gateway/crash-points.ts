/**
 * Named crash points, for tests that prove recovery: the process kills itself
 * with SIGKILL (no cleanup, no flush, exactly like a power cut) at the named
 * instant. Switched on by PAYSTREAM_CRASH_POINTS, e.g.
 * `before-bank-call,after-bank-call-before-outcome@0.3`; a point without a
 * probability always fires. Refused, with a warning, when NODE_ENV=production.
 */
import { writeSync } from 'node:fs';
import type { Logger } from '../logging';

export const CRASH_POINTS = [
  /** The intent is recorded; the bank has not been called. */
  'before-bank-call',
  /** The bank has answered (and may have executed); nothing is recorded yet. */
  'after-bank-call-before-outcome',
  /** The outcome event is appended; the work queue row is not yet completed. */
  'after-outcome-before-checkpoint',
] as const;

export type CrashPoint = (typeof CRASH_POINTS)[number];

export interface CrashPoints {
  /** Dies here if the point is switched on (and the dice say so). */
  reach(point: CrashPoint): void;
  readonly enabled: ReadonlyMap<CrashPoint, number>;
}

export const NO_CRASH_POINTS: CrashPoints = { reach: () => undefined, enabled: new Map() };

export interface CrashPointOptions {
  readonly spec: string | undefined;
  readonly nodeEnv: string | undefined;
  readonly logger: Logger;
  /** Injected for tests; defaults to SIGKILL of this process. */
  readonly die?: (point: CrashPoint) => void;
  readonly random?: () => number;
}

export function parseCrashPoints(spec: string): Map<CrashPoint, number> {
  const enabled = new Map<CrashPoint, number>();
  for (const part of spec.split(',').map((text) => text.trim()).filter((text) => text.length > 0)) {
    const [name, probabilityText] = part.split('@');
    if (!(CRASH_POINTS as readonly string[]).includes(name!)) throw new Error(`unknown crash point "${name}"; known: ${CRASH_POINTS.join(', ')}`);
    const probability = probabilityText === undefined ? 1 : Number(probabilityText);
    if (!(probability >= 0 && probability <= 1)) throw new Error(`crash point ${name}: probability must be between 0 and 1`);
    enabled.set(name as CrashPoint, probability);
  }
  return enabled;
}

export function createCrashPoints(options: CrashPointOptions): CrashPoints {
  if (!options.spec) return NO_CRASH_POINTS;
  if (options.nodeEnv === 'production') {
    options.logger.warn({ crashPoints: options.spec }, 'PAYSTREAM_CRASH_POINTS is ignored in production');
    return NO_CRASH_POINTS;
  }
  const enabled = parseCrashPoints(options.spec);
  const random = options.random ?? Math.random;
  const die = options.die ?? dieNow;
  options.logger.warn({ crashPoints: Object.fromEntries(enabled) }, 'crash points are switched on: this process will kill itself');
  return {
    enabled,
    reach(point) {
      const probability = enabled.get(point);
      if (probability === undefined || random() >= probability) return;
      options.logger.warn({ crashPoint: point }, 'crash point reached: SIGKILL');
      die(point);
    },
  };
}

/**
 * Rationale for the synchronous write: pino writes asynchronously, so its last
 * line would die with the process; the test that switched the point on reads
 * this one to know the process died where it was meant to.
 */
function dieNow(point: CrashPoint): never {
  writeSync(2, `paystream crash point reached: ${point}\n`);
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable: SIGKILL was sent');
}
