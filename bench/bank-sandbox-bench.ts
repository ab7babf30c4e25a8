/**
 * The sandbox bank alone: POST /v1/transfers with a new idempotency key each,
 * at the gateway's default concurrency (8), against its own process. Goal:
 * ≥ 1,000 transfers/s on 2 cores, so that the bank is never what limits a
 * gateway benchmark.
 */
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const BANK_TRANSFERS_PER_SECOND_MIN = 1_000;
const BANK_CONCURRENCY = 8;

export interface BankBenchResult {
  readonly transfersPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly non201: number;
  readonly errors: number;
}

const TRANSFER = JSON.stringify({
  amountMinor: 12_550,
  currency: 'EUR',
  debtor: { name: 'Acme Ltd', iban: 'DE89370400440532013000' },
  creditor: { name: 'Bob Supplier', iban: 'GB82WEST12345698765432' },
  endToEndId: 'BENCH0000000001',
  remittanceInformation: 'bench',
});

export async function benchBankSandbox(durationSeconds: number): Promise<BankBenchResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'bank-sandbox-server.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const { url, apiKey } = await new Promise<{ url: string; apiKey: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('sandbox bank bench server did not start')), 60_000);
      createInterface({ input: child.stdout! }).once('line', (line) => (clearTimeout(timer), resolve(JSON.parse(line) as { url: string; apiKey: string })));
      child.once('exit', (code) => reject(new Error(`sandbox bank bench server exited with ${code}`)));
    });
    let sent = 0;
    const run = (duration: number) =>
      autocannon({
        url: `${url}/v1/transfers`,
        connections: BANK_CONCURRENCY,
        duration,
        requests: [
          {
            method: 'POST',
            headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
            body: TRANSFER,
            setupRequest: (request) => ({ ...request, headers: { ...request.headers, 'idempotency-key': `bench-${process.pid}-${(sent += 1)}` } }),
          },
        ],
      });
    await run(1); // warm-up: JIT, PGlite's first plans
    const result = await run(durationSeconds);
    return {
      transfersPerSecond: result.requests.average,
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      non201: result.non2xx,
      errors: result.errors + result.timeouts,
    };
  } finally {
    child.kill('SIGTERM');
  }
}

export function printBankResult(result: BankBenchResult): void {
  const met = result.transfersPerSecond >= BANK_TRANSFERS_PER_SECOND_MIN;
  console.table([
    {
      'transfers/s': Math.round(result.transfersPerSecond),
      'p50 ms': result.p50Ms,
      'p99 ms': result.p99Ms,
      concurrency: BANK_CONCURRENCY,
      goal: `≥ ${BANK_TRANSFERS_PER_SECOND_MIN}/s ${met ? 'met' : 'MISSED'}`,
      'errors or non-201': result.errors + result.non201,
    },
  ]);
}
