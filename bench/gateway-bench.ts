/**
 * The bank gateway, end to end, on a zero-latency sandbox bank (bench/gateway-server.ts
 * runs the system in a child process; this file is the load generator and the clock).
 *
 * 1. Latency: PUT /payments/{id} over real HTTP at a steady rate (open loop: a
 *    request is sent when it is due, whether or not earlier ones are answered),
 *    timed from just before the PUT is sent to the moment the child reports the
 *    payment's PaymentSettled, which it learns by following the log, so no
 *    polling loads the API. Baseline: the same PUTs' own answer latency.
 * 2. Throughput: a backlog of payments is written first, then the gateway is
 *    started and timed until the last one is settled. Baseline: the rate at
 *    which the same sandbox bank accepts POST /v1/transfers sent straight to it
 *    with the gateway's concurrency.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
// Types only: importing the module itself would start a server in this process.
import type { DrainResult } from './gateway-server';
import { BODY, CLIENT_KEY } from './http-bench';

export interface GatewayBenchOptions {
  readonly durationSeconds: number;
  readonly ratePerSecond: number;
  /** Longest wait for the last payments to settle after the last PUT. */
  readonly settleWaitMs: number;
}

export interface LatencyResult {
  readonly store: string;
  readonly sent: number;
  /** PUTs that got any HTTP answer. */
  readonly answered: number;
  readonly created: number;
  readonly settled: number;
  readonly concurrencyMax: number;
  readonly pollIntervalMs: number;
  readonly putMs: readonly number[];
  readonly settledMs: readonly number[];
}

export type ThroughputResult = DrainResult & { readonly store: string };

/** Warm-up before the measured run, so JIT and connection set-up are not measured. */
const WARM_UP_SECONDS = 1;
const CHILD_START_MS_MAX = 60_000;
const CHILD_STOP_MS_MAX = 15_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---- the child process ----

interface Child {
  readonly process: ChildProcess;
  readonly lines: Interface;
}

function spawnChild(store: string, mode: 'latency' | 'drain', env: NodeJS.ProcessEnv): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'gateway-server.ts'), store, mode], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return { process: child, lines: createInterface({ input: child.stdout! }) };
}

/** The child's first line, parsed; fails when it exits or stays silent too long. */
function firstLine<T>(child: Child, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('gateway bench server gave no answer in time')), timeoutMs);
    child.lines.once('line', (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line) as T);
    });
    // 'close', not 'exit': it comes after the child's last line has been read.
    child.process.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway bench server exited with ${code}`));
    });
  });
}

/** SIGTERM, then SIGKILL if it does not stop in time; resolves once it has exited. */
async function stopChild(child: Child): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  const exited = once(child.process, 'exit');
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), CHILD_STOP_MS_MAX);
  await exited;
  clearTimeout(timer);
}

// ---- latency ----

interface PaymentTiming {
  readonly sentAt: number;
  answeredAt?: number;
  status?: number;
  settledAt?: number;
}

function putPayment(url: string, id: string, timings: Map<string, PaymentTiming>): Promise<void> {
  const timing: PaymentTiming = { sentAt: performance.now() };
  timings.set(id, timing);
  const headers = { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json' };
  return fetch(`${url}/payments/${id}`, { method: 'PUT', headers, body: BODY }).then(
    async (response) => {
      await response.arrayBuffer();
      timing.answeredAt = performance.now();
      timing.status = response.status;
    },
    () => {
      timing.status = 0;
    },
  );
}

/** Sends `rate × seconds` PUTs, each at its due time (open loop), and waits for their answers. */
async function sendAtRate(url: string, prefix: string, options: { ratePerSecond: number; seconds: number }, timings: Map<string, PaymentTiming>): Promise<void> {
  const total = Math.round(options.ratePerSecond * options.seconds);
  const started = performance.now();
  const answers: Array<Promise<void>> = [];
  for (let index = 0; index < total; index++) {
    const wait = started + (index * 1_000) / options.ratePerSecond - performance.now();
    if (wait > 0) await sleep(wait);
    answers.push(putPayment(url, `${prefix}-${index}`, timings));
  }
  await Promise.all(answers);
}

/** Waits (bounded) until every created payment of `timings` has been reported settled. */
async function waitForSettled(timings: ReadonlyMap<string, PaymentTiming>, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const pending = () => [...timings.values()].some((timing) => timing.status === 201 && timing.settledAt === undefined);
  while (pending() && performance.now() < deadline) await sleep(20);
}

function latencyResult(store: string, info: { concurrencyMax: number; pollIntervalMs: number }, timings: ReadonlyMap<string, PaymentTiming>): LatencyResult {
  const all = [...timings.values()];
  const created = all.filter((timing) => timing.status === 201);
  const settled = created.filter((timing) => timing.settledAt !== undefined);
  return {
    store,
    sent: all.length,
    answered: all.filter((timing) => timing.answeredAt !== undefined).length,
    created: created.length,
    settled: settled.length,
    ...info,
    putMs: created.map((timing) => timing.answeredAt! - timing.sentAt),
    settledMs: settled.map((timing) => timing.settledAt! - timing.sentAt),
  };
}

export async function benchGatewayLatency(store: string, env: NodeJS.ProcessEnv, options: GatewayBenchOptions): Promise<LatencyResult> {
  const child = spawnChild(store, 'latency', env);
  try {
    const info = await firstLine<{ url: string; concurrencyMax: number; pollIntervalMs: number }>(child, CHILD_START_MS_MAX);
    let timings = new Map<string, PaymentTiming>();
    // The child reports every settled payment; the clock is ours, so one clock times both ends.
    child.lines.on('line', (line) => {
      const timing = timings.get((JSON.parse(line) as { settled: string }).settled);
      if (timing) timing.settledAt = performance.now();
    });
    await sendAtRate(info.url, 'warm', { ratePerSecond: options.ratePerSecond, seconds: WARM_UP_SECONDS }, timings);
    await waitForSettled(timings, options.settleWaitMs);
    timings = new Map();
    await sendAtRate(info.url, 'lat', { ratePerSecond: options.ratePerSecond, seconds: options.durationSeconds }, timings);
    await waitForSettled(timings, options.settleWaitMs);
    return latencyResult(store, info, timings);
  } finally {
    await stopChild(child);
  }
}

// ---- throughput ----

export async function benchGatewayThroughput(store: string, env: NodeJS.ProcessEnv): Promise<ThroughputResult> {
  const child = spawnChild(store, 'drain', env);
  try {
    // Bank baseline, backlog and drain run back to back in the child, each bounded.
    const result = await firstLine<DrainResult>(child, CHILD_START_MS_MAX + 3 * Number(process.env.BENCH_GATEWAY_DRAIN_MS_MAX ?? 60_000));
    return { ...result, store };
  } finally {
    await stopChild(child);
  }
}

// ---- printing ----

/** Nearest-rank percentile of `values` (ms), rounded to 0.1 ms. */
function percentile(values: readonly number[], share: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(share * sorted.length) - 1));
  return Math.round(sorted[rank]! * 10) / 10;
}

const perSecond = (count: number, elapsedMs: number) => Math.round(count / Math.max(elapsedMs / 1_000, 0.001));

/** Issue 13's goals for the steady-rate run (zero-latency sandbox bank). */
export const PUT_P99_MS_MAX = 50;
export const SETTLED_P99_MS_MAX = 200;

const goal = (value: number, max: number) => `${value} (≤ ${max} ${value <= max ? 'met' : 'MISSED'})`;

export function printLatencyResults(results: readonly LatencyResult[], ratePerSecond: number): void {
  console.table(
    results.map((result) => {
      const settledP50 = percentile(result.settledMs, 0.5);
      const putP50 = percentile(result.putMs, 0.5);
      const answered = result.answered;
      return {
        store: result.store,
        'rate/s': ratePerSecond,
        'PUTs 201': `${result.created}/${result.sent}`,
        'all answered': answered === result.sent ? 'yes (goal met)' : `${answered}/${result.sent} (goal MISSED)`,
        settled: `${result.settled}/${result.created}`,
        'PUT p50 ms': putP50,
        'PUT p99 ms': goal(percentile(result.putMs, 0.99), PUT_P99_MS_MAX),
        'settled p50 ms': settledP50,
        'settled p99 ms': goal(percentile(result.settledMs, 0.99), SETTLED_P99_MS_MAX),
        'settled max ms': percentile(result.settledMs, 1),
        'settled p50 / PUT p50': `${(settledP50 / putP50).toFixed(1)}×`,
        'gateway poll ms': result.pollIntervalMs,
      };
    }),
  );
}

export function printThroughputResults(results: readonly ThroughputResult[]): void {
  console.table(
    results.map((result) => {
      const gatewayRate = perSecond(result.drain.settled, result.drain.elapsedMs);
      const bankRate = perSecond(result.bank.transfers - result.bank.failed, result.bank.elapsedMs);
      return {
        store: result.store,
        backlog: result.drain.payments,
        'enqueued/s': perSecond(result.enqueue.payments, result.enqueue.elapsedMs),
        settled: result.drain.settled,
        'drain s': Number((result.drain.elapsedMs / 1_000).toFixed(1)),
        'settled/s': gatewayRate,
        'bank direct/s': bankRate,
        'bank failed': result.bank.failed,
        'gateway / bank': `${((gatewayRate / bankRate) * 100).toFixed(1)}% (≥ 80% ${gatewayRate / bankRate >= 0.8 ? 'met' : 'MISSED'})`,
        concurrency: result.concurrencyMax,
      };
    }),
  );
}
