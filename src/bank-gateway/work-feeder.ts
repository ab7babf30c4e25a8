/**
 * Feeds the work queue from the payment log (the queue's own module,
 * work-queue.ts, writes the rows; this only follows the log): a catch-up subscription from the
 * feeder's checkpoint, in batches, each batch's row changes and the checkpoint
 * committed in one transaction. A crash between two batches replays the last
 * one, which changes nothing (row changes only apply over older revisions).
 *
 * Every gateway process runs a feeder. The checkpoint row is locked in each
 * batch's transaction and only events past it are applied, so two feeders
 * never fight; the one behind simply finds its batches already done.
 */
import type { Database } from '../db/database';
import { PAYMENT_STREAM_PREFIX } from '../domain/ids';
import { PAYMENT_EVENT_TYPES } from '../domain/payment';
import { comparePositions, type AllSubscription, type EventFilter, type EventStore, type GlobalPosition, type RecordedEvent } from '../event-store/port';
import type { Logger } from '../logging';
import { backoffAfterFailuresMs, createPause } from '../shared/pause';
import { advanceFeederCheckpoint, applyFedEvent, lockFeederCheckpoint, readFeederCheckpoint } from './work-queue';

export { FEEDER_CHECKPOINT_NAME, readFeederCheckpoint } from './work-queue';

/**
 * Every payment event changes what the gateway must do for one of the
 * payment's instructions; the list still filters, so an event of another kind
 * on a payment stream is not fed.
 */
const FED_EVENT_TYPES = PAYMENT_EVENT_TYPES;

/** What the feeder follows; its lag (for /metrics) is counted with the same filter. */
export const FEEDER_FILTER: EventFilter = { streamPrefixes: [PAYMENT_STREAM_PREFIX], eventTypes: FED_EVENT_TYPES };

export interface FeederOptions {
  readonly store: EventStore;
  readonly database: Database;
  readonly logger: Logger;
  /** Events per transaction. */
  readonly batchSizeMax: number;
}

/** Applies a batch (in log order) and moves the checkpoint, in one transaction. Returns the checkpoint after. */
export async function applyBatch(database: Database, events: readonly RecordedEvent[]): Promise<GlobalPosition> {
  return database.transaction(async (tx) => {
    const checkpoint = await lockFeederCheckpoint(tx);
    const fresh = events.filter((event) => comparePositions(event.position, checkpoint) > 0);
    const last = fresh[fresh.length - 1];
    if (!last) return checkpoint;
    for (const event of fresh) await applyFedEvent(tx, event);
    await advanceFeederCheckpoint(tx, last.position);
    return last.position;
  });
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
  const pause = createPause();

  async function feedOnce(): Promise<void> {
    position = await readFeederCheckpoint(options.database);
    subscription = options.store.subscribeToAll({
      fromPosition: position,
      filter: FEEDER_FILTER,
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
        await pause.wait(backoffAfterFailuresMs(failures, 100, FEED_RETRY_MS_MAX));
      }
    }
  }

  return {
    async start() {
      running = loop();
    },
    async stop() {
      stopped = true;
      pause.stop();
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
