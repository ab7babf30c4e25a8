/**
 * The sandbox bank module's factory: its own process and the all-in-one both
 * start the stand-in bank through this, from the sandbox's configuration.
 */
import type { Logger } from '../logging';
import type { ProcessModule } from '../shared/process-module';
import { bankSandboxOptionsFrom, type BankSandboxConfig } from './config';
import { startBankSandbox, type BankSandbox } from './server';

export interface BankSandboxModuleOptions {
  readonly config: BankSandboxConfig;
  readonly logger: Logger;
}

export interface BankSandboxModule extends ProcessModule {
  /** Where the started bank listens, and the key its clients use; read after start(). */
  readonly url: string;
  readonly apiKey: string;
}

export function createBankSandboxModule(options: BankSandboxModuleOptions): BankSandboxModule {
  let bank: BankSandbox | undefined;
  const started = (): BankSandbox => {
    if (!bank) throw new Error('the sandbox bank is not started');
    return bank;
  };
  return {
    async start() {
      bank = await startBankSandbox({ ...bankSandboxOptionsFrom(options.config), logger: options.logger });
    },
    stop: async () => bank?.close(),
    readinessChecks: new Map(),
    get url() {
      return started().url;
    },
    get apiKey() {
      return started().apiKey;
    },
  };
}
