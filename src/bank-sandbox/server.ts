/**
 * Starts the sandbox bank: its ledger on the configured storage, its HTTP
 * server, its fault switchboard. The process entry (src/processes/bank-sandbox.ts),
 * the all-in-one process and the tests all start it through `startBankSandbox`,
 * so what is tested is what runs.
 */
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomInt, randomUUID } from 'node:crypto';
import express from 'express';
import pino from 'pino';
import { PgliteDatabase, PostgresDatabase, type Database } from '../db/database';
import type { Logger } from '../logging';
import { IDEMPOTENCY_TTL_MS_DEFAULT, SEED_MAX, createFaultSwitchboard, healthyFaults, type Faults, type FaultsReplacement } from './faults';
import { openLedger } from './ledger';
import { openRefundLedger } from './refund-ledger';
import { createRefundsRouter } from './refund-routes';
import { problemErrorHandler, SandboxProblem, sendProblem } from './problem';
import { createAdminRouter, createHealthRouter, createTransfersRouter } from './routes';

/** Where the ledger lives. A Database handed in stays its owner's to close. */
export type LedgerStorage =
  | { readonly kind: 'memory' }
  | { readonly kind: 'pglite'; readonly dataDir: string }
  | { readonly kind: 'postgres'; readonly url: string; readonly schema: string }
  | { readonly kind: 'database'; readonly database: Database };

export interface BankSandboxOptions {
  readonly storage: LedgerStorage;
  readonly apiKey: string;
  readonly adminKey: string;
  /** Default 0: any free port. */
  readonly port?: number;
  readonly host?: string;
  /** The faults it starts with; omitted ones are off. Their idempotency TTL is also the one `PUT /admin/faults` falls back to. */
  readonly faults?: Partial<Faults>;
  /** Seed of the fault dice; default random (logged, so a run can be repeated). */
  readonly seed?: number;
  readonly logger?: Logger;
  readonly now?: () => Date;
}

export interface BankSandbox {
  readonly url: string;
  readonly apiKey: string;
  readonly adminKey: string;
  /** The same switchboard `GET/PUT /admin/faults` reads and sets, for in-process callers. */
  readonly admin: {
    faults(): Faults;
    replaceFaults(replacement: FaultsReplacement): Faults;
    patchFaults(patch: FaultsReplacement): Faults;
  };
  close(): Promise<void>;
}

/** How long `close()` lets requests still running finish (a held one is cut short at once). */
const CLOSE_WAIT_MS_MAX = 5_000;

async function openStorage(storage: LedgerStorage): Promise<{ database: Database; owned: boolean }> {
  switch (storage.kind) {
    case 'memory':
      return { database: await PgliteDatabase.open(), owned: true };
    case 'pglite':
      mkdirSync(storage.dataDir, { recursive: true });
      return { database: await PgliteDatabase.open(storage.dataDir), owned: true };
    case 'postgres':
      return { database: await PostgresDatabase.open({ connectionString: storage.url, schema: storage.schema, poolSizeMax: 5 }), owned: true };
    case 'database':
      return { database: storage.database, owned: false };
    default: {
      const unknown: never = storage;
      throw new Error(`unknown ledger storage ${JSON.stringify(unknown)}`);
    }
  }
}

export async function startBankSandbox(options: BankSandboxOptions): Promise<BankSandbox> {
  const logger = options.logger ?? pino({ level: 'silent' });
  const { database, owned } = await openStorage(options.storage);
  const ledger = await openLedger(database).catch(async (error: unknown) => {
    if (owned) await database.close();
    throw error;
  });
  const refunds = await openRefundLedger(database).catch(async (error: unknown) => {
    if (owned) await database.close();
    throw error;
  });
  const configuredTtlMs = options.faults?.idempotencyTtlMs ?? IDEMPOTENCY_TTL_MS_DEFAULT;
  const seed = options.seed ?? randomInt(0, SEED_MAX);
  const faults = createFaultSwitchboard({ ...healthyFaults(configuredTtlMs), ...options.faults }, seed, configuredTtlMs);
  const closing = new AbortController();
  const running = trackRequests();
  const deps = { ledger, faults, apiKey: options.apiKey, adminKey: options.adminKey, logger, now: options.now ?? (() => new Date()), closing: closing.signal };

  const app = express();
  app.disable('x-powered-by');
  // A transfer is not a cacheable representation; no ETags on these answers.
  app.set('etag', false);
  app.use(running.middleware);
  app.use((_req, res, next) => {
    res.locals['requestId'] = randomUUID();
    res.setHeader('Request-Id', res.locals['requestId'] as string);
    next();
  });
  app.use(createHealthRouter(ledger), createRefundsRouter({ ...deps, refunds }), createAdminRouter(deps), createTransfersRouter(deps));
  app.use((req, res) => sendProblem(res, new SandboxProblem(404, 'not-found', 'Not found', `no route for ${req.method} ${req.path}`)));
  app.use(problemErrorHandler(logger));

  const server = await listen(createServer(app), options.port ?? 0, options.host ?? '127.0.0.1');
  const address = server.address() as AddressInfo;
  const host = options.host ?? '127.0.0.1';
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  logger.info({ url, seed, faults: faults.current(), storage: options.storage.kind }, 'sandbox bank listening');

  return {
    url,
    apiKey: options.apiKey,
    adminKey: options.adminKey,
    admin: { faults: faults.current, replaceFaults: faults.replace, patchFaults: faults.patch },
    async close() {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      closing.abort();
      await running.drained(CLOSE_WAIT_MS_MAX);
      server.closeAllConnections();
      await stopped;
      if (owned) await database.close();
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** Counts requests still being handled, so the ledger is closed only after the last one is done with it. */
function trackRequests() {
  let count = 0;
  let onIdle: (() => void) | undefined;
  const middleware: express.RequestHandler = (_req, res, next) => {
    count += 1;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      count -= 1;
      if (count === 0) onIdle?.();
    };
    res.once('finish', finish);
    res.once('close', finish);
    next();
  };
  return {
    middleware,
    drained(timeoutMs: number): Promise<void> {
      if (count === 0) return Promise.resolve();
      return new Promise((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        onIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    },
  };
}
