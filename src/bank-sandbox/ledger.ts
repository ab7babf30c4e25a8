/**
 * The sandbox's ledger: its transfers and the idempotency keys that guard them,
 * in its own tables on the Database port (PGlite or PostgreSQL).
 *
 * An idempotency key is a row whose primary key is the key itself. A submission
 * first inserts it as `in-flight`; the insert is the only way in, so of two
 * concurrent requests with one key exactly one proceeds and the other sees the
 * marker (409). The transfer and the stored response are then committed in one
 * transaction with the marker's change to `completed`: one transfer per
 * accepted key, and a stored response whenever there is a transfer.
 */
import type { Database, SqlClient } from '../db/database';
import { runMigrations, type Migration } from '../db/migrations';
import type { TransferRequestBody, TransferView } from './wire';
import type { Decision } from './magic-ibans';

export const LEDGER_MIGRATIONS_NAME = 'bank-sandbox';

/** Append only: a migration's version is its position. */
const LEDGER_MIGRATIONS: readonly Migration[] = [
  [
    `CREATE TABLE bank_sandbox_transfers (
       sequence bigserial PRIMARY KEY,
       id text NOT NULL UNIQUE,
       end_to_end_id text NOT NULL,
       idempotency_key text NOT NULL,
       amount_minor bigint NOT NULL CHECK (amount_minor > 0),
       currency text NOT NULL,
       debtor_name text NOT NULL,
       debtor_iban text NOT NULL,
       creditor_name text NOT NULL,
       creditor_iban text NOT NULL,
       remittance_information text,
       status text NOT NULL CHECK (status IN ('accepted', 'rejected')),
       rejection_reason text,
       created_at timestamptz NOT NULL,
       CHECK ((status = 'rejected') = (rejection_reason IS NOT NULL)))`,
    `CREATE INDEX bank_sandbox_transfers_end_to_end_id ON bank_sandbox_transfers (end_to_end_id, sequence)`,
    `CREATE TABLE bank_sandbox_idempotency_keys (
       idempotency_key text PRIMARY KEY,
       request_fingerprint text NOT NULL,
       state text NOT NULL CHECK (state IN ('in-flight', 'completed')),
       lock_token text NOT NULL,
       created_at timestamptz NOT NULL,
       completed_at timestamptz,
       transfer_id text UNIQUE REFERENCES bank_sandbox_transfers (id),
       response_status integer,
       response_body text,
       CHECK ((state = 'completed') = (transfer_id IS NOT NULL AND response_status IS NOT NULL AND response_body IS NOT NULL AND completed_at IS NOT NULL)))`,
  ],
];

/**
 * Rationale: transfers commit one at a time under this lock, so their
 * `sequence` values become visible in increasing order and a listing paged by
 * cursor never skips a transfer that committed late with a smaller number.
 * The sandbox's write rate is tiny; the order is worth more.
 */
const TRANSFER_ORDER_LOCK_SQL = `SELECT pg_advisory_xact_lock(hashtextextended('paystream.bank-sandbox.transfers:' || current_schema(), 0))`;

export type KeyClaim =
  | { readonly kind: 'claimed' }
  | { readonly kind: 'in-flight' }
  | { readonly kind: 'different-request' }
  | { readonly kind: 'replay'; readonly status: number; readonly body: string };

export interface ClaimRequest {
  readonly idempotencyKey: string;
  readonly fingerprint: string;
  readonly lockToken: string;
  readonly now: Date;
  readonly ttlMs: number;
  /** A marker older than this belongs to a request that died before committing (no transfer exists). */
  readonly inFlightMsMax: number;
}

export interface NewTransfer {
  readonly id: string;
  readonly idempotencyKey: string;
  readonly lockToken: string;
  readonly request: TransferRequestBody;
  readonly decision: Decision;
  readonly now: Date;
}

/** The marker was taken over (it had gone stale) before this request committed. */
export class KeyLostError extends Error {
  override readonly name = 'KeyLostError';
}

interface KeyRow {
  request_fingerprint: string;
  state: 'in-flight' | 'completed';
  lock_token: string;
  created_at: Date | string;
  response_status: number | null;
  response_body: string | null;
}

interface TransferRow {
  sequence: string | number;
  id: string;
  end_to_end_id: string;
  amount_minor: string | number;
  currency: string;
  debtor_name: string;
  debtor_iban: string;
  creditor_name: string;
  creditor_iban: string;
  remittance_information: string | null;
  status: 'accepted' | 'rejected';
  rejection_reason: string | null;
  created_at: Date | string;
}

/** Attempts to claim a key whose stored row keeps disappearing under us (expired and reused meanwhile). */
const CLAIM_ATTEMPT_COUNT_MAX = 3;
const TRANSFER_COLUMNS = `sequence, id, end_to_end_id, amount_minor, currency, debtor_name, debtor_iban, creditor_name, creditor_iban,
  remittance_information, status, rejection_reason, created_at`;

export interface Ledger {
  claimKey(request: ClaimRequest): Promise<KeyClaim>;
  /** Removes this request's in-flight marker, when it ends without a transfer. */
  releaseKey(idempotencyKey: string, lockToken: string): Promise<void>;
  /** Records the transfer and completes its key in one transaction; returns the response body stored for replays. */
  recordTransfer(transfer: NewTransfer): Promise<TransferView>;
  findTransfer(id: string): Promise<TransferView | undefined>;
  listTransfers(query: { endToEndId?: string; after?: bigint; limit: number }): Promise<{ items: TransferView[]; last?: bigint; more: boolean }>;
  ping(): Promise<void>;
}

export async function openLedger(database: Database): Promise<Ledger> {
  await runMigrations(database, LEDGER_MIGRATIONS_NAME, LEDGER_MIGRATIONS);
  return {
    claimKey: (request) => claimKey(database, request),
    async releaseKey(idempotencyKey, lockToken) {
      await database.query(`DELETE FROM bank_sandbox_idempotency_keys WHERE idempotency_key = $1 AND lock_token = $2 AND state = 'in-flight'`, [idempotencyKey, lockToken]);
    },
    recordTransfer: (transfer) => database.transaction((tx) => recordTransfer(tx, transfer)),
    async findTransfer(id) {
      const result = await database.query<TransferRow>(`SELECT ${TRANSFER_COLUMNS} FROM bank_sandbox_transfers WHERE id = $1`, [id]);
      return result.rows[0] && transferViewOf(result.rows[0]);
    },
    async listTransfers({ endToEndId, after, limit }) {
      const result = await database.query<TransferRow>(
        `SELECT ${TRANSFER_COLUMNS} FROM bank_sandbox_transfers
         WHERE ($1::text IS NULL OR end_to_end_id = $1) AND sequence > $2
         ORDER BY sequence LIMIT $3`,
        [endToEndId ?? null, (after ?? 0n).toString(), limit + 1],
      );
      const rows = result.rows.slice(0, limit);
      const lastRow = rows[rows.length - 1];
      return { items: rows.map(transferViewOf), more: result.rows.length > limit, ...(lastRow ? { last: BigInt(lastRow.sequence) } : {}) };
    },
    async ping() {
      await database.query('SELECT 1');
    },
  };
}

async function claimKey(database: Database, request: ClaimRequest): Promise<KeyClaim> {
  for (let attempt = 0; attempt < CLAIM_ATTEMPT_COUNT_MAX; attempt++) {
    const inserted = await database.query(
      `INSERT INTO bank_sandbox_idempotency_keys (idempotency_key, request_fingerprint, state, lock_token, created_at)
       VALUES ($1, $2, 'in-flight', $3, $4) ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key`,
      [request.idempotencyKey, request.fingerprint, request.lockToken, request.now.toISOString()],
    );
    if (inserted.rows.length === 1) return { kind: 'claimed' };
    const found = await database.query<KeyRow>(
      `SELECT request_fingerprint, state, lock_token, created_at, response_status, response_body
       FROM bank_sandbox_idempotency_keys WHERE idempotency_key = $1`,
      [request.idempotencyKey],
    );
    const row = found.rows[0];
    if (!row) continue;
    if (isForgotten(row, request)) {
      // Only the row as we saw it: a concurrent request may have replaced it, or a slow one completed it since.
      await database.query(`DELETE FROM bank_sandbox_idempotency_keys WHERE idempotency_key = $1 AND lock_token = $2 AND state = $3`, [request.idempotencyKey, row.lock_token, row.state]);
      continue;
    }
    if (row.request_fingerprint !== request.fingerprint) return { kind: 'different-request' };
    if (row.state === 'in-flight') return { kind: 'in-flight' };
    return { kind: 'replay', status: row.response_status!, body: row.response_body! };
  }
  // Lost every race for a key that kept being replaced: someone else is using it right now.
  return { kind: 'in-flight' };
}

/** A completed key past its TTL, or a marker left by a request that never finished. */
function isForgotten(row: KeyRow, request: ClaimRequest): boolean {
  const ageMs = request.now.getTime() - new Date(row.created_at).getTime();
  return row.state === 'completed' ? ageMs >= request.ttlMs : ageMs >= request.inFlightMsMax;
}

async function recordTransfer(tx: SqlClient, transfer: NewTransfer): Promise<TransferView> {
  await tx.query(TRANSFER_ORDER_LOCK_SQL);
  const { request, decision } = transfer;
  const rejectionReason = decision.status === 'rejected' ? decision.rejectionReason : null;
  const inserted = await tx.query<TransferRow>(
    `INSERT INTO bank_sandbox_transfers (id, end_to_end_id, idempotency_key, amount_minor, currency, debtor_name, debtor_iban,
       creditor_name, creditor_iban, remittance_information, status, rejection_reason, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING ${TRANSFER_COLUMNS}`,
    [
      transfer.id,
      request.endToEndId,
      transfer.idempotencyKey,
      request.amountMinor,
      request.currency,
      request.debtor.name,
      request.debtor.iban,
      request.creditor.name,
      request.creditor.iban,
      request.remittanceInformation ?? null,
      decision.status,
      rejectionReason,
      transfer.now.toISOString(),
    ],
  );
  const view = transferViewOf(inserted.rows[0]!);
  const completed = await tx.query(
    `UPDATE bank_sandbox_idempotency_keys
     SET state = 'completed', transfer_id = $3, response_status = 201, response_body = $4, completed_at = $5
     WHERE idempotency_key = $1 AND lock_token = $2 AND state = 'in-flight'`,
    [transfer.idempotencyKey, transfer.lockToken, transfer.id, JSON.stringify(view), transfer.now.toISOString()],
  );
  if (completed.rowCount !== 1) throw new KeyLostError(`idempotency key marker was taken over before transfer ${transfer.id} committed`);
  return view;
}

function transferViewOf(row: TransferRow): TransferView {
  return {
    id: row.id,
    status: row.status,
    endToEndId: row.end_to_end_id,
    ...(row.rejection_reason === null ? {} : { rejectionReason: row.rejection_reason }),
    amountMinor: Number(row.amount_minor),
    currency: row.currency,
    debtor: { name: row.debtor_name, iban: row.debtor_iban },
    creditor: { name: row.creditor_name, iban: row.creditor_iban },
    ...(row.remittance_information === null ? {} : { remittanceInformation: row.remittance_information }),
    createdAt: new Date(row.created_at).toISOString(),
  };
}
