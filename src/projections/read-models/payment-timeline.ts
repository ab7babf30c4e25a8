/**
 * Read model `payment_timeline`: every event of every payment, for operators
 * answering "who did what, when, through which request". Each row is a pure
 * function of its event alone, so a batch is one multi-row insert; the global
 * position is the key, which makes a repeated insert a no-op.
 */
import type { SqlClient } from '../../db/database';
import type { RecordedEvent } from '../../event-store/port';
import { currencyExponent, formatMinor } from '../../domain/money';
import type { Party, PaymentEvent } from '../../domain/payment';
import { assertNever } from '../../domain/errors';
import { maskIban } from '../../shared/mask-iban';
import { identifier, tableName, type Projection, type TableNames } from '../projection';
import { unnestRowSet, type RowSetColumn } from './sql-rows';
import { decodePaymentEvents, PAYMENT_EVENTS_FILTER, type DecodedPaymentEvent } from './payment-events';

export const PAYMENT_TIMELINE_TABLE = 'rm_payment_timeline';

export interface TimelineRow {
  readonly position_commit: string;
  readonly position_prepare: string;
  readonly tenant_id: string;
  readonly payment_id: string;
  readonly revision: number;
  readonly event_id: string;
  readonly event_type: string;
  readonly occurred_at: string;
  readonly actor: string | null;
  readonly actor_kind: string | null;
  readonly request_id: string | null;
  readonly correlation_id: string | null;
  readonly causation_id: string | null;
  readonly summary: string;
}

const party = (p: Party) => `${p.name} (${maskIban(p.iban)})`;

/** One line a person reads; IBANs masked, amounts in the currency's decimals. */
export function summarise(event: PaymentEvent): string {
  switch (event.type) {
    case 'PaymentRequested': {
      const { amountMinor, currency, debtor, creditor, reference } = event.data;
      const amount = formatMinor(amountMinor, currencyExponent(currency) ?? 2);
      return `requested ${amount} ${currency} from ${party(debtor)} to ${party(creditor)}${reference ? `, reference "${reference}"` : ''}`;
    }
    case 'PaymentCancelled':
      return `cancelled: ${event.data.reason}`;
    case 'BankSubmissionStarted':
      return `bank submission attempt ${event.data.attempt} started by gateway ${event.data.gatewayId} (end-to-end id ${event.data.endToEndId})`;
    case 'BankAttemptFailed':
      return `bank attempt ${event.data.attempt} failed: ${event.data.error}`;
    case 'PaymentSettled':
      return `settled by the bank, transfer ${event.data.bankTransferId}`;
    case 'PaymentRejected':
      return `rejected by the bank: ${event.data.reason}`;
    case 'BankOutcomeUnknown':
      return `bank outcome unknown after ${event.data.attempts} attempt(s), parked for an operator: ${event.data.lastError}`;
    case 'OperatorRetryRequested':
      return `operator ${event.data.operator} asked for a retry: ${event.data.reason}`;
    case 'PaymentResolvedByOperator':
      return `resolved as ${event.data.outcome} by operator ${event.data.operator}: ${event.data.reason}`;
    case 'RefundRequested': {
      const { refundId, amountMinor, currency, reason, requestedBy } = event.data;
      return `refund ${refundId} of ${formatMinor(amountMinor, currencyExponent(currency) ?? 2)} ${currency} requested by ${requestedBy}${reason ? `: ${reason}` : ''}`;
    }
    case 'RefundSubmissionStarted':
      return `refund ${event.data.refundId}: bank attempt ${event.data.attempt} started by gateway ${event.data.gatewayId} (end-to-end id ${event.data.endToEndId})`;
    case 'RefundAttemptFailed':
      return `refund ${event.data.refundId}: bank attempt ${event.data.attempt} failed: ${event.data.error}`;
    case 'RefundSucceeded':
      return `refund ${event.data.refundId} executed by the bank, bank refund ${event.data.bankRefundId}`;
    case 'RefundFailed':
      return `refund ${event.data.refundId} refused by the bank: ${event.data.reason}`;
    case 'RefundOutcomeUnknown':
      return `refund ${event.data.refundId}: bank outcome unknown after ${event.data.attempts} attempt(s), parked for an operator: ${event.data.lastError}`;
    default:
      return assertNever(event, 'payment event');
  }
}

export function timelineRow(decoded: DecodedPaymentEvent): TimelineRow {
  return {
    position_commit: decoded.position.commit.toString(),
    position_prepare: decoded.position.prepare.toString(),
    tenant_id: decoded.tenantId,
    payment_id: decoded.paymentId,
    revision: decoded.revision,
    event_id: decoded.eventId,
    event_type: decoded.event.type,
    occurred_at: decoded.occurredAt,
    actor: decoded.actor,
    actor_kind: decoded.actorKind,
    request_id: decoded.requestId,
    correlation_id: decoded.correlationId,
    causation_id: decoded.causationId,
    summary: summarise(decoded.event),
  };
}

const COLUMN_TYPES: ReadonlyArray<readonly [keyof TimelineRow, string]> = [
  ['position_commit', 'bigint'],
  ['position_prepare', 'bigint'],
  ['tenant_id', 'text'],
  ['payment_id', 'text'],
  ['revision', 'integer'],
  ['event_id', 'text'],
  ['event_type', 'text'],
  ['occurred_at', 'timestamptz'],
  ['actor', 'text'],
  ['actor_kind', 'text'],
  ['request_id', 'text'],
  ['correlation_id', 'text'],
  ['causation_id', 'text'],
  ['summary', 'text'],
];

const COLUMNS: ReadonlyArray<RowSetColumn<TimelineRow>> = COLUMN_TYPES.map(([column, type]) => [column, type, (row: TimelineRow) => row[column]] as const);

function createTimelineTable(table: string): string[] {
  const name = identifier(table);
  return [
    `CREATE TABLE IF NOT EXISTS ${name} (position_commit bigint NOT NULL, position_prepare bigint NOT NULL,
       tenant_id text NOT NULL, payment_id text NOT NULL, revision integer NOT NULL, event_id text NOT NULL,
       event_type text NOT NULL, occurred_at timestamptz NOT NULL, actor text, actor_kind text, request_id text,
       correlation_id text, causation_id text, summary text NOT NULL,
       CONSTRAINT ${name}_pkey PRIMARY KEY (position_commit, position_prepare))`,
  ];
}

function createTimelineIndexes(table: string): string[] {
  const name = identifier(table);
  return [`CREATE INDEX IF NOT EXISTS ${name}_payment_idx ON ${name} (tenant_id, payment_id, revision)`];
}

async function applyTimeline(tx: SqlClient, events: readonly RecordedEvent[], tables: TableNames): Promise<void> {
  const table = identifier(tableName(tables, PAYMENT_TIMELINE_TABLE));
  const rows = decodePaymentEvents(events).map(timelineRow);
  if (rows.length === 0) return;
  const rowSet = unnestRowSet(COLUMNS, rows);
  await tx.query(
    `INSERT INTO ${table} (${COLUMNS.map(([column]) => column).join(', ')}) ${rowSet.select}
     ON CONFLICT (position_commit, position_prepare) DO NOTHING`,
    rowSet.params,
  );
}

export const paymentTimelineProjection: Projection = {
  name: 'payment_timeline',
  description: 'every event of every payment: type, time, actor, request and correlation ids, summary',
  version: 1,
  tables: [{ name: PAYMENT_TIMELINE_TABLE, create: createTimelineTable, indexes: createTimelineIndexes }],
  filter: PAYMENT_EVENTS_FILTER,
  apply: applyTimeline,
};
