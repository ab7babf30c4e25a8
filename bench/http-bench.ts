/**
 * Payments API throughput and latency: PUT-create, PUT-retry and GET, on the
 * embedded store and on server PostgreSQL, each beside the bare express route
 * measured in the same run. Targets (2 cores): create on PostgreSQL ≥ 50% of the
 * bare route's throughput, retry ≥ 70%.
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { DEMO_API_KEYS } from '../src/http/auth';

export interface Measurement {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly non2xx: number;
}

export interface BenchOptions {
  readonly durationSeconds: number;
  readonly connections: number;
}

export const CLIENT_KEY = DEMO_API_KEYS[0]!.key;
/** The PUT body every API bench sends: one valid payment. */
export const BODY = JSON.stringify({
  amount: '125.50',
  currency: 'EUR',
  debtor: { name: 'Acme Ltd', iban: 'DE89370400440532013000' },
  creditor: { name: 'Bob Supplier', iban: 'GB82WEST12345698765432' },
  reference: 'bench',
});

export async function startBenchServer(kind: string, env: NodeJS.ProcessEnv = {}): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'server.ts'), kind], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bench server ${kind} did not start`)), 60_000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once('exit', (code) => reject(new Error(`bench server ${kind} exited with ${code}`)));
  });
  return { url, child };
}

export async function measure(url: string, method: 'PUT' | 'GET', pathFor: () => string, options: BenchOptions): Promise<Measurement> {
  const result = await autocannon({
    url,
    connections: options.connections,
    duration: options.durationSeconds,
    requests: [
      {
        method,
        headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json' },
        ...(method === 'PUT' ? { body: BODY } : {}),
        setupRequest: (request) => ({ ...request, path: pathFor() }),
      },
    ],
  });
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

/** Creates `count` payments (ids seed-0 … seed-n) so retries and reads hit existing ones. */
export async function seedPayments(url: string, count: number): Promise<void> {
  for (let start = 0; start < count; start += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, count - start) }, (_, offset) =>
        fetch(`${url}/payments/seed-${start + offset}`, { method: 'PUT', headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json' }, body: BODY }),
      ),
    );
  }
}

export interface ScenarioResult {
  readonly store: string;
  readonly scenario: string;
  readonly target: Measurement;
  readonly baseline: Measurement;
}

export async function benchPaymentsApi(store: 'pglite' | 'postgres', env: NodeJS.ProcessEnv, options: BenchOptions): Promise<ScenarioResult[]> {
  const seeded = 500;
  const bare = await startBenchServer('bare');
  const target = await startBenchServer(store, env);
  try {
    await seedPayments(target.url, seeded);
    let created = 0;
    let read = 0;
    const scenarios: Array<[string, 'PUT' | 'GET', () => string]> = [
      ['PUT create', 'PUT', () => `/payments/bench-${process.pid}-${created++}`],
      ['PUT retry', 'PUT', () => `/payments/seed-${read++ % seeded}`],
      ['GET', 'GET', () => `/payments/seed-${read++ % seeded}`],
    ];
    const results: ScenarioResult[] = [];
    for (const [scenario, method, path] of scenarios) {
      const baseline = await measure(bare.url, method, path, options);
      const measured = await measure(target.url, method, path, options);
      results.push({ store, scenario, target: measured, baseline });
    }
    return results;
  } finally {
    bare.child.kill('SIGTERM');
    target.child.kill('SIGTERM');
  }
}
