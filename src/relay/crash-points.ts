/**
 * The relay's crash point, for the test that proves a crash between the
 * JetStream ack and the checkpoint write publishes nothing twice: the process
 * kills itself with SIGKILL right there. RELAY_CRASH_POINTS=
 * `after-publish-before-checkpoint` (always) or `…@0.3` (per page, with that
 * probability). Ignored, with a warning, when NODE_ENV=production. Same
 * convention as the gateway's PAYSTREAM_CRASH_POINTS.
 */
import { writeSync } from 'node:fs';
import type { Logger } from '../logging';

export const RELAY_CRASH_POINT = 'after-publish-before-checkpoint';

export type RelayCrashPoint = () => void;

export const NO_RELAY_CRASH_POINT: RelayCrashPoint = () => undefined;

export function parseRelayCrashPoint(spec: string): number {
  const [name, probabilityText] = spec.trim().split('@');
  if (name !== RELAY_CRASH_POINT) throw new Error(`unknown relay crash point "${name}"; known: ${RELAY_CRASH_POINT}`);
  const probability = probabilityText === undefined ? 1 : Number(probabilityText);
  if (!(probability >= 0 && probability <= 1)) throw new Error('relay crash point: probability must be between 0 and 1');
  return probability;
}

export function createRelayCrashPoint(spec: string | undefined, nodeEnv: string | undefined, logger: Logger, random: () => number = Math.random): RelayCrashPoint {
  if (!spec) return NO_RELAY_CRASH_POINT;
  if (nodeEnv === 'production') {
    logger.warn({ crashPoints: spec }, 'RELAY_CRASH_POINTS is ignored in production');
    return NO_RELAY_CRASH_POINT;
  }
  const probability = parseRelayCrashPoint(spec);
  logger.warn({ crashPoint: RELAY_CRASH_POINT, probability }, 'relay crash point is switched on: this process will kill itself');
  return () => {
    if (random() >= probability) return;
    // Synchronous: pino's asynchronous last line would die with the process.
    writeSync(2, `paystream crash point reached: ${RELAY_CRASH_POINT}\n`);
    process.kill(process.pid, 'SIGKILL');
  };
}
