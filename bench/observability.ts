/**
 * What metrics cost: one request's observation on its own (the histogram call
 * request-context.ts makes), and event store appends through the instrumented
 * wrapper against the bare adapter, alternating in the same run on one
 * in-memory PGlite. Tracing is not built yet, so it has no row.
 */
import { randomUUID } from 'node:crypto';
import { PgliteDatabase } from '../src/db/database';
import { instrumentEventStore } from '../src/event-store/instrumented';
import type { EventStore } from '../src/event-store/port';
import { SqlEventStore } from '../src/event-store/sql/sql-event-store';
import { httpRequestDuration, renderMetrics } from '../src/observability/metrics';

export interface ObservabilityResult {
  readonly observeNsPerCall: number;
  readonly renderMs: number;
  readonly appendsPerSecondBare: number;
  readonly appendsPerSecondInstrumented: number;
}

function observeCost(iterations: number): number {
  const routes = ['/payments/:id', '/payments', '/ops/payments', 'unmatched'];
  const startedAt = process.hrtime.bigint();
  for (let index = 0; index < iterations; index += 1) {
    httpRequestDuration.observe({ method: 'PUT', route: routes[index & 3]!, status: 201 }, 0.004);
  }
  return Number(process.hrtime.bigint() - startedAt) / iterations;
}

async function appendsPerSecond(store: EventStore, durationMs: number): Promise<number> {
  const deadline = performance.now() + durationMs;
  let appended = 0;
  while (performance.now() < deadline) {
    await store.appendToStream(`bench-${randomUUID()}`, [{ id: randomUUID(), type: 'Happened', data: { n: appended }, metadata: {} }], { expectedRevision: 'no_stream' });
    appended += 1;
  }
  return appended / (durationMs / 1000);
}

export async function benchObservability(durationSeconds: number): Promise<ObservabilityResult> {
  observeCost(50_000); // warm-up
  const observeNsPerCall = observeCost(500_000);
  const database = await PgliteDatabase.open();
  const bare = await SqlEventStore.open(database);
  const instrumented = instrumentEventStore(bare);
  await appendsPerSecond(bare, 500);
  // Alternating rounds, so drift on a shared machine hits both sides alike.
  const bareRates: number[] = [];
  const instrumentedRates: number[] = [];
  const roundMs = (durationSeconds * 1000) / 4;
  for (let round = 0; round < 2; round += 1) {
    bareRates.push(await appendsPerSecond(bare, roundMs));
    instrumentedRates.push(await appendsPerSecond(instrumented, roundMs));
  }
  const renderStartedAt = performance.now();
  await renderMetrics();
  const renderMs = performance.now() - renderStartedAt;
  await bare.close();
  await database.close();
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  return { observeNsPerCall, renderMs, appendsPerSecondBare: mean(bareRates), appendsPerSecondInstrumented: mean(instrumentedRates) };
}

export function printObservabilityResult(result: ObservabilityResult): void {
  console.table([
    { measurement: 'http histogram observe (per request)', value: `${Math.round(result.observeNsPerCall)} ns` },
    { measurement: 'GET /metrics render', value: `${result.renderMs.toFixed(1)} ms` },
    { measurement: 'PGlite appends/s, bare store', value: Math.round(result.appendsPerSecondBare) },
    { measurement: 'PGlite appends/s, instrumented store', value: Math.round(result.appendsPerSecondInstrumented) },
    { measurement: 'instrumented / bare', value: `${((result.appendsPerSecondInstrumented / result.appendsPerSecondBare) * 100).toFixed(1)}%` },
  ]);
}
