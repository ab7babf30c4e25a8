/**
 * The sandbox bank for other modules' tests: started in-process on a loopback
 * port over an in-memory ledger (or the storage given), and observed the way
 * anyone outside would: faults through `/admin/faults`, transfers through the
 * back-office listing `/admin/transfers`, which no fault touches, so a test can
 * watch the ledger while it breaks `/v1`. Nothing reads the sandbox's internals.
 */
import pino from 'pino';
import { SANDBOX_ADMIN_KEY_DEFAULT, SANDBOX_API_KEY_DEFAULT } from './config';
import type { Faults, FaultsReplacement } from './faults';
import { MAGIC_CREDITOR_IBANS } from './magic-ibans';
import { startBankSandbox, type BankSandboxOptions, type LedgerStorage } from './server';
import type { TransferView } from './wire';
import type { RefundView } from './refund-ledger';

export { MAGIC_CREDITOR_IBANS } from './magic-ibans';
export type { Faults } from './faults';
export type { TransferView } from './wire';
export type { RefundView } from './refund-ledger';

export const CLOSED_ACCOUNT_IBAN = MAGIC_CREDITOR_IBANS.accountClosed.iban;

/** Pages of the reconciliation listing a test may walk before it calls the listing broken. */
const LISTING_PAGE_COUNT_MAX = 1_000;

export interface SandboxBankForTests {
  readonly url: string;
  readonly apiKey: string;
  readonly adminKey: string;
  faults(): Promise<Faults>;
  /** Changes only the faults named; the others stay as they are. */
  setFaults(faults: Partial<Faults> & { seed?: number }): Promise<Faults>;
  /** Every fault off, the idempotency TTL back to the configured one. */
  heal(): Promise<Faults>;
  transfersFor(endToEndId: string): Promise<TransferView[]>;
  allTransfers(): Promise<TransferView[]>;
  /** The bank's refunds carrying this end-to-end id, from the back-office listing. */
  refundsFor(endToEndId: string): Promise<RefundView[]>;
  allRefunds(): Promise<RefundView[]>;
  /**
   * The faults the bank injected so far, as it logged them (`fault` plus the
   * transfer, refund or end-to-end id it struck). A fault test asserts on it, so
   * a fault that silently did not fire fails the test instead of passing it.
   */
  injectedFaults(): readonly InjectedFault[];
  close(): Promise<void>;
}

export interface InjectedFault {
  readonly fault: 'error-before' | 'error-after' | 'drop-after-commit' | 'lookup-error';
  readonly endToEndId?: string;
  readonly transferId?: string;
  readonly refundId?: string;
}

export interface SandboxBankForTestsOptions {
  readonly storage?: LedgerStorage;
  readonly faults?: Partial<Faults>;
  readonly seed?: number;
  readonly logger?: BankSandboxOptions['logger'];
}

export async function startSandboxBankForTests(options: SandboxBankForTestsOptions = {}): Promise<SandboxBankForTests> {
  const injected: InjectedFault[] = [];
  // The sandbox's own log is the fault log: every injection is one info line carrying `fault`.
  const faultLogger = pino({ level: 'info' }, {
    write: (line: string) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (typeof entry.fault === 'string') injected.push(entry as unknown as InjectedFault);
      // A caller's own logger still sees every line (at info: these are the sandbox's diagnostics, not ours).
      options.logger?.info(entry, String(entry.msg ?? ''));
    },
  });
  const sandbox = await startBankSandbox({
    storage: options.storage ?? { kind: 'memory' },
    apiKey: SANDBOX_API_KEY_DEFAULT,
    adminKey: SANDBOX_ADMIN_KEY_DEFAULT,
    seed: options.seed ?? 1,
    ...(options.faults ? { faults: options.faults } : {}),
    logger: faultLogger,
  });
  const client = sandboxClient(sandbox.url, sandbox.adminKey);
  return { url: sandbox.url, apiKey: sandbox.apiKey, adminKey: sandbox.adminKey, ...client, injectedFaults: () => [...injected], close: () => sandbox.close() };
}

/** The HTTP side of the helper, usable against any running sandbox (another process too). */
export function sandboxClient(url: string, adminKey: string): Omit<SandboxBankForTests, 'url' | 'apiKey' | 'adminKey' | 'close' | 'injectedFaults'> {
  async function call<T>(path: string, key: string, init: RequestInit = {}): Promise<T> {
    const response = await fetch(`${url}${path}`, { ...init, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...init.headers } });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`sandbox bank ${init.method ?? 'GET'} ${path}: ${response.status} ${text.slice(0, 500)}`);
    return JSON.parse(text) as T;
  }
  const faults = () => call<Faults>('/admin/faults', adminKey);
  const change = (method: 'PUT' | 'PATCH', body: FaultsReplacement) => call<Faults>('/admin/faults', adminKey, { method, body: JSON.stringify(body) });

  async function listAll<Item = TransferView>(filter: string, listing = '/admin/transfers'): Promise<Item[]> {
    const items: Item[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < LISTING_PAGE_COUNT_MAX; page++) {
      const query: string = `?limit=100${filter}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const body: { items: Item[]; nextCursor: string | null } = await call(`${listing}${query}`, adminKey);
      items.push(...body.items);
      cursor = body.nextCursor;
      if (cursor === null) return items;
    }
    throw new Error(`sandbox bank listing did not end within ${LISTING_PAGE_COUNT_MAX} pages`);
  }

  return {
    faults,
    setFaults: (changes) => change('PATCH', changes),
    heal: () => change('PUT', {}),
    transfersFor: (endToEndId) => listAll(`&endToEndId=${encodeURIComponent(endToEndId)}`),
    allTransfers: () => listAll(''),
    refundsFor: (endToEndId) => listAll<RefundView>(`&endToEndId=${encodeURIComponent(endToEndId)}`, '/admin/refunds'),
    allRefunds: () => listAll<RefundView>('', '/admin/refunds'),
  };
}
