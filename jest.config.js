/**
 * One jest run covers every suite. Suites that need a server PostgreSQL or an
 * EventStoreDB find it through test/support and report loudly when they skip.
 * Rationale for the transpile-only transform: `npm test` type-checks the whole
 * tree with `tsc --noEmit` first, so jest need not do it again per file.
 */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  testTimeout: 60_000,
  maxWorkers: 2,
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  reporters: ['default', ['<rootDir>/test/support/totals-reporter.js', {}]],
};
