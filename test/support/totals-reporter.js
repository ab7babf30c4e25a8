/**
 * Prints the run's totals as one plain line, `N passed, N failed, N skipped`, and
 * names every skipped test, so a suite that could not run here (no EventStoreDB,
 * no server PostgreSQL) is reported loudly rather than passing silently. The line
 * is also written to .test-results/totals.txt for .ci/run to print last.
 */
const fs = require('node:fs');
const path = require('node:path');

class TotalsReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
  }

  onRunComplete(_contexts, results) {
    const skipped = [];
    for (const suite of results.testResults) {
      for (const test of suite.testResults) {
        if (test.status === 'pending' || test.status === 'skipped' || test.status === 'todo') {
          skipped.push(`${path.relative(this.rootDir, suite.testFilePath)}: ${test.fullName}`);
        }
      }
    }
    // A suite that failed to load has no test results of its own: count it as one failure.
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const line = `${results.numPassedTests} passed, ${failed} failed, ${results.numPendingTests + results.numTodoTests} skipped`;
    const lines = [];
    if (skipped.length > 0) {
      lines.push('', `SKIPPED (${skipped.length}) — these did not run on this machine:`);
      for (const name of skipped) lines.push(`  - ${name}`);
    }
    lines.push('', line);
    process.stdout.write(`${lines.join('\n')}\n`);
    const dir = path.join(this.rootDir, '.test-results');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'totals.txt'), `${line}\n`);
    fs.writeFileSync(path.join(dir, 'skipped.txt'), skipped.join('\n') + (skipped.length ? '\n' : ''));
  }
}

module.exports = TotalsReporter;
