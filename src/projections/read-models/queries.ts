/**
 * The analyst routes' SQL, over the read models only (never the log). Payments
 * are read in keyset order (created_at, tenant_id, payment_id), which the
 * `_created_idx` index serves and which no insert can reshuffle: a page's cursor
 * is the last row's key, so paging is stable while payments keep arriving.
 */
import type { SqlClient } from '../../db/database';
import { currencyExponent, formatMinor } from '../../domain/money';
import type { PaymentStatus } from '../../domain/payment';
import type { GlobalPosition } from '../../event-store/port';
import { DAILY_VOLUME_TABLE } from './daily-volume';
import { PAYMENTS_TABLE, paymentRowFromSql, type PaymentRow } from './payments';

/** The row a payments query answers with; the API maps it to its representation. */
export type { PaymentRow };

export const GROUP_BY_DIMENSIONS = ['day', 'currency', 'status'] as const;
export type GroupByDimension = (typeof GROUP_BY_DIMENSIONS)[number];

/** The read models' answers to the analyst routes, over a database the caller hands in once. */
export interface ReadModelQueries {
  /** One keyset page: `rowCount` rows after `after` (exclusive) matching `filter`. */
  payments(filter: PaymentsFilter, after: PaymentsCursor | undefined, rowCount: number): Promise<PaymentRow[]>;
  volume(filter: VolumeFilter): Promise<VolumeRow[]>;
}

export function createReadModelQueries(database: SqlClient): ReadModelQueries {
  return {
    payments: (filter, after, rowCount) => selectPayments(database, filter, after, rowCount),
    volume: (filter) => selectVolume(database, filter),
  };
}

/** What the analyst routes may ask of the read models; the HTTP layer parses query strings into these. */
export interface PaymentsCursor {
  readonly createdAt: string;
  readonly tenantId: string;
  readonly paymentId: string;
}

export interface PaymentsFilter {
  readonly statuses: readonly PaymentStatus[] | undefined;
  readonly currency: string | undefined;
  readonly tenant: string | undefined;
  readonly createdFrom: Date | undefined;
  readonly createdTo: Date | undefined;
  readonly minAmountMinor: bigint | undefined;
  readonly maxAmountMinor: bigint | undefined;
  readonly limit: number | undefined;
  readonly cursor: PaymentsCursor | undefined;
  readonly minPosition: GlobalPosition | undefined;
}

export interface VolumeFilter {
  readonly from: string;
  readonly to: string;
  readonly groupBy: readonly GroupByDimension[];
  readonly currency: string | undefined;
  readonly statuses: readonly PaymentStatus[] | undefined;
  readonly minPosition: GlobalPosition | undefined;
}

export const cursorOf = (row: PaymentRow): PaymentsCursor => ({ createdAt: row.createdAt, tenantId: row.tenantId, paymentId: row.paymentId });

/** One keyset page: `rowCount` rows after `after` (exclusive) matching `filter`. */
export async function selectPayments(db: SqlClient, filter: PaymentsFilter, after: PaymentsCursor | undefined, rowCount: number): Promise<PaymentRow[]> {
  const conditions: string[] = [];
  const params: unknown[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  if (filter.tenant !== undefined) conditions.push(`tenant_id = ${param(filter.tenant)}`);
  if (filter.statuses !== undefined) conditions.push(`status = ANY(${param(filter.statuses)}::text[])`);
  if (filter.currency !== undefined) conditions.push(`currency = ${param(filter.currency)}`);
  if (filter.createdFrom !== undefined) conditions.push(`created_at >= ${param(filter.createdFrom.toISOString())}::timestamptz`);
  if (filter.createdTo !== undefined) conditions.push(`created_at < ${param(filter.createdTo.toISOString())}::timestamptz`);
  if (filter.minAmountMinor !== undefined) conditions.push(`amount_minor >= ${param(filter.minAmountMinor.toString())}::numeric`);
  if (filter.maxAmountMinor !== undefined) conditions.push(`amount_minor <= ${param(filter.maxAmountMinor.toString())}::numeric`);
  if (after !== undefined) {
    conditions.push(`(created_at, tenant_id, payment_id) > (${param(after.createdAt)}::timestamptz, ${param(after.tenantId)}, ${param(after.paymentId)})`);
  }
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  const result = await db.query<Record<string, unknown>>(
    `SELECT * FROM ${PAYMENTS_TABLE} ${where} ORDER BY created_at, tenant_id, payment_id LIMIT ${param(rowCount)}`,
    params,
  );
  return result.rows.map(paymentRowFromSql);
}

export interface VolumeRow {
  readonly day?: string;
  readonly status?: string;
  readonly currency: string;
  readonly count: number;
  readonly amount: string;
  /** Exact minor units as a string: sums can exceed what a JSON number holds exactly. */
  readonly amountMinor: string;
  /** Refunds the bank executed on these payments, counted apart. */
  readonly refundCount: number;
  readonly refundedAmount: string;
  readonly refundedAmountMinor: string;
  /** amount − refundedAmount. */
  readonly netAmount: string;
  readonly netAmountMinor: string;
}

const SELECTED: Record<GroupByDimension, string> = { day: 'day::text AS day', currency: 'currency', status: 'status' };

export async function selectVolume(db: SqlClient, filter: VolumeFilter): Promise<VolumeRow[]> {
  // Currency always splits the rows: amounts in different currencies are never added.
  const dimensions = filter.groupBy.includes('currency') ? filter.groupBy : [...filter.groupBy, 'currency' as const];
  const params: unknown[] = [filter.from, filter.to];
  const conditions = ['day BETWEEN $1::date AND $2::date'];
  if (filter.currency !== undefined) {
    params.push(filter.currency);
    conditions.push(`currency = $${params.length}`);
  }
  if (filter.statuses !== undefined) {
    params.push(filter.statuses);
    conditions.push(`status = ANY($${params.length}::text[])`);
  }
  const columns = dimensions.map((dimension) => (dimension === 'day' ? 'day' : dimension));
  const result = await db.query<Record<string, unknown>>(
    `SELECT ${dimensions.map((dimension) => SELECTED[dimension]).join(', ')},
            SUM(payment_count)::text AS payment_count, SUM(amount_minor)::text AS amount_minor,
            SUM(refund_count)::text AS refund_count, SUM(refunded_amount_minor)::text AS refunded_amount_minor
       FROM ${DAILY_VOLUME_TABLE} WHERE ${conditions.join(' AND ')}
      GROUP BY ${columns.join(', ')} ORDER BY ${columns.join(', ')}`,
    params,
  );
  return result.rows.map((row) => {
    const currency = String(row['currency']);
    const amountMinor = String(row['amount_minor']);
    const refundedAmountMinor = String(row['refunded_amount_minor'] ?? '0');
    const netAmountMinor = (BigInt(amountMinor) - BigInt(refundedAmountMinor)).toString();
    const exponent = currencyExponent(currency) ?? 2;
    return {
      ...(dimensions.includes('day') ? { day: String(row['day']) } : {}),
      ...(dimensions.includes('status') ? { status: String(row['status']) } : {}),
      currency,
      count: Number(row['payment_count']),
      amount: formatMinor(BigInt(amountMinor), currencyExponent(currency) ?? 2),
      amountMinor,
      refundCount: Number(row['refund_count'] ?? 0),
      refundedAmount: formatMinor(BigInt(refundedAmountMinor), exponent),
      refundedAmountMinor,
      netAmount: formatMinor(BigInt(netAmountMinor), exponent),
      netAmountMinor,
    };
  });
}
