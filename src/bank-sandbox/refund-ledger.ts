/**
 * The sandbox's refunds: money sent back on an executed transfer, in tables
 * of their own beside the transfers (docs/bank-sandbox.md, "Refunds").
 *
 * The same idempotency rules as transfers, on a key table of its own: the
 * first request inserts its key as `in-flight`, and the refund commits in one
 * transaction with the key's change to `completed` and the stored response.
 *
 * The bank refuses to refund more than is left on the transfer: refunds
 * commit one at a time under an advisory lock, and each sums the accepted
 * refunds of its transfer inside that transaction, so two refunds racing for
 * the last euro cannot both be accepted. The same lock orders `sequence`, so
 * the listing never skips a refund that committed late.
 *
 * Rationale for separate tables (rather than refunds as transfers): a refund
 * points at its transfer and is bounded by it; the transfers' tables and
 * their fast path stay exactly as they are.
 */
import type { Database, SqlClient } from '../db/database';
import { runMigrations, type Migration } from '../db/migrations';

export const REFUND_LEDGER_MIGRATIONS_NAME = 'bank-sandbox-refunds';

/** Append only. No foreign key to the transfers: their table is the transfers' own business; the check is in the transaction. */
const REFUND_LEDGER_MIGRATIONS: readonly Migration[] = [
  [
    `CREATE TABLE bank_sandbox_refunds (
       sequence bigserial PRIMARY KEY,
       id text NOT NULL UNIQUE,
       transfer_id text NOT NULL,
       end_to_end_id text NOT NULL,
       idempotency_key text NOT NULL,
       amount_minor bigint NOT NULL CHECK (amount_minor > 0),
       currency text NOT NULL,
       status text NOT NULL CHECK (status IN ('accepted', 'rejected')),
       rejection_reason text,
       created_at timestamptz NOT NULL,
       CHECK ((status = 'rejected') = (rejection_reason IS NOT NULL)))`,
    `CREATE INDEX bank_sandbox_refunds_end_to_end_id ON bank_sandbox_refunds (end_to_end_id, sequence)`,
    `CREATE INDEX bank_sandbox_refunds_transfer_id ON bank_sandbox_refunds (transfer_id, sequence)`,
    `CREATE TABLE bank_sandbox_refund_keys (
       idempotency_key text PRIMARY KEY,
       request_fingerprint text NOT NULL,
       state text NOT NULL CHECK (state IN ('in-flight', 'completed')),
       lock_token text NOT NULL,
       created_at timestamptz NOT NULL,
       completed_at timestamptz,
       refund_id text UNIQUE REFERENCES bank_sandbox_refunds (id),
       response_body text,
       CHECK ((state = 'completed') = (refund_id IS NOT NULL AND response_body IS NOT NULL AND completed_at IS NOT NULL)))`,
  ],
];

const REFUND_ORDER_LOCK_SQL = `SELECT pg_advisory_xact_lock(hashtextextended('paystream.bank-sandbox.refunds:' || current_schema(), 0))`;

/** ISO 20022 reasons the sandbox gives for a refund it refuses (a business outcome, recorded like any refund). */
export const REFUND_REJECTION_REASONS = {
  exceedsTransfer: 'AM02 refund exceeds what is left of the transfer',
  transferNotExecuted: 'AG01 the original transfer was not executed',
} as const;

export interface RefundView {
  readonly id: string;
  readonly status: 'accepted' | 'rejected';
  readonly transferId: string;
  readonly endToEndId: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly rejectionReason?: string;
  readonly createdAt: string;
}

export interface RefundRequest {
  readonly transferId: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly endToEndId: string;
}

export type RefundKeyClaim =
  | { readonly kind: 'claimed' }
  | { readonly kind: 'in-flight' }
  | { readonly kind: 'different-request' }
  | { readonly kind: 'replay'; readonly body: string };

export interface RefundKeyClaimRequest {
  readonly idempotencyKey: string;
  readonly fingerprint: string;
  readonly lockToken: string;
  readonly now: Date;
  readonly ttlMs: number;
  readonly inFlightMsMax: number;
}

/** Why a refund could not even be considered: nothing is recorded, the key is given back. */
export class RefundImpossibleError extends Error {
  override readonly name = 'RefundImpossibleError';
  constructor(
    readonly code: 'transfer-not-found' | 'currency-mismatch',
    message: string,
  ) {
    super(message);
  }
}

/** The key's marker was taken over before this request committed. */
export class RefundKeyLostError extends Error {
  override readonly name = 'RefundKeyLostError';
}

interface RefundRow {
  sequence: string | number;
  id: string;
  transfer_id: string;
  end_to_end_id: string;
  amount_minor: string | number;
  currency: string;
  status: 'accepted' | 'rejected';
  rejection_reason: string | null;
  created_at: Date | string;
}

const COLUMNS = 'sequence, id, transfer_id, end_to_end_id, amount_minor, currency, status, rejection_reason, created_at';
const CLAIM_ATTEMPT_COUNT_MAX = 3;

export interface RefundLedger {
  claimKey(request: RefundKeyClaimRequest): Promise<RefundKeyClaim>;
  releaseKey(idempotencyKey: string, lockToken: string): Promise<void>;
  /** Decides and records the refund, and completes its key, in one transaction. */
  recordRefund(refund: { id: string; idempotencyKey: string; lockToken: string; request: RefundRequest; now: Date }): Promise<RefundView>;
  findRefund(id: string): Promise<RefundView | undefined>;
  listRefunds(query: { endToEndId?: string; transferId?: string; after?: bigint; limit: number }): Promise<{ items: RefundView[]; last?: bigint; more: boolean }>;
}

export async function openRefundLedger(database: Database): Promise<RefundLedger> {
  await runMigrations(database, REFUND_LEDGER_MIGRATIONS_NAME, REFUND_LEDGER_MIGRATIONS);
  return {
    claimKey: (request) => claimKey(database, request),
    async releaseKey(idempotencyKey, lockToken) {
      await database.query(`DELETE FROM bank_sandbox_refund_keys WHERE idempotency_key = $1 AND lock_token = $2 AND state = 'in-flight'`, [idempotencyKey, lockToken]);
    },
    recordRefund: (refund) => database.transaction((tx) => recordRefund(tx, refund)),
    async findRefund(id) {
      const result = await database.query<RefundRow>(`SELECT ${COLUMNS} FROM bank_sandbox_refunds WHERE id = $1`, [id]);
      return result.rows[0] && refundViewOf(result.rows[0]);
    },
    async listRefunds({ endToEndId, transferId, after, limit }) {
      const result = await database.query<RefundRow>(
        `SELECT ${COLUMNS} FROM bank_sandbox_refunds
         WHERE ($1::text IS NULL OR end_to_end_id = $1) AND ($2::text IS NULL OR transfer_id = $2) AND sequence > $3
         ORDER BY sequence LIMIT $4`,
        [endToEndId ?? null, transferId ?? null, (after ?? 0n).toString(), limit + 1],
      );
      const rows = result.rows.slice(0, limit);
      const lastRow = rows[rows.length - 1];
      return { items: rows.map(refundViewOf), more: result.rows.length > limit, ...(lastRow ? { last: BigInt(lastRow.sequence) } : {}) };
    },
  };
}

/** As the transfers' claim (ledger.ts), on the refunds' own key table. */
async function claimKey(database: Database, request: RefundKeyClaimRequest): Promise<RefundKeyClaim> {
  for (let attempt = 0; attempt < CLAIM_ATTEMPT_COUNT_MAX; attempt++) {
    const inserted = await database.query(
      `INSERT INTO bank_sandbox_refund_keys (idempotency_key, request_fingerprint, state, lock_token, created_at)
       VALUES ($1, $2, 'in-flight', $3, $4) ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key`,
      [request.idempotencyKey, request.fingerprint, request.lockToken, request.now.toISOString()],
    );
    if (inserted.rows.length === 1) return { kind: 'claimed' };
    const found = await database.query<{ request_fingerprint: string; state: 'in-flight' | 'completed'; lock_token: string; created_at: Date | string; response_body: string | null }>(
      `SELECT request_fingerprint, state, lock_token, created_at, response_body FROM bank_sandbox_refund_keys WHERE idempotency_key = $1`,
      [request.idempotencyKey],
    );
    const row = found.rows[0];
    if (!row) continue;
    const ageMs = request.now.getTime() - new Date(row.created_at).getTime();
    const forgotten = row.state === 'completed' ? ageMs >= request.ttlMs : ageMs >= request.inFlightMsMax;
    if (forgotten) {
      await database.query(`DELETE FROM bank_sandbox_refund_keys WHERE idempotency_key = $1 AND lock_token = $2 AND state = $3`, [request.idempotencyKey, row.lock_token, row.state]);
      continue;
    }
    if (row.request_fingerprint !== request.fingerprint) return { kind: 'different-request' };
    if (row.state === 'in-flight') return { kind: 'in-flight' };
    return { kind: 'replay', body: row.response_body! };
  }
  return { kind: 'in-flight' };
}

async function recordRefund(tx: SqlClient, refund: { id: string; idempotencyKey: string; lockToken: string; request: RefundRequest; now: Date }): Promise<RefundView> {
  await tx.query(REFUND_ORDER_LOCK_SQL);
  const { request } = refund;
  const transfer = (
    await tx.query<{ status: string; amount_minor: string | number; currency: string }>(`SELECT status, amount_minor, currency FROM bank_sandbox_transfers WHERE id = $1`, [request.transferId])
  ).rows[0];
  if (!transfer) throw new RefundImpossibleError('transfer-not-found', `no transfer ${request.transferId}`);
  if (transfer.currency !== request.currency) throw new RefundImpossibleError('currency-mismatch', `the transfer is in ${transfer.currency}`);
  const refunded = await tx.query<{ total: string | null }>(`SELECT sum(amount_minor)::text AS total FROM bank_sandbox_refunds WHERE transfer_id = $1 AND status = 'accepted'`, [request.transferId]);
  const leftMinor = BigInt(transfer.amount_minor) - BigInt(refunded.rows[0]?.total ?? '0');
  const rejectionReason =
    transfer.status !== 'accepted' ? REFUND_REJECTION_REASONS.transferNotExecuted : BigInt(request.amountMinor) > leftMinor ? REFUND_REJECTION_REASONS.exceedsTransfer : null;
  const inserted = await tx.query<RefundRow>(
    `INSERT INTO bank_sandbox_refunds (id, transfer_id, end_to_end_id, idempotency_key, amount_minor, currency, status, rejection_reason, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${COLUMNS}`,
    [refund.id, request.transferId, request.endToEndId, refund.idempotencyKey, request.amountMinor, request.currency, rejectionReason === null ? 'accepted' : 'rejected', rejectionReason, refund.now.toISOString()],
  );
  const view = refundViewOf(inserted.rows[0]!);
  const completed = await tx.query(
    `UPDATE bank_sandbox_refund_keys SET state = 'completed', refund_id = $3, response_body = $4, completed_at = $5
     WHERE idempotency_key = $1 AND lock_token = $2 AND state = 'in-flight'`,
    [refund.idempotencyKey, refund.lockToken, refund.id, JSON.stringify(view), refund.now.toISOString()],
  );
  if (completed.rowCount !== 1) throw new RefundKeyLostError(`idempotency key marker was taken over before refund ${refund.id} committed`);
  return view;
}

function refundViewOf(row: RefundRow): RefundView {
  return {
    id: row.id,
    status: row.status,
    transferId: row.transfer_id,
    endToEndId: row.end_to_end_id,
    amountMinor: Number(row.amount_minor),
    currency: row.currency,
    ...(row.rejection_reason === null ? {} : { rejectionReason: row.rejection_reason }),
    createdAt: new Date(row.created_at).toISOString(),
  };
}
