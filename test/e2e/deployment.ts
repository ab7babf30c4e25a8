/**
 * paystream as deployed, in real processes on a fresh PostgreSQL schema: the
 * sandbox bank (its ledger in a schema of its own), the API, and any number of
 * gateways a test starts, SIGKILLs and restarts. Payments go in through the
 * API over HTTP; the bank's ledger is read through its back-office listing.
 * Every process is killed and both schemas dropped by `close()`.
 */
import pg from 'pg';
import { bankReferencesFor, refundReferencesFor } from '../../src/bank-gateway/keys';
import { WORK_TABLE } from '../../src/bank-gateway/work-queue';
import { sandboxClient } from '../../src/bank-sandbox/testing';
import type { TransferView } from '../../src/bank-sandbox/wire';
import type { RefundView as BankRefundView } from '../../src/bank-sandbox/refund-ledger';
import type { PaymentId, TenantId } from '../../src/domain/ids';
import { createTestSchema } from '../support/databases';
import { startProcess, waitForOutput, type RunningProcess } from './gateway-processes';

export const TENANT = 'acme';
export const CLIENT_KEY = 'e2e-client-acme-000000000001';
export const BANK_ADMIN_KEY = 'e2e-bank-admin-key';
export const BANK_API_KEY = 'e2e-bank-key';
const START_MS_MAX = 60_000;
const LISTENING_URL = /"url":"(http:\/\/[^"]+)"/;

export const IBAN_DEBTOR = 'DE89370400440532013000';
export const IBAN_CREDITOR = 'GB82WEST12345698765432';

export interface PaymentView {
  readonly id: string;
  readonly status: string;
  readonly cancellationReason: string | null;
  readonly rejectionReason: string | null;
  readonly bank: { readonly transferId: string | null; readonly attempts: number; readonly lastError: string | null; readonly endToEndId: string } | null;
}

export interface RefundView {
  readonly id: string;
  readonly status: string;
  readonly amount: string;
  readonly bank: { readonly refundId: string | null; readonly attempts: number; readonly endToEndId: string } | null;
}

/** Fast gateway settings: short timeouts and lease, so recovery after a SIGKILL takes seconds. */
const GATEWAY_ENV = {
  BANK_TIMEOUT_MS: '500',
  BANK_RETRY_WINDOW_MS: '600000',
  BANK_BACKOFF_BASE_MS: '50',
  BANK_BACKOFF_MAX_MS: '500',
  BANK_IN_FLIGHT_WAIT_MS: '200',
  BANK_LOOKUP_RETRY_COUNT_MAX: '1',
  BANK_CIRCUIT_FAILURE_COUNT_MAX: '20',
  BANK_CIRCUIT_HALF_OPEN_AFTER_MS: '300',
  GATEWAY_LEASE_MS: '2500',
  GATEWAY_CONCURRENCY_MAX: '8',
  GATEWAY_POLL_INTERVAL_MS: '50',
};

export interface Deployment {
  readonly apiUrl: string;
  readonly bankUrl: string;
  readonly bank: ReturnType<typeof sandboxClient>;
  /** The store settings every paystream process of this deployment gets (for a test's own processes). */
  readonly storeEnv: Readonly<Record<string, string>>;
  readonly apiProcess: RunningProcess;
  readonly bankProcess: RunningProcess;
  /** Starts a gateway process; `extraEnv` adds e.g. PAYSTREAM_CRASH_POINTS. Resolves once it runs. */
  startGateway(name: string, extraEnv?: Record<string, string>): Promise<RunningProcess>;
  putPayment(id: string, options?: { creditorIban?: string }): Promise<number>;
  cancelPayment(id: string): Promise<number>;
  putRefund(id: string, refundId: string, amount: string): Promise<number>;
  getRefund(id: string, refundId: string): Promise<RefundView>;
  /** The bank's refunds carrying this refund's end-to-end id (back-office listing). */
  refundsFor(id: string, refundId: string): Promise<BankRefundView[]>;
  getPayment(id: string): Promise<PaymentView>;
  /** Every transfer the bank holds for this payment's end-to-end reference. */
  transfersFor(id: string): Promise<TransferView[]>;
  endToEndIdOf(id: string): string;
  /** The gateway's work-queue row for the payment, read straight from PostgreSQL. */
  workItem(id: string, instruction?: string): Promise<{ status: string; leaseOwner: string | null } | undefined>;
  close(): Promise<void>;
}

export async function startDeployment(options: { bankEnv?: Record<string, string>; apiEnv?: Record<string, string> } = {}): Promise<Deployment> {
  const schema = await createTestSchema();
  const bankSchema = await createTestSchema();
  const processes: RunningProcess[] = [];
  const launch = async (name: string, entry: string, env: Record<string, string>) => {
    const running = startProcess(name, entry, env);
    processes.push(running);
    await waitForOutput(running, /listening|bank gateway started/, START_MS_MAX);
    return running;
  };
  const storeEnv = { EVENT_STORE: 'postgres', DATABASE_URL: schema.url, DATABASE_SCHEMA: schema.schema, LOG_LEVEL: 'info' };

  const bankProcess = await launch('bank-sandbox', 'src/processes/bank-sandbox.ts', {
    BANK_SANDBOX_PORT: '0',
    BANK_SANDBOX_API_KEY: BANK_API_KEY,
    BANK_SANDBOX_ADMIN_KEY: BANK_ADMIN_KEY,
    BANK_SANDBOX_DATABASE_URL: bankSchema.url,
    BANK_SANDBOX_DATABASE_SCHEMA: bankSchema.schema,
    ...options.bankEnv,
  });
  const bankUrl = LISTENING_URL.exec(bankProcess.output())![1]!;
  const apiProcess = await launch('api', 'src/processes/api.ts', {
    ...storeEnv,
    PORT: '0',
    BANK_URL: bankUrl,
    BANK_API_KEY,
    RATE_LIMIT_PER_MINUTE: '0',
    // One API process: these suites are about the gateway and the store, and on a loaded machine two
    // workers starting at once can outlast the start-up bound. test/e2e/api-workers.e2e.test.ts covers workers.
    API_WORKERS: '1',
    API_KEYS: JSON.stringify([{ key: CLIENT_KEY, role: 'client', tenant: TENANT }]),
    TENANTS: JSON.stringify({ [TENANT]: { debitAccounts: [IBAN_DEBTOR] } }),
    ...options.apiEnv,
  });
  const apiUrl = LISTENING_URL.exec(apiProcess.output())![1]!;
  const bank = sandboxClient(bankUrl, BANK_ADMIN_KEY);
  const headers = { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json' };
  const endToEndIdOf = (id: string) => bankReferencesFor(TENANT as TenantId, id as PaymentId).endToEndId;

  return {
    apiUrl,
    bankUrl,
    bank,
    storeEnv,
    apiProcess,
    bankProcess,
    endToEndIdOf,
    startGateway: (name, extraEnv = {}) =>
      launch(name, 'src/processes/gateway.ts', { ...storeEnv, ...GATEWAY_ENV, BANK_URL: bankUrl, BANK_API_KEY, GATEWAY_ID: name, ...extraEnv }),
    async putPayment(id, { creditorIban = IBAN_CREDITOR } = {}) {
      const body = {
        amount: '125.50',
        currency: 'EUR',
        debtor: { name: 'Acme Ltd', iban: IBAN_DEBTOR },
        creditor: { name: 'Bob Supplier', iban: creditorIban },
        reference: `invoice ${id}`,
      };
      const response = await fetch(`${apiUrl}/payments/${id}`, { method: 'PUT', headers, body: JSON.stringify(body) });
      await response.arrayBuffer();
      return response.status;
    },
    async cancelPayment(id) {
      const response = await fetch(`${apiUrl}/payments/${id}/cancel`, { method: 'POST', headers, body: JSON.stringify({ reason: 'customer changed their mind' }) });
      await response.arrayBuffer();
      return response.status;
    },
    async getPayment(id) {
      const response = await fetch(`${apiUrl}/payments/${id}`, { headers });
      if (response.status !== 200) throw new Error(`GET /payments/${id}: ${response.status} ${await response.text()}`);
      return (await response.json()) as PaymentView;
    },
    transfersFor: (id) => bank.transfersFor(endToEndIdOf(id)),
    async putRefund(id, refundId, amount) {
      const response = await fetch(`${apiUrl}/payments/${id}/refunds/${refundId}`, { method: 'PUT', headers, body: JSON.stringify({ amount }) });
      await response.arrayBuffer();
      return response.status;
    },
    async getRefund(id, refundId) {
      const response = await fetch(`${apiUrl}/payments/${id}/refunds/${refundId}`, { headers });
      if (response.status !== 200) throw new Error(`GET /payments/${id}/refunds/${refundId}: ${response.status} ${await response.text()}`);
      return (await response.json()) as RefundView;
    },
    refundsFor: (id, refundId) => bank.refundsFor(refundReferencesFor(TENANT as TenantId, id as PaymentId, refundId).endToEndId),
    async workItem(id, instruction = 'transfer') {
      const client = new pg.Client({ connectionString: schema.url });
      await client.connect();
      try {
        const sql = `SELECT status, lease_owner FROM ${schema.schema}.${WORK_TABLE} WHERE tenant_id = $1 AND payment_id = $2 AND instruction = $3`;
        const row = (await client.query<{ status: string; lease_owner: string | null }>(sql, [TENANT, id, instruction])).rows[0];
        return row && { status: row.status, leaseOwner: row.lease_owner };
      } finally {
        await client.end();
      }
    },
    async close() {
      await Promise.all(processes.map((running) => running.kill('SIGKILL')));
      await schema.drop();
      await bankSchema.drop();
    },
  };
}
