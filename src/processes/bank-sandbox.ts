/**
 * The sandbox bank as its own process: a stand-in for the bank's API with a
 * durable ledger (PGlite in DATA_DIR/bank-sandbox, or BANK_SANDBOX_DATABASE_URL)
 * and switchable faults. Refused with NODE_ENV=production. See docs/bank-sandbox.md.
 */
import { readStartingBankSandboxConfig } from '../bank-sandbox/config';
import { createBankSandboxModule } from '../bank-sandbox/module';
import { loadConfig } from '../config';
import { runProcess } from './run';

void runProcess('paystream-bank-sandbox', async (logger, parts) => {
  const { sandbox } = loadConfig({ sandbox: readStartingBankSandboxConfig });
  await parts.start(createBankSandboxModule({ config: sandbox, logger }));
});
