/**
 * `npm run bench`: every benchmark, each beside a baseline measured in the same
 * run, printing figures and ratios. Server PostgreSQL comes from DATABASE_URL,
 * else the local server; each run works in a fresh schema it drops afterwards.
 * BENCH_SECONDS sets each measurement's duration (default 5);
 * BENCH_PROJECTION_EVENTS the size of the projections bench's log (default 200 000);
 * BENCH_GATEWAY_RATE the gateway latency bench's PUTs per second (default 500),
 * BENCH_GATEWAY_PAYMENTS its throughput backlog (default 1000).
 * BENCH_STORE_CALLERS the store bench's concurrent appenders (default 16).
 * `npm run bench -- http`, `-- store`, `-- projections`, `-- bank`, `-- gateway` or `-- observability` runs one of them.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { benchBankSandbox, printBankResult } from './bank-sandbox-bench';
import { benchGatewayLatency, benchGatewayThroughput, printLatencyResults, printThroughputResults, type GatewayBenchOptions } from './gateway-bench';
import { benchPaymentsApi, type ScenarioResult } from './http-bench';
import { benchObservability, printObservabilityResult } from './observability';
import { benchProjections, printProjectionResults } from './projections';
import { benchStorePglite, benchStorePostgres, printStoreResults } from './store';

const PG_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const TARGET_RATIO_MIN: Record<string, number> = { 'postgres PUT create': 0.5, 'postgres PUT retry': 0.7 };

export async function withFreshSchema<T>(work: (url: string, schema: string) => Promise<T>): Promise<T> {
  const schema = `bench_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  try {
    return await work(PG_URL, schema);
  } finally {
    await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    await admin.end();
  }
}

function printHttpResults(results: readonly ScenarioResult[]): void {
  const rows = results.map((result) => {
    const ratio = result.target.requestsPerSecond / result.baseline.requestsPerSecond;
    const target = TARGET_RATIO_MIN[`${result.store} ${result.scenario}`];
    return {
      store: result.store,
      scenario: result.scenario,
      'req/s': Math.round(result.target.requestsPerSecond),
      'p50 ms': result.target.p50Ms,
      'p99 ms': result.target.p99Ms,
      'bare req/s': Math.round(result.baseline.requestsPerSecond),
      'bare p99 ms': result.baseline.p99Ms,
      ratio: `${(ratio * 100).toFixed(1)}%`,
      target: target === undefined ? '' : `≥ ${target * 100}% ${ratio >= target ? 'met' : 'MISSED'}`,
      errors: result.target.errors + result.target.non2xx,
    };
  });
  console.table(rows);
}

/**
 * PUTs per second of the gateway latency bench: issue 13's steady 500 PUT/s,
 * at which PUT p99 ≤ 50 ms and PUT-to-settled p99 ≤ 200 ms are the goals
 * (printed beside the figures). BENCH_GATEWAY_RATE=25 shows latency without a
 * saturated gateway on a small machine.
 */
const GATEWAY_RATE_DEFAULT = 500;

const postgresEnv = (url: string, schema: string) => ({ BENCH_DATABASE_URL: url, BENCH_DATABASE_SCHEMA: schema });

/** Latency and throughput on each store; each measurement in a fresh schema of its own. */
async function benchGateway(durationSeconds: number): Promise<void> {
  const options: GatewayBenchOptions = { durationSeconds, ratePerSecond: Number(process.env.BENCH_GATEWAY_RATE ?? GATEWAY_RATE_DEFAULT), settleWaitMs: 30_000 };
  const payments = Number(process.env.BENCH_GATEWAY_PAYMENTS ?? 1_000);
  console.log(`\n## Bank gateway, zero-latency sandbox bank: PUT-to-settled at ${options.ratePerSecond} PUT/s for ${durationSeconds}s (vs the same PUTs' own latency)`);
  const latency = [
    await benchGatewayLatency('pglite', {}, options),
    await withFreshSchema((url, schema) => benchGatewayLatency('postgres', postgresEnv(url, schema), options)),
  ];
  printLatencyResults(latency, options.ratePerSecond);
  console.log(`\n## Bank gateway throughput: a backlog of ${payments} payments drained (vs POST /v1/transfers straight to the sandbox bank at the same concurrency)`);
  const throughput = [
    await benchGatewayThroughput('pglite', {}),
    await withFreshSchema((url, schema) => benchGatewayThroughput('postgres', postgresEnv(url, schema))),
  ];
  printThroughputResults(throughput);
}

async function main(): Promise<void> {
  const options = { durationSeconds: Number(process.env.BENCH_SECONDS ?? 5), connections: Number(process.env.BENCH_CONNECTIONS ?? 16) };
  const only = process.argv[2];
  console.log(`paystream benchmarks — ${options.durationSeconds}s per measurement, ${options.connections} connections, node ${process.version}`);
  if (!only || only === 'http') {
    console.log('\n## Payments API (vs a bare express route echoing the same JSON)');
    const embedded = await benchPaymentsApi('pglite', {}, options);
    const server = await withFreshSchema((url, schema) => benchPaymentsApi('postgres', { BENCH_DATABASE_URL: url, BENCH_DATABASE_SCHEMA: schema }, options));
    printHttpResults([...embedded, ...server]);
  }
  if (!only || only === 'store') {
    const storeOptions = { durationSeconds: options.durationSeconds, callers: Number(process.env.BENCH_STORE_CALLERS ?? 16) };
    console.log(`\n## Event store appends (vs a raw single-INSERT transaction on the same server, same run), ${storeOptions.callers} callers`);
    const server = await withFreshSchema((url, schema) => benchStorePostgres(url, schema, storeOptions));
    const embedded = await benchStorePglite(storeOptions);
    printStoreResults([server, embedded], storeOptions);
  }
  if (!only || only === 'projections') {
    const eventCount = Number(process.env.BENCH_PROJECTION_EVENTS ?? 200_000);
    console.log(`\n## Projection rebuild (vs an unfiltered ordered read of the same log), server PostgreSQL, ${eventCount} events`);
    const result = await withFreshSchema((url, schema) => benchProjections(url, schema, { eventCount, appendConcurrencyMax: 16, waveSizeMax: 2_000 }));
    printProjectionResults(result);
  }
  if (!only || only === 'bank') {
    console.log('\n## Sandbox bank alone: POST /v1/transfers, a new key each, concurrency 8, in-memory PGlite ledger');
    printBankResult(await benchBankSandbox(options.durationSeconds));
  }
  if (!only || only === 'gateway') await benchGateway(options.durationSeconds);
  if (!only || only === 'observability') {
    console.log('\n## Metrics cost: one request\'s histogram observation; PGlite appends through the instrumented store vs the bare one');
    printObservabilityResult(await benchObservability(options.durationSeconds));
  }
}

void main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
