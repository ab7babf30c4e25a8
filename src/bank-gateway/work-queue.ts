/**
 * The gateway's work queue: one row per bank instruction (a payment's
 * transfer, each of its refunds) that needs (or needed) the bank, in the SQL
 * database (PGlite or PostgreSQL). It is a read model of the payment log plus
 * scheduling: the feeder (work-feeder.ts) hands it events, gateways claim due
 * rows with `FOR UPDATE SKIP LOCKED` and a lease, and release them with a
 * next-attempt time.
 *
 * This module is the one owner of the queue's tables: every statement that
 * reads or writes them is here (the feeders, SQL and EventStoreDB, call in).
 *
 * The row is a hint, never the truth: a gateway always reloads the payment's
 * stream before acting, so a stale row costs one wasted claim, never a second
 * transfer.
 *
 * Two rules keep the row right when writers race:
 * - Status changes carry the stream revision they were learnt from and only
 *   apply over an older revision, so a lagging feeder or a paused gateway
 *   cannot move a row back.
 * - Lease changes carry the claim's token (a fencing token): a gateway whose
 *   lease expired and was taken over can no longer release or complete it.
 *
 * Every statement here is a single autocommit statement or one short
 * transaction; none is ever open across a bank call.
 */
import { randomUUID } from 'node:crypto';
import { runMigrations, type Migration } from '../db/migrations';
import { assertNever } from '../domain/errors';
import type { Database, SqlClient } from '../db/database';
import { parsePaymentStreamName, type PaymentId, type TenantId } from '../domain/ids';
import { upcastPaymentEvent } from '../domain/payment';
import { schemaVersionOf } from '../application/event-envelope';
import { START, type GlobalPosition, type RecordedEvent } from '../event-store/port';
import { TRANSFER_INSTRUCTION, workRowChangeOf, type WorkRowChange } from './instructions';

export const WORK_TABLE = 'bank_gateway_work';
export const WORK_CHECKPOINT_TABLE = 'bank_gateway_checkpoint';

export type WorkStatus = 'pending' | 'parked' | 'done';

export interface WorkItem {
  readonly tenantId: TenantId;
  readonly paymentId: PaymentId;
  /** `transfer`, or `refund:{refundId}` (see instructions.ts). */
  readonly instruction: string;
  readonly status: WorkStatus;
  /** The instruction's own status: the payment's for its transfer, the refund's for a refund. */
  readonly paymentStatus: string;
  readonly streamRevision: number;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly nextAttemptAt: Date;
  readonly windowStartedAt: Date | null;
  readonly leaseOwner: string | null;
  readonly leaseExpiresAt: Date | null;
  readonly claimCount: number;
  /** Claims since the retry window began: drives the backoff. */
  readonly claimsInWindow: number;
  readonly updatedAt: Date;
}

/** A claimed row: the token proves the lease in every later write. */
export interface Claim {
  readonly item: WorkItem;
  readonly token: string;
  readonly owner: string;
  /** The database's clock when the claim was made. */
  readonly claimedAt: Date;
}

/** Append-only: a shipped entry is never edited, a change is a new entry (see runMigrations). */
export const WORK_MIGRATIONS: readonly Migration[] = [
  [
    `CREATE TABLE IF NOT EXISTS ${WORK_TABLE} (
       tenant_id text NOT NULL,
       payment_id text NOT NULL,
       status text NOT NULL CHECK (status IN ('pending', 'parked', 'done')),
       payment_status text NOT NULL,
       stream_revision integer NOT NULL,
       attempts integer NOT NULL DEFAULT 0,
       last_error text,
       next_attempt_at timestamptz NOT NULL DEFAULT now(),
       window_started_at timestamptz,
       lease_owner text,
       lease_token text,
       lease_expires_at timestamptz,
       claim_count integer NOT NULL DEFAULT 0,
       claims_in_window integer NOT NULL DEFAULT 0,
       created_at timestamptz NOT NULL DEFAULT now(),
       updated_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, payment_id))`,
    `CREATE INDEX IF NOT EXISTS ${WORK_TABLE}_due ON ${WORK_TABLE} (next_attempt_at) WHERE status = 'pending'`,
    `CREATE INDEX IF NOT EXISTS ${WORK_TABLE}_payment_status ON ${WORK_TABLE} (payment_status, tenant_id, payment_id)`,
    `CREATE TABLE IF NOT EXISTS ${WORK_CHECKPOINT_TABLE} (
       name text PRIMARY KEY,
       position_commit bigint NOT NULL,
       position_prepare bigint NOT NULL,
       updated_at timestamptz NOT NULL DEFAULT now())`,
  ],
  // Issue 11: one row per bank instruction, not per payment. Existing rows are the payments' transfers.
  [
    `ALTER TABLE ${WORK_TABLE} ADD COLUMN IF NOT EXISTS instruction text NOT NULL DEFAULT '${TRANSFER_INSTRUCTION}'`,
    `ALTER TABLE ${WORK_TABLE} DROP CONSTRAINT IF EXISTS ${WORK_TABLE}_pkey`,
    `ALTER TABLE ${WORK_TABLE} ADD CONSTRAINT ${WORK_TABLE}_pkey PRIMARY KEY (tenant_id, payment_id, instruction)`,
  ],
];

const COLUMNS = `tenant_id, payment_id, instruction, status, payment_status, stream_revision, attempts, last_error, next_attempt_at,
  window_started_at, lease_owner, lease_expires_at, claim_count, claims_in_window, updated_at`;

const asDate = (value: unknown): Date => (value instanceof Date ? value : new Date(String(value)));

function itemFromRow(row: Record<string, unknown>): WorkItem {
  return {
    tenantId: String(row['tenant_id']) as TenantId,
    paymentId: String(row['payment_id']) as PaymentId,
    instruction: String(row['instruction']),
    status: String(row['status']) as WorkStatus,
    paymentStatus: String(row['payment_status']),
    streamRevision: Number(row['stream_revision']),
    attempts: Number(row['attempts']),
    lastError: (row['last_error'] as string | null) ?? null,
    nextAttemptAt: asDate(row['next_attempt_at']),
    windowStartedAt: row['window_started_at'] === null ? null : asDate(row['window_started_at']),
    leaseOwner: (row['lease_owner'] as string | null) ?? null,
    leaseExpiresAt: row['lease_expires_at'] === null ? null : asDate(row['lease_expires_at']),
    claimCount: Number(row['claim_count']),
    claimsInWindow: Number(row['claims_in_window']),
    updatedAt: asDate(row['updated_at']),
  };
}

/** The operator desk's list is of payments: their transfers' rows. */
export interface ListQuery {
  /** `unknown` and `submitted` are payment statuses; `parked` is the queue's own view of rows waiting for an operator. */
  readonly status: 'unknown' | 'parked' | 'submitted';
  readonly limit: number;
  /** Exclusive keyset position (tenant, payment id). */
  readonly after?: { readonly tenantId: string; readonly paymentId: string };
}

export interface QueueStats {
  readonly due: number;
  readonly leased: number;
  readonly parked: number;
  readonly pending: number;
  /** Age of the oldest due row, in ms: how far behind the gateways are. */
  readonly oldestDueAgeMs: number;
}

export function createWorkQueue(database: Database, options: { readonly migrate: (database: Database) => Promise<void> }) {
  const release = (claim: Claim, delayMs: number, lastError: string | null) =>
    database.query(
      `UPDATE ${WORK_TABLE} SET lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL,
         next_attempt_at = now() + ($4::bigint * interval '1 millisecond'),
         last_error = COALESCE($5, last_error), updated_at = now()
       WHERE tenant_id = $1 AND payment_id = $2 AND instruction = $6 AND lease_token = $3`,
      [claim.item.tenantId, claim.item.paymentId, claim.token, Math.max(0, Math.round(delayMs)), lastError, claim.item.instruction],
    );

  return {
    database,
    /** Creates the tables if missing. Safe to call from every process at start. */
    migrate: () => options.migrate(database),

    /**
     * Claims up to `countMax` due rows for `owner`: pending, due, and not leased
     * (or leased by someone whose lease expired). SKIP LOCKED lets competing
     * gateways claim different rows at the same time without waiting.
     */
    async claim(owner: string, countMax: number, leaseMs: number): Promise<Claim[]> {
      if (countMax <= 0) return [];
      const token = randomUUID();
      const result = await database.query<Record<string, unknown>>(
        `WITH candidate AS (
           SELECT tenant_id, payment_id, instruction FROM ${WORK_TABLE}
           WHERE status = 'pending' AND next_attempt_at <= now() AND (lease_expires_at IS NULL OR lease_expires_at < now())
           ORDER BY next_attempt_at
           LIMIT $3
           FOR UPDATE SKIP LOCKED)
         UPDATE ${WORK_TABLE} w SET lease_owner = $1, lease_token = $2 || ':' || w.tenant_id || ':' || w.payment_id || ':' || w.instruction,
           lease_expires_at = now() + ($4::bigint * interval '1 millisecond'),
           window_started_at = COALESCE(w.window_started_at, now()), claim_count = w.claim_count + 1, claims_in_window = w.claims_in_window + 1, updated_at = now()
         FROM candidate c WHERE w.tenant_id = c.tenant_id AND w.payment_id = c.payment_id AND w.instruction = c.instruction
         RETURNING ${COLUMNS.split(',').map((column) => `w.${column.trim()}`).join(', ')}, w.lease_token, now() AS claimed_at`,
        [owner, token, countMax, leaseMs],
      );
      return result.rows.map((row) => ({ item: itemFromRow(row), token: String(row['lease_token']), owner, claimedAt: asDate(row['claimed_at']) }));
    },

    /**
     * Extends the lease, but only while it is still ours and unexpired. Called
     * right before every bank call: a gateway that was paused past its lease
     * learns it here and stops (the idempotency key covers the instant between).
     */
    async renew(claim: Claim, leaseMs: number): Promise<boolean> {
      const result = await database.query(
        `UPDATE ${WORK_TABLE} SET lease_expires_at = now() + ($4::bigint * interval '1 millisecond')
         WHERE tenant_id = $1 AND payment_id = $2 AND instruction = $5 AND lease_token = $3 AND lease_expires_at > now()`,
        [claim.item.tenantId, claim.item.paymentId, claim.token, leaseMs, claim.item.instruction],
      );
      return result.rowCount === 1;
    },

    /** Gives the row back, due again after `delayMs` (backoff, or "bank still busy"). */
    async release(claim: Claim, delayMs: number, lastError: string | null = null): Promise<boolean> {
      return (await release(claim, delayMs, lastError)).rowCount === 1;
    },

    /** The payment reached `paymentStatus` at `revision`: done when final, parked when unknown. */
    async settle(claim: Claim, status: 'done' | 'parked', paymentStatus: string, revision: number, lastError: string | null = null): Promise<boolean> {
      const result = await database.query(
        `UPDATE ${WORK_TABLE} SET status = $4, payment_status = $5, stream_revision = $6, last_error = COALESCE($7, last_error),
           lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, updated_at = now()
         WHERE tenant_id = $1 AND payment_id = $2 AND instruction = $8 AND lease_token = $3 AND stream_revision < $6`,
        [claim.item.tenantId, claim.item.paymentId, claim.token, status, paymentStatus, revision, lastError, claim.item.instruction],
      );
      if (result.rowCount === 1) return true;
      // A newer revision was already recorded on the row: only hand the lease back.
      return (await release(claim, 0, null)).rowCount === 1;
    },

    /** Makes a payment's pending rows due now (an operator's retry, a test); the feeder does the same from the log. */
    async wake(tenantId: TenantId, paymentId: PaymentId): Promise<void> {
      await database.query(`UPDATE ${WORK_TABLE} SET next_attempt_at = now() WHERE tenant_id = $1 AND payment_id = $2 AND status = 'pending'`, [tenantId, paymentId]);
    },

    async get(tenantId: TenantId, paymentId: PaymentId, instruction: string = TRANSFER_INSTRUCTION): Promise<WorkItem | undefined> {
      const result = await database.query<Record<string, unknown>>(`SELECT ${COLUMNS} FROM ${WORK_TABLE} WHERE tenant_id = $1 AND payment_id = $2 AND instruction = $3`, [
        tenantId,
        paymentId,
        instruction,
      ]);
      return result.rows[0] && itemFromRow(result.rows[0]);
    },

    async list(query: ListQuery): Promise<WorkItem[]> {
      const params: unknown[] = [query.after?.tenantId ?? '', query.after?.paymentId ?? '', query.limit];
      let condition = `status = 'parked'`;
      if (query.status !== 'parked') {
        params.push(query.status);
        condition = `payment_status = $4`;
      }
      const result = await database.query<Record<string, unknown>>(
        `SELECT ${COLUMNS} FROM ${WORK_TABLE}
         WHERE instruction = '${TRANSFER_INSTRUCTION}' AND ${condition} AND (tenant_id, payment_id) > ($1::text, $2::text)
         ORDER BY tenant_id, payment_id LIMIT $3`,
        params,
      );
      return result.rows.map(itemFromRow);
    },

    async stats(): Promise<QueueStats> {
      const result = await database.query<Record<string, unknown>>(
        `SELECT count(*) FILTER (WHERE status = 'pending' AND next_attempt_at <= now() AND (lease_expires_at IS NULL OR lease_expires_at < now())) AS due,
                count(*) FILTER (WHERE status = 'pending' AND lease_expires_at >= now()) AS leased,
                count(*) FILTER (WHERE status = 'parked') AS parked,
                count(*) FILTER (WHERE status = 'pending') AS pending,
                COALESCE(EXTRACT(EPOCH FROM now() - min(next_attempt_at) FILTER (WHERE status = 'pending' AND next_attempt_at <= now())) * 1000, 0) AS oldest_due_age_ms
         FROM ${WORK_TABLE}`,
      );
      const row = result.rows[0] ?? {};
      return {
        due: Number(row['due'] ?? 0),
        leased: Number(row['leased'] ?? 0),
        parked: Number(row['parked'] ?? 0),
        pending: Number(row['pending'] ?? 0),
        oldestDueAgeMs: Math.round(Number(row['oldest_due_age_ms'] ?? 0)),
      };
    },
  };
}

export type WorkQueue = ReturnType<typeof createWorkQueue>;

/** Brings the tables up to date; every gateway process calls it at start (concurrent starts are serialised). */
export async function migrateWorkQueue(database: Database): Promise<void> {
  await runMigrations(database, 'bank-gateway', WORK_MIGRATIONS);
}

export const FEEDER_CHECKPOINT_NAME = 'bank-gateway-feeder';

export async function readFeederCheckpoint(client: SqlClient): Promise<GlobalPosition> {
  const result = await client.query<{ position_commit: string; position_prepare: string }>(
    `SELECT position_commit::text AS position_commit, position_prepare::text AS position_prepare FROM ${WORK_CHECKPOINT_TABLE} WHERE name = $1`,
    [FEEDER_CHECKPOINT_NAME],
  );
  const row = result.rows[0];
  return row ? { commit: BigInt(row.position_commit), prepare: BigInt(row.position_prepare) } : START;
}

/** Locks the feeder's checkpoint row for this transaction (two feeders never apply one batch together) and reads it. */
export async function lockFeederCheckpoint(tx: SqlClient): Promise<GlobalPosition> {
  await tx.query(`INSERT INTO ${WORK_CHECKPOINT_TABLE} (name, position_commit, position_prepare) VALUES ($1, -1, -1) ON CONFLICT (name) DO NOTHING`, [FEEDER_CHECKPOINT_NAME]);
  await tx.query(`SELECT 1 FROM ${WORK_CHECKPOINT_TABLE} WHERE name = $1 FOR UPDATE`, [FEEDER_CHECKPOINT_NAME]);
  return readFeederCheckpoint(tx);
}

export async function advanceFeederCheckpoint(tx: SqlClient, position: GlobalPosition): Promise<void> {
  await tx.query(`UPDATE ${WORK_CHECKPOINT_TABLE} SET position_commit = $2, position_prepare = $3, updated_at = now() WHERE name = $1`, [
    FEEDER_CHECKPOINT_NAME,
    position.commit.toString(),
    position.prepare.toString(),
  ]);
}

/** True when the payment has a row already (the EventStoreDB source skips events of payments it never saw requested). */
export async function hasWorkFor(tx: SqlClient, tenantId: TenantId, paymentId: PaymentId): Promise<boolean> {
  const row = await tx.query(`SELECT 1 FROM ${WORK_TABLE} WHERE tenant_id = $1 AND payment_id = $2 LIMIT 1`, [tenantId, paymentId]);
  return row.rows.length > 0;
}

/**
 * One payment event's effect on its instruction's row, only over an older
 * revision, so a redelivered or late event never moves a row back. Events of
 * other streams, and of types this build does not know, change nothing.
 */
export async function applyFedEvent(tx: SqlClient, event: RecordedEvent): Promise<void> {
  const ids = parsePaymentStreamName(event.streamName);
  if (!ids) return;
  const decoded = upcastPaymentEvent(event.type, event.data, schemaVersionOf(event));
  if (!decoded) return;
  await applyRowChange(tx, ids.tenantId, ids.paymentId, event.revision, workRowChangeOf(decoded));
}

async function applyRowChange(tx: SqlClient, tenantId: TenantId, paymentId: PaymentId, revision: number, change: WorkRowChange): Promise<void> {
  const key = [tenantId, paymentId, revision, change.instruction] as const;
  const update = (set: string, params: readonly unknown[] = []) =>
    tx.query(`UPDATE ${WORK_TABLE} SET ${set}, stream_revision = $3, updated_at = now() WHERE tenant_id = $1 AND payment_id = $2 AND instruction = $4 AND stream_revision < $3`, [
      ...key,
      ...params,
    ]);
  switch (change.kind) {
    case 'create':
      await tx.query(
        `INSERT INTO ${WORK_TABLE} (tenant_id, payment_id, stream_revision, instruction, status, payment_status) VALUES ($1, $2, $3, $4, 'pending', $5)
         ON CONFLICT (tenant_id, payment_id, instruction) DO NOTHING`,
        [...key, change.status],
      );
      return;
    case 'submitted':
      await update(`payment_status = $5, attempts = $6`, [change.status, change.attempts]);
      return;
    case 'attempt-failed':
      await update(`last_error = $5`, [change.lastError]);
      return;
    case 'parked':
      await update(`status = 'parked', payment_status = $5, last_error = $6`, [change.status, change.lastError]);
      return;
    case 'reopened':
      await update(
        `status = 'pending', payment_status = $5, next_attempt_at = now(), window_started_at = NULL, claims_in_window = 0,
         lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL`,
        [change.status],
      );
      return;
    case 'done':
      await update(`status = 'done', payment_status = $5`, [change.status]);
      return;
    default:
      assertNever(change, 'work row change');
  }
}
