/**
 * Feeds the work queue from the payment log: a catch-up subscription from the
 * feeder's checkpoint, in batches, each batch's row changes and the checkpoint
 * committed in one transaction. A crash between two batches replays the last
 * one, which changes nothing (row changes only apply over older revisions).
 *
 * Every gateway process runs a feeder. The checkpoint row is locked in each
 * batch's transaction and only events past it are applied, so two feeders
 * never fight; the one behind simply finds its batches already done.
 */
import type { Database, SqlClient } from '../db/database';
import { PAYMENT_STREAM_PREFIX, parsePaymentStreamName } from '../domain/ids';
import { PAYMENT_EVENT_TYPES, type PaymentEventType } from '../domain/payment';
import { comparePositions, START, type AllSubscription, type EventStore, type GlobalPosition, type RecordedEvent } from '../event-store/port';
import type { Logger } from '../logging';
import { WORK_CHECKPOINT_TABLE, WORK_TABLE } from './work-queue';

export const FEEDER_CHECKPOINT_NAME = 'bank-gateway-feeder';

/**
 * Every payment event changes what the gateway must do for the payment; the
 * list still filters, so an event of another kind on a payment stream is not fed.
 */
const FED_EVENT_TYPES = PAYMENT_EVENT_TYPES;

export interface FeederOptions {
  readonly store: EventStore;
  readonly database: Database;
  readonly logger: Logger;
  /** Events per transaction. */
  readonly batchSizeMax: number;
}

export async function readFeederCheckpoint(client: SqlClient): Promise<GlobalPosition> {
  const result = await client.query<{ position_commit: string; position_prepare: string }>(
    `SELECT position_commit::text AS position_commit, position_prepare::text AS position_prepare FROM ${WORK_CHECKPOINT_TABLE} WHERE name = $1`,
    [FEEDER_CHECKPOINT_NAME],
  );
  const row = result.rows[0];
  return row ? { commit: BigInt(row.position_commit), prepare: BigInt(row.position_prepare) } : START;
}

async function lockCheckpoint(tx: SqlClient): Promise<GlobalPosition> {
  await tx.query(
    `INSERT INTO ${WORK_CHECKPOINT_TABLE} (name, position_commit, position_prepare) VALUES ($1, -1, -1) ON CONFLICT (name) DO NOTHING`,
    [FEEDER_CHECKPOINT_NAME],
  );
  await tx.query(`SELECT 1 FROM ${WORK_CHECKPOINT_TABLE} WHERE name = $1 FOR UPDATE`, [FEEDER_CHECKPOINT_NAME]);
  return readFeederCheckpoint(tx);
}

/** Applies a batch (in log order) and moves the checkpoint, in one transaction. Returns the checkpoint after. */
export async function applyBatch(database: Database, events: readonly RecordedEvent[]): Promise<GlobalPosition> {
  return database.transaction(async (tx) => {
    const checkpoint = await lockCheckpoint(tx);
    const fresh = events.filter((event) => comparePositions(event.position, checkpoint) > 0);
    const last = fresh[fresh.length - 1];
    if (!last) return checkpoint;
    for (const event of fresh) await applyEvent(tx, event);
    await tx.query(`UPDATE ${WORK_CHECKPOINT_TABLE} SET position_commit = $2, position_prepare = $3, updated_at = now() WHERE name = $1`, [
      FEEDER_CHECKPOINT_NAME,
      last.position.commit.toString(),
      last.position.prepare.toString(),
    ]);
    return last.position;
  });
}

/**
 * One event's effect on its payment's row; only over an older revision, so a
 * redelivered or late event never moves a row back.
 */
export async function applyEvent(tx: SqlClient, event: RecordedEvent): Promise<void> {
  const ids = parsePaymentStreamName(event.streamName);
  if (!ids) return;
  const key = [ids.tenantId, ids.paymentId, event.revision] as const;
  const update = (set: string, params: readonly unknown[] = []) =>
    tx.query(`UPDATE ${WORK_TABLE} SET ${set}, stream_revision = $3, updated_at = now() WHERE tenant_id = $1 AND payment_id = $2 AND stream_revision < $3`, [...key, ...params]);
  const data = event.data;
  switch (event.type as PaymentEventType) {
    case 'PaymentRequested':
      await tx.query(
        `INSERT INTO ${WORK_TABLE} (tenant_id, payment_id, status, payment_status, stream_revision) VALUES ($1, $2, 'pending', 'requested', $3)
         ON CONFLICT (tenant_id, payment_id) DO NOTHING`,
        key,
      );
      return;
    case 'BankSubmissionStarted':
      await update(`payment_status = 'submitted', attempts = $4`, [Number(data['attempt'])]);
      return;
    case 'BankAttemptFailed':
      await update(`last_error = $4`, [String(data['error'])]);
      return;
    case 'BankOutcomeUnknown':
      await update(`status = 'parked', payment_status = 'unknown', last_error = $4`, [String(data['lastError'])]);
      return;
    case 'OperatorRetryRequested':
      // A fresh retry window, due now, and any old lease void.
      await update(`status = 'pending', payment_status = 'submitted', next_attempt_at = now(), window_started_at = NULL, claims_in_window = 0,
        lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL`);
      return;
    case 'PaymentSettled':
    case 'PaymentRejected':
    case 'PaymentCancelled':
      await update(`status = 'done', payment_status = $4`, [finalStatusOf(event.type)]);
      return;
    case 'PaymentResolvedByOperator':
      await update(`status = 'done', payment_status = $4`, [data['outcome'] === 'settled' ? 'settled' : 'rejected']);
      return;
    default:
      return;
  }
}

function finalStatusOf(type: string): string {
  if (type === 'PaymentSettled') return 'settled';
  if (type === 'PaymentRejected') return 'rejected';
  return 'cancelled';
}

export interface Feeder {
  start(): Promise<void>;
  stop(): Promise<void>;
  position(): GlobalPosition | undefined;
  error(): string | undefined;
  /**
   * Calls `listener` after each write to the work queue. Rationale: the gateway
   * in the same process then claims new work at once instead of at its next
   * poll, which otherwise dominates the time from PUT to settled.
   */
  onFed(listener: () => void): void;
}

const FEED_RETRY_MS_MAX = 5_000;

export function createWorkFeeder(options: FeederOptions): Feeder {
  let subscription: AllSubscription | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  let position: GlobalPosition | undefined;
  let lastError: string | undefined;
  const fedListeners: Array<() => void> = [];

  async function feedOnce(): Promise<void> {
    position = await readFeederCheckpoint(options.database);
    subscription = options.store.subscribeToAll({
      fromPosition: position,
      filter: { streamPrefixes: [PAYMENT_STREAM_PREFIX], eventTypes: FED_EVENT_TYPES },
      batchSizeMax: options.batchSizeMax,
    });
    const batcher = new EventBatcher(subscription[Symbol.asyncIterator]());
    for (;;) {
      const batch = await batcher.next(options.batchSizeMax);
      if (batch === undefined || stopped) return;
      position = await applyBatch(options.database, batch);
      lastError = undefined;
      for (const listener of fedListeners) listener();
    }
  }

  async function loop(): Promise<void> {
    for (let failures = 0; !stopped; ) {
      try {
        await feedOnce();
      } catch (error) {
        if (stopped) return;
        failures += 1;
        lastError = String(error);
        options.logger.error({ err: error, failures }, 'work feeder failed; resubscribing from its checkpoint');
        await subscription?.close().catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, Math.min(FEED_RETRY_MS_MAX, 100 * 2 ** Math.min(failures, 6))));
      }
    }
  }

  return {
    async start() {
      running = loop();
    },
    async stop() {
      stopped = true;
      await subscription?.close().catch(() => undefined);
      await running;
    },
    position: () => position,
    error: () => lastError,
    onFed: (listener) => void fedListeners.push(listener),
  };
}

/**
 * Batches a catch-up subscription: waits for one event, then takes whatever
 * else is already buffered (up to the bound) without waiting for more, so a
 * burst becomes one transaction and a quiet log costs no latency. A pull that
 * is still open when the batch closes is kept for the next batch, never lost.
 */
export class EventBatcher {
  private pending: Promise<IteratorResult<RecordedEvent>> | undefined;

  constructor(private readonly iterator: AsyncIterator<RecordedEvent>) {}

  private pull(): Promise<IteratorResult<RecordedEvent>> {
    const pending = this.pending ?? this.iterator.next();
    this.pending = undefined;
    return pending;
  }

  /** Undefined when the subscription ended. */
  async next(batchSizeMax: number): Promise<RecordedEvent[] | undefined> {
    const first = await this.pull();
    if (first.done) return undefined;
    const batch = [first.value];
    while (batch.length < batchSizeMax) {
      const pending = this.pull();
      const next = await Promise.race([pending, new Promise<'later'>((resolve) => setImmediate(() => resolve('later')))]);
      if (next === 'later') {
        this.pending = pending;
        break;
      }
      if (next.done) break;
      batch.push(next.value);
    }
    return batch;
  }
}
