/**
 * The sandbox bank alone, in its own process (as the gateway bench's bank is
 * not: there it shares the system's process), on an in-memory PGlite ledger with
 * every fault off. Prints one JSON line `{ "url": …, "apiKey": … }` when listening.
 */
import pino from 'pino';
import { SANDBOX_ADMIN_KEY_DEFAULT, SANDBOX_API_KEY_DEFAULT } from '../src/bank-sandbox/config';
import { startBankSandbox } from '../src/bank-sandbox/server';

async function main(): Promise<void> {
  const logger = pino({ level: process.env.BENCH_LOG_LEVEL ?? 'info' }, pino.destination({ dest: '/dev/null', sync: false }));
  const bank = await startBankSandbox({ storage: { kind: 'memory' }, apiKey: SANDBOX_API_KEY_DEFAULT, adminKey: SANDBOX_ADMIN_KEY_DEFAULT, seed: 1, logger });
  process.stdout.write(`${JSON.stringify({ url: bank.url, apiKey: bank.apiKey })}\n`);
}

void main();
