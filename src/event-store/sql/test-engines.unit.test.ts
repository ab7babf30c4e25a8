/**
 * The engines the SQL suites run on (test/support/databases.ts): without a
 * server PostgreSQL, a suite's postgres variant is reported as skipped with the
 * reason, never dropped silently.
 */
import { join } from 'node:path';
import { callerLocation, reportSkippedPostgresVariant, type SkipReporting } from '../../../test/support/databases';

function recordingReporting(withJest = true) {
  const skipped: Array<{ describe: string; tests: string[] }> = [];
  const warnings: string[] = [];
  let current: string[] | undefined;
  const reporting: SkipReporting = {
    describe: withJest
      ? {
          skip: (name, fn) => {
            current = [];
            fn();
            skipped.push({ describe: name, tests: current });
            current = undefined;
          },
        }
      : undefined,
    it: withJest ? (name) => void current?.push(name) : undefined,
    warn: (message) => void warnings.push(message),
  };
  return { reporting, skipped, warnings };
}

describe('reporting a skipped server PostgreSQL variant', () => {
  it('when there is no server PostgreSQL, then a skipped test names the reason and the suite, and a warning says the same', () => {
    const { reporting, skipped, warnings } = recordingReporting();
    reportSkippedPostgresVariant('src/db/database.int.test.ts:3', 'no DATABASE_URL, no Docker engine', reporting);
    expect(skipped).toEqual([
      { describe: 'on postgres: SKIPPED (no DATABASE_URL, no Docker engine)', tests: ['the server PostgreSQL variant of the suite at src/db/database.int.test.ts:3'] },
    ]);
    expect(warnings).toEqual(['[paystream tests] SKIPPED: the server PostgreSQL variant of the suite at src/db/database.int.test.ts:3: no DATABASE_URL, no Docker engine']);
  });

  it('when called outside jest (no describe), then it only warns', () => {
    const { reporting, skipped, warnings } = recordingReporting(false);
    reportSkippedPostgresVariant('bench/run.ts:1', 'reason', reporting);
    expect(skipped).toEqual([]);
    expect(warnings).toHaveLength(1);
  });

  it('when the stack is read, then the location is the first frame outside test/support/databases.ts, relative to the repository', () => {
    const root = `${join(__dirname, '..', '..', '..')}/`;
    const stack = [
      'Error',
      `    at sqlEngines (${root}test/support/databases.ts:69:3)`,
      `    at Object.<anonymous> (${root}src/http/payments/payments.int.test.ts:8:22)`,
      `    at Runtime._execModule (${root}node_modules/jest-runtime/build/index.js:1:1)`,
    ].join('\n');
    expect(callerLocation(stack)).toBe('src/http/payments/payments.int.test.ts:8');
    expect(callerLocation(undefined)).toBe('an unknown location');
  });
});
