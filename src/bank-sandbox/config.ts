/**
 * The sandbox bank's configuration section: where it listens, which keys it
 * accepts, where its ledger lives and which faults it starts with. The faults
 * can be changed at run time through `PUT /admin/faults` (docs/bank-sandbox.md).
 */
import { join } from 'node:path';
import { z } from 'zod';
import { coreSection } from '../config/core';
import { booleanFromEnv, integerFromEnv, isProduction, key, rateFromEnv, readSection, type SectionValues } from '../config/env';
import { IDEMPOTENCY_TTL_MS_DEFAULT, IDEMPOTENCY_TTL_MS_MAX, LATENCY_MS_MAX, SEED_MAX, type Faults } from './faults';
import type { BankSandboxOptions, LedgerStorage } from './server';

/** The gateway's BANK_API_KEY defaults to the same value, so `npm start` needs no keys set. */
export const SANDBOX_API_KEY_DEFAULT = 'sandbox-key';
export const SANDBOX_ADMIN_KEY_DEFAULT = 'sandbox-admin-key';
export const SANDBOX_PORT_DEFAULT = 4010;

export const bankSandboxSection = {
  port: key('BANK_SANDBOX_PORT', 'Sandbox bank: HTTP port, on HOST (point BANK_URL here).', integerFromEnv(0, 65535).default(SANDBOX_PORT_DEFAULT), String(SANDBOX_PORT_DEFAULT)),
  apiKey: key('BANK_SANDBOX_API_KEY', 'Sandbox bank: bearer key accepted on /v1 (the gateway presents BANK_API_KEY).', z.string().min(1).max(200).default(SANDBOX_API_KEY_DEFAULT), SANDBOX_API_KEY_DEFAULT),
  adminKey: key('BANK_SANDBOX_ADMIN_KEY', 'Sandbox bank: bearer key of the fault switchboard /admin/faults.', z.string().min(1).max(200).default(SANDBOX_ADMIN_KEY_DEFAULT), SANDBOX_ADMIN_KEY_DEFAULT),
  databaseUrl: key('BANK_SANDBOX_DATABASE_URL', "Sandbox bank: PostgreSQL connection string of its ledger; unset: PGlite in DATA_DIR/bank-sandbox.", z.string().url().optional()),
  databaseSchema: key('BANK_SANDBOX_DATABASE_SCHEMA', 'Sandbox bank: PostgreSQL schema of its ledger (with BANK_SANDBOX_DATABASE_URL).', z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).default('bank_sandbox'), 'bank_sandbox'),
  idempotencyTtlMs: key('BANK_SANDBOX_IDEMPOTENCY_TTL_MS', 'Sandbox bank: how long an idempotency key is remembered after its first use; later, the same key makes a new transfer.', integerFromEnv(1, IDEMPOTENCY_TTL_MS_MAX).default(IDEMPOTENCY_TTL_MS_DEFAULT), String(IDEMPOTENCY_TTL_MS_DEFAULT)),
  latencyMs: key('BANK_SANDBOX_LATENCY_MS', 'Sandbox bank fault: delay added to each transfer submission while its key is in flight.', integerFromEnv(0, LATENCY_MS_MAX).default(0), '0'),
  errorBeforeRate: key('BANK_SANDBOX_ERROR_BEFORE_RATE', 'Sandbox bank fault: share of submissions answered 503 without executing (0 to 1).', rateFromEnv.default(0), '0'),
  errorAfterRate: key('BANK_SANDBOX_ERROR_AFTER_RATE', 'Sandbox bank fault: share of submissions executed, then answered 500 (0 to 1).', rateFromEnv.default(0), '0'),
  dropAfterCommitRate: key('BANK_SANDBOX_DROP_AFTER_COMMIT_RATE', 'Sandbox bank fault: share of submissions executed, then left without an answer: the connection is dropped (0 to 1).', rateFromEnv.default(0), '0'),
  lookupErrorRate: key('BANK_SANDBOX_LOOKUP_ERROR_RATE', 'Sandbox bank fault: share of lookups (GET /v1/transfers…) answered 503 (0 to 1).', rateFromEnv.default(0), '0'),
  outage: key('BANK_SANDBOX_OUTAGE', 'Sandbox bank fault: true answers 503 to every /v1 request.', booleanFromEnv.default(false), 'false'),
  seed: key('BANK_SANDBOX_SEED', 'Sandbox bank: seed of the fault dice, for runs that repeat exactly; unset: a random seed.', integerFromEnv(0, SEED_MAX).optional()),
};

/** HOST, DATA_DIR and LOG_LEVEL are the core section's own keys; read here without the core's cross-checks. */
const sharedCoreKeys = { host: coreSection.host, dataDir: coreSection.dataDir };

export type BankSandboxConfig = SectionValues<typeof bankSandboxSection> & SectionValues<typeof sharedCoreKeys>;

export function readBankSandboxConfig(env: NodeJS.ProcessEnv, problems: string[]): BankSandboxConfig {
  return { ...readSection(sharedCoreKeys, env, problems), ...readSection(bankSandboxSection, env, problems) };
}

/**
 * The configuration of a sandbox that is about to start (its own process, or the
 * all-in-one with BANK_SANDBOX_ENABLED). Production refuses it outright: the
 * sandbox moves no money, answers whatever its fault switches say and would let
 * a gateway "settle" payments no bank ever executed. Its published keys are
 * named too, so one start-up lists every problem.
 */
export function readStartingBankSandboxConfig(env: NodeJS.ProcessEnv, problems: string[]): BankSandboxConfig {
  const config = readBankSandboxConfig(env, problems);
  if (!isProduction(env)) return config;
  problems.push('BANK_SANDBOX: the sandbox bank is a test stand-in and is refused when NODE_ENV=production (point BANK_URL at your bank)');
  if (config.apiKey === SANDBOX_API_KEY_DEFAULT) problems.push('BANK_SANDBOX_API_KEY: the published default is refused when NODE_ENV=production');
  if (config.adminKey === SANDBOX_ADMIN_KEY_DEFAULT) problems.push('BANK_SANDBOX_ADMIN_KEY: the published default is refused when NODE_ENV=production');
  return config;
}

export function ledgerStorageFrom(config: BankSandboxConfig): LedgerStorage {
  if (config.databaseUrl) return { kind: 'postgres', url: config.databaseUrl, schema: config.databaseSchema };
  return { kind: 'pglite', dataDir: join(config.dataDir, 'bank-sandbox') };
}

/** Everything `startBankSandbox` needs from the configuration; the caller adds the logger. */
export function bankSandboxOptionsFrom(config: BankSandboxConfig): Omit<BankSandboxOptions, 'logger'> {
  const faults: Faults = {
    latencyMs: config.latencyMs,
    errorBeforeRate: config.errorBeforeRate,
    errorAfterRate: config.errorAfterRate,
    dropAfterCommitRate: config.dropAfterCommitRate,
    lookupErrorRate: config.lookupErrorRate,
    outage: config.outage,
    idempotencyTtlMs: config.idempotencyTtlMs,
  };
  return {
    storage: ledgerStorageFrom(config),
    host: config.host,
    port: config.port,
    apiKey: config.apiKey,
    adminKey: config.adminKey,
    faults,
    ...(config.seed === undefined ? {} : { seed: config.seed }),
  };
}
