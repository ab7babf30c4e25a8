/**
 * The sandbox bank as its own process: a stand-in for the bank's API with a
 * durable ledger (PGlite in DATA_DIR/bank-sandbox, or BANK_SANDBOX_DATABASE_URL)
 * and switchable faults. Refused with NODE_ENV=production. See docs/bank-sandbox.md.
 */
import { bankSandboxOptionsFrom, readStartingBankSandboxConfig } from '../bank-sandbox/config';
import { startBankSandbox } from '../bank-sandbox/server';
import { loadConfig } from '../config';
import { runProcess } from './run';

void runProcess('paystream-bank-sandbox', async (logger) => {
  const { sandbox } = loadConfig({ sandbox: readStartingBankSandboxConfig });
  const bank = await startBankSandbox({ ...bankSandboxOptionsFrom(sandbox), logger });
  return () => bank.close();
});
