/**
 * Read model `payments`: one row per payment, for analysts' queries. Parties'
 * IBANs are stored masked: the read model is for looking at volumes and states,
 * and an analyst never needs a full account number.
 *
 * A batch is applied in three steps: load the rows of the payments it touches
 * (one query), fold the events into them in memory with `evolvePaymentRow` (pure),
 * upsert the changed rows (one query). Two round trips per batch whatever its size
 * is what lets a rebuild keep up with the raw read rate of the log.
 */
import type { SqlClient } from '../../db/database';
import { formatPosition, type RecordedEvent } from '../../event-store/port';
import type { PaymentEvent, PaymentStatus } from '../../domain/payment';
import { assertNever } from '../../domain/errors';
import { maskIban } from '../../shared/mask-iban';
import { identifier, tableName, type Projection, type TableNames } from '../projection';
import { unnestRowSet, type RowSetColumn } from './sql-rows';
import { decodePaymentEvents, paymentKey, paymentsToLoad, PAYMENT_EVENTS_FILTER, statusAfter, type DecodedPaymentEvent } from './payment-events';

/** Read-model tables carry an `rm_` prefix so they can never collide with a write-side table in the same schema. */
export const PAYMENTS_TABLE = 'rm_payments';

export interface PaymentRow {
  readonly tenantId: string;
  readonly paymentId: string;
  readonly status: PaymentStatus;
  readonly amountMinor: number;
  readonly currency: string;
  readonly debtorName: string;
  readonly debtorIbanMasked: string;
  readonly creditorName: string;
  readonly creditorIbanMasked: string;
  readonly reference: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly bankTransferId: string | null;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly reason: string | null;
  /** Sum of the refunds the bank executed, in the payment's minor units. */
  readonly refundedAmountMinor: number;
  readonly revision: number;
  /** "commit/prepare" of the last event folded in. */
  readonly lastPosition: string;
}

/**
 * The row after one event. Events at or below the row's revision are ignored, so
 * folding an event twice changes nothing (the runner never does it; this is a
 * second line of defence that costs one comparison).
 */
export function evolvePaymentRow(row: PaymentRow | undefined, decoded: DecodedPaymentEvent): PaymentRow {
  const { event } = decoded;
  if (row && decoded.revision <= row.revision) return row;
  if (event.type === 'PaymentRequested') {
    if (row) throw new Error(`payment ${decoded.tenantId}/${decoded.paymentId} requested twice`);
    const { amountMinor, currency, debtor, creditor, reference } = event.data;
    return {
      tenantId: decoded.tenantId,
      paymentId: decoded.paymentId,
      status: statusAfter(event),
      amountMinor,
      currency,
      debtorName: debtor.name,
      debtorIbanMasked: maskIban(debtor.iban),
      creditorName: creditor.name,
      creditorIbanMasked: maskIban(creditor.iban),
      reference,
      createdAt: decoded.occurredAt,
      updatedAt: decoded.occurredAt,
      bankTransferId: null,
      attempts: 0,
      lastError: null,
      reason: null,
      refundedAmountMinor: 0,
      revision: decoded.revision,
      lastPosition: formatPosition(decoded.position),
    };
  }
  if (!row) throw new Error(`${event.type} at revision ${decoded.revision} of payment ${decoded.tenantId}/${decoded.paymentId} without its PaymentRequested`);
  return advanceRow(row, decoded, changesOf(event, row));
}

/** What an event changes in a row besides status, time, revision and position. */
type RowChanges = Partial<Pick<PaymentRow, 'attempts' | 'bankTransferId' | 'lastError' | 'reason' | 'refundedAmountMinor'>>;

function changesOf(event: Exclude<PaymentEvent, { type: 'PaymentRequested' }>, row: PaymentRow): RowChanges {
  switch (event.type) {
    case 'PaymentCancelled':
      return { reason: event.data.reason };
    case 'BankSubmissionStarted':
      return { attempts: event.data.attempt };
    case 'BankAttemptFailed':
      return { lastError: event.data.error };
    case 'PaymentSettled':
      return { bankTransferId: event.data.bankTransferId };
    case 'PaymentRejected':
      return { bankTransferId: event.data.bankTransferId, reason: event.data.reason };
    case 'BankOutcomeUnknown':
      return { lastError: event.data.lastError };
    case 'OperatorRetryRequested':
      return {};
    case 'PaymentResolvedByOperator':
      return { bankTransferId: event.data.bankTransferId, reason: event.data.reason };
    case 'RefundSucceeded':
      return { refundedAmountMinor: row.refundedAmountMinor + event.data.amountMinor };
    case 'RefundRequested':
    case 'RefundSubmissionStarted':
    case 'RefundAttemptFailed':
    case 'RefundFailed':
    case 'RefundOutcomeUnknown':
      return {};
    default:
      return assertNever(event, 'payment event');
  }
}

/**
 * Rationale: the next row is built field by field rather than with
 * `{ ...row, ...changes }`. On Node 20 a spread followed by more properties
 * costs microseconds per object, and a rebuild pays it once per event: written
 * this way the fold is several times faster (see docs/projections.md).
 */
function advanceRow(row: PaymentRow, decoded: DecodedPaymentEvent, changes: RowChanges): PaymentRow {
  return {
    tenantId: row.tenantId,
    paymentId: row.paymentId,
    status: statusAfter(decoded.event),
    amountMinor: row.amountMinor,
    currency: row.currency,
    debtorName: row.debtorName,
    debtorIbanMasked: row.debtorIbanMasked,
    creditorName: row.creditorName,
    creditorIbanMasked: row.creditorIbanMasked,
    reference: row.reference,
    createdAt: row.createdAt,
    updatedAt: decoded.occurredAt,
    bankTransferId: changes.bankTransferId === undefined ? row.bankTransferId : changes.bankTransferId,
    attempts: changes.attempts ?? row.attempts,
    lastError: changes.lastError === undefined ? row.lastError : changes.lastError,
    reason: changes.reason === undefined ? row.reason : changes.reason,
    refundedAmountMinor: changes.refundedAmountMinor ?? row.refundedAmountMinor,
    revision: decoded.revision,
    lastPosition: formatPosition(decoded.position),
  };
}

/** Column name → the row field it holds and its SQL type, in one place for DDL, reads and writes. */
const COLUMNS = [
  ['tenant_id', 'tenantId', 'text'],
  ['payment_id', 'paymentId', 'text'],
  ['status', 'status', 'text'],
  ['amount_minor', 'amountMinor', 'bigint'],
  ['currency', 'currency', 'text'],
  ['debtor_name', 'debtorName', 'text'],
  ['debtor_iban_masked', 'debtorIbanMasked', 'text'],
  ['creditor_name', 'creditorName', 'text'],
  ['creditor_iban_masked', 'creditorIbanMasked', 'text'],
  ['reference', 'reference', 'text'],
  ['created_at', 'createdAt', 'timestamptz'],
  ['updated_at', 'updatedAt', 'timestamptz'],
  ['bank_transfer_id', 'bankTransferId', 'text'],
  ['attempts', 'attempts', 'integer'],
  ['last_error', 'lastError', 'text'],
  ['reason', 'reason', 'text'],
  ['refunded_amount_minor', 'refundedAmountMinor', 'bigint'],
  ['revision', 'revision', 'integer'],
  ['last_position', 'lastPosition', 'text'],
] as const satisfies ReadonlyArray<readonly [string, keyof PaymentRow, string]>;

const NULLABLE = new Set(['reference', 'bank_transfer_id', 'last_error', 'reason']);

function createPaymentsTable(table: string): string[] {
  const name = identifier(table);
  const columns = COLUMNS.map(([column, , type]) => `${column} ${type}${NULLABLE.has(column) ? '' : ' NOT NULL'}`);
  return [
    `CREATE TABLE IF NOT EXISTS ${name} (${columns.join(', ')}, CONSTRAINT ${name}_pkey PRIMARY KEY (tenant_id, payment_id))`,
    // A table made before refunds existed (version 1) gains the column; no refund predates it.
    `ALTER TABLE ${name} ADD COLUMN IF NOT EXISTS refunded_amount_minor bigint NOT NULL DEFAULT 0`,
  ];
}

function createPaymentsIndexes(table: string): string[] {
  const name = identifier(table);
  return [
    // The analysts' keyset order; also serves createdFrom/createdTo ranges.
    `CREATE INDEX IF NOT EXISTS ${name}_created_idx ON ${name} (created_at, tenant_id, payment_id)`,
    `CREATE INDEX IF NOT EXISTS ${name}_status_idx ON ${name} (status, created_at)`,
  ];
}

/** Row as read back from SQL: both engines' numeric and time representations normalised. */
export function paymentRowFromSql(sql: Record<string, unknown>): PaymentRow {
  const row: Record<string, unknown> = {};
  for (const [column, field, type] of COLUMNS) {
    const value = sql[column];
    if (value === null || value === undefined) row[field] = null;
    else if (type === 'bigint' || type === 'integer') row[field] = Number(value);
    else if (type === 'timestamptz') row[field] = (value instanceof Date ? value : new Date(String(value))).toISOString();
    else row[field] = String(value);
  }
  return row as unknown as PaymentRow;
}

async function loadRows(tx: SqlClient, table: string, keys: ReadonlyArray<readonly [string, string]>): Promise<Map<string, PaymentRow>> {
  const found = new Map<string, PaymentRow>();
  if (keys.length === 0) return found;
  const result = await tx.query(
    `SELECT p.* FROM ${table} p JOIN unnest($1::text[], $2::text[]) AS k(tenant_id, payment_id)
       ON p.tenant_id = k.tenant_id AND p.payment_id = k.payment_id`,
    [keys.map(([tenant]) => tenant), keys.map(([, id]) => id)],
  );
  for (const sqlRow of result.rows) {
    const row = paymentRowFromSql(sqlRow);
    found.set(paymentKey(row.tenantId, row.paymentId), row);
  }
  return found;
}

const ROW_SET_COLUMNS: ReadonlyArray<RowSetColumn<PaymentRow>> = COLUMNS.map(([column, field, type]) => [column, type, (row: PaymentRow) => row[field]] as const);

async function upsertRows(tx: SqlClient, table: string, rows: readonly PaymentRow[]): Promise<void> {
  if (rows.length === 0) return;
  const columnList = COLUMNS.map(([column]) => column).join(', ');
  const updates = COLUMNS.slice(2).map(([column]) => `${column} = EXCLUDED.${column}`).join(', ');
  const rowSet = unnestRowSet(ROW_SET_COLUMNS, rows);
  await tx.query(`INSERT INTO ${table} (${columnList}) ${rowSet.select} ON CONFLICT (tenant_id, payment_id) DO UPDATE SET ${updates}`, rowSet.params);
}

async function applyPayments(tx: SqlClient, events: readonly RecordedEvent[], tables: TableNames): Promise<void> {
  const table = identifier(tableName(tables, PAYMENTS_TABLE));
  const decoded = decodePaymentEvents(events);
  const rows = await loadRows(tx, table, paymentsToLoad(decoded));
  const changed = new Map<string, PaymentRow>();
  for (const event of decoded) {
    const key = paymentKey(event.tenantId, event.paymentId);
    const next = evolvePaymentRow(changed.get(key) ?? rows.get(key), event);
    changed.set(key, next);
  }
  await upsertRows(tx, table, [...changed.values()]);
}

export const paymentsProjection: Projection = {
  name: 'payments',
  description: 'one row per payment: status, amount, masked parties, bank transfer, attempts, refunded amount',
  version: 2,
  tables: [{ name: PAYMENTS_TABLE, create: createPaymentsTable, indexes: createPaymentsIndexes }],
  filter: PAYMENT_EVENTS_FILTER,
  apply: applyPayments,
};
