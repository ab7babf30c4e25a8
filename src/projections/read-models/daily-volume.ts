/**
 * Read model `daily_volume`: per UTC day of creation, currency and status, how
 * many payments and their summed amount. A payment moving between statuses moves
 * between rows: its old bucket loses it, its new bucket gains it.
 *
 * To know a payment's old bucket the projection keeps its own small state table
 * (one row per payment: day, currency, status, amount). Rationale: reading the
 * `payments` read model instead would tie this projection's correctness to that
 * one's checkpoint, and neither could then be rebuilt or skip an event alone.
 *
 * Per batch: load the touched payments' state (one query), compute per-bucket
 * deltas in memory (pure), upsert the state and add the deltas (two queries),
 * and drop buckets that fell to zero so a live-built table and a rebuilt one
 * hold exactly the same rows.
 */
import type { SqlClient } from '../../db/database';
import type { RecordedEvent } from '../../event-store/port';
import type { PaymentStatus } from '../../domain/payment';
import { identifier, tableName, type Projection, type TableNames } from '../projection';
import { unnestRowSet, type RowSetColumn } from './sql-rows';
import { decodePaymentEvents, paymentKey, paymentsToLoad, PAYMENT_EVENTS_FILTER, statusAfter, utcDay, type DecodedPaymentEvent } from './payment-events';

export const DAILY_VOLUME_TABLE = 'rm_daily_volume';
export const DAILY_VOLUME_STATE_TABLE = 'rm_daily_volume_payments';

export interface VolumeState {
  readonly tenantId: string;
  readonly paymentId: string;
  readonly day: string;
  readonly currency: string;
  readonly status: PaymentStatus;
  readonly amountMinor: number;
  readonly revision: number;
}

export interface BucketDelta {
  readonly day: string;
  readonly currency: string;
  readonly status: PaymentStatus;
  count: number;
  amountMinor: bigint;
  /** Refunds the bank executed on the bucket's payments, counted apart from them. */
  refundCount: number;
  refundedMinor: bigint;
}

export const bucketKey = (day: string, currency: string, status: string) => `${day} ${currency} ${status}`;

/** The payment's volume state after one event, and the bucket moves it causes. */
export function evolveVolume(state: VolumeState | undefined, decoded: DecodedPaymentEvent, deltas: Map<string, BucketDelta>): VolumeState {
  if (state && decoded.revision <= state.revision) return state;
  const { event } = decoded;
  if (event.type === 'PaymentRequested') {
    if (state) throw new Error(`payment ${decoded.tenantId}/${decoded.paymentId} requested twice`);
    const next: VolumeState = {
      tenantId: decoded.tenantId,
      paymentId: decoded.paymentId,
      day: utcDay(decoded.occurredAt),
      currency: event.data.currency,
      status: 'requested',
      amountMinor: event.data.amountMinor,
      revision: decoded.revision,
    };
    addToBucket(deltas, next, 1);
    return next;
  }
  if (!state) throw new Error(`${event.type} at revision ${decoded.revision} of payment ${decoded.tenantId}/${decoded.paymentId} without its PaymentRequested`);
  // Rationale: a refund belongs to its payment's bucket (its day of creation, settled), so the
  // report shows gross and refunded side by side and net is their difference.
  if (event.type === 'RefundSucceeded') addRefundToBucket(deltas, state, event.data.amountMinor);
  const status = statusAfter(event);
  const next = movedTo(state, status, decoded.revision);
  if (status === state.status) return next;
  addToBucket(deltas, state, -1);
  addToBucket(deltas, next, 1);
  return next;
}

/** Field by field rather than spread: it runs once per event (see advanceRow in payments.ts). */
function movedTo(state: VolumeState, status: PaymentStatus, revision: number): VolumeState {
  return { tenantId: state.tenantId, paymentId: state.paymentId, day: state.day, currency: state.currency, status, amountMinor: state.amountMinor, revision };
}

function bucketOf(deltas: Map<string, BucketDelta>, state: VolumeState): BucketDelta {
  const key = bucketKey(state.day, state.currency, state.status);
  let delta = deltas.get(key);
  if (!delta) {
    delta = { day: state.day, currency: state.currency, status: state.status, count: 0, amountMinor: 0n, refundCount: 0, refundedMinor: 0n };
    deltas.set(key, delta);
  }
  return delta;
}

function addRefundToBucket(deltas: Map<string, BucketDelta>, state: VolumeState, amountMinor: number): void {
  const delta = bucketOf(deltas, state);
  delta.refundCount += 1;
  delta.refundedMinor += BigInt(amountMinor);
}

function addToBucket(deltas: Map<string, BucketDelta>, state: VolumeState, sign: 1 | -1): void {
  const delta = bucketOf(deltas, state);
  delta.count += sign;
  delta.amountMinor += BigInt(sign) * BigInt(state.amountMinor);
}

function createVolumeTable(table: string): string[] {
  const name = identifier(table);
  return [
    `CREATE TABLE IF NOT EXISTS ${name} (day date NOT NULL, currency text NOT NULL, status text NOT NULL,
       payment_count bigint NOT NULL, amount_minor numeric(38, 0) NOT NULL,
       refund_count bigint NOT NULL DEFAULT 0, refunded_amount_minor numeric(38, 0) NOT NULL DEFAULT 0,
       CONSTRAINT ${name}_pkey PRIMARY KEY (day, currency, status))`,
    // Tables made before refunds existed (version 1) gain the columns; no refund predates them.
    `ALTER TABLE ${name} ADD COLUMN IF NOT EXISTS refund_count bigint NOT NULL DEFAULT 0`,
    `ALTER TABLE ${name} ADD COLUMN IF NOT EXISTS refunded_amount_minor numeric(38, 0) NOT NULL DEFAULT 0`,
  ];
}

function createStateTable(table: string): string[] {
  const name = identifier(table);
  return [
    `CREATE TABLE IF NOT EXISTS ${name} (tenant_id text NOT NULL, payment_id text NOT NULL, day date NOT NULL,
       currency text NOT NULL, status text NOT NULL, amount_minor bigint NOT NULL, revision integer NOT NULL,
       CONSTRAINT ${name}_pkey PRIMARY KEY (tenant_id, payment_id))`,
  ];
}

async function loadStates(tx: SqlClient, table: string, keys: ReadonlyArray<readonly [string, string]>): Promise<Map<string, VolumeState>> {
  const found = new Map<string, VolumeState>();
  if (keys.length === 0) return found;
  const result = await tx.query<Record<string, unknown>>(
    `SELECT s.tenant_id, s.payment_id, s.day::text AS day, s.currency, s.status, s.amount_minor::text AS amount_minor, s.revision
       FROM ${table} s JOIN unnest($1::text[], $2::text[]) AS k(tenant_id, payment_id)
         ON s.tenant_id = k.tenant_id AND s.payment_id = k.payment_id`,
    [keys.map(([tenant]) => tenant), keys.map(([, id]) => id)],
  );
  for (const row of result.rows) {
    const state: VolumeState = {
      tenantId: String(row['tenant_id']),
      paymentId: String(row['payment_id']),
      day: String(row['day']),
      currency: String(row['currency']),
      status: String(row['status']) as PaymentStatus,
      amountMinor: Number(row['amount_minor']),
      revision: Number(row['revision']),
    };
    found.set(paymentKey(state.tenantId, state.paymentId), state);
  }
  return found;
}

const STATE_COLUMNS: ReadonlyArray<RowSetColumn<VolumeState>> = [
  ['tenant_id', 'text', (state) => state.tenantId],
  ['payment_id', 'text', (state) => state.paymentId],
  ['day', 'date', (state) => state.day],
  ['currency', 'text', (state) => state.currency],
  ['status', 'text', (state) => state.status],
  ['amount_minor', 'bigint', (state) => state.amountMinor],
  ['revision', 'integer', (state) => state.revision],
];

const DELTA_COLUMNS: ReadonlyArray<RowSetColumn<BucketDelta>> = [
  ['day', 'date', (delta) => delta.day],
  ['currency', 'text', (delta) => delta.currency],
  ['status', 'text', (delta) => delta.status],
  ['payment_count', 'bigint', (delta) => delta.count],
  ['amount_minor', 'numeric', (delta) => delta.amountMinor.toString()],
  ['refund_count', 'bigint', (delta) => delta.refundCount],
  ['refunded_amount_minor', 'numeric', (delta) => delta.refundedMinor.toString()],
];

async function writeStates(tx: SqlClient, table: string, states: readonly VolumeState[]): Promise<void> {
  if (states.length === 0) return;
  const rowSet = unnestRowSet(STATE_COLUMNS, states);
  await tx.query(
    `INSERT INTO ${table} (tenant_id, payment_id, day, currency, status, amount_minor, revision) ${rowSet.select}
     ON CONFLICT (tenant_id, payment_id) DO UPDATE SET status = EXCLUDED.status, revision = EXCLUDED.revision`,
    rowSet.params,
  );
}

async function addDeltas(tx: SqlClient, table: string, deltas: readonly BucketDelta[]): Promise<void> {
  const moving = deltas.filter((delta) => delta.count !== 0 || delta.amountMinor !== 0n || delta.refundCount !== 0);
  if (moving.length === 0) return;
  const rowSet = unnestRowSet(DELTA_COLUMNS, moving);
  await tx.query(
    `INSERT INTO ${table} AS v (day, currency, status, payment_count, amount_minor, refund_count, refunded_amount_minor) ${rowSet.select}
     ON CONFLICT (day, currency, status) DO UPDATE
       SET payment_count = v.payment_count + EXCLUDED.payment_count, amount_minor = v.amount_minor + EXCLUDED.amount_minor,
           refund_count = v.refund_count + EXCLUDED.refund_count, refunded_amount_minor = v.refunded_amount_minor + EXCLUDED.refunded_amount_minor`,
    rowSet.params,
  );
  await tx.query(`DELETE FROM ${table} WHERE payment_count = 0`);
}

async function applyDailyVolume(tx: SqlClient, events: readonly RecordedEvent[], tables: TableNames): Promise<void> {
  const volumeTable = identifier(tableName(tables, DAILY_VOLUME_TABLE));
  const stateTable = identifier(tableName(tables, DAILY_VOLUME_STATE_TABLE));
  const decoded = decodePaymentEvents(events);
  const loaded = await loadStates(tx, stateTable, paymentsToLoad(decoded));
  const changed = new Map<string, VolumeState>();
  const deltas = new Map<string, BucketDelta>();
  for (const event of decoded) {
    const key = paymentKey(event.tenantId, event.paymentId);
    changed.set(key, evolveVolume(changed.get(key) ?? loaded.get(key), event, deltas));
  }
  await writeStates(tx, stateTable, [...changed.values()]);
  await addDeltas(tx, volumeTable, [...deltas.values()]);
}

export const dailyVolumeProjection: Projection = {
  name: 'daily_volume',
  description: 'per UTC day, currency and status: payment count and summed amount, refunds counted apart',
  version: 2,
  tables: [
    { name: DAILY_VOLUME_TABLE, create: createVolumeTable },
    { name: DAILY_VOLUME_STATE_TABLE, create: createStateTable },
  ],
  filter: PAYMENT_EVENTS_FILTER,
  apply: applyDailyVolume,
};
