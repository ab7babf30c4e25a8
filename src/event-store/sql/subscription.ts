/**
 * A catch-up subscription over the gap-safe page reader: read a page, hand its
 * events out one by one, read the next; when caught up, sleep until a
 * notification, the poll timer or close() wakes it. A lost notification only
 * delays delivery by one poll interval; it can never lose an event, because
 * every wake-up reads from the subscription's own cursor.
 *
 * No connection or transaction is held while the consumer works on an event:
 * a page is fully read before the first event of it is handed out.
 */
import { comparePositions, type AllSubscription, type EventFilter, type GlobalPosition, type RecordedEvent } from '../port';

export interface Page {
  readonly events: RecordedEvent[];
  /** Every transaction older than this id was final when the page was read. */
  readonly horizon: bigint;
}

export type PageReader = (after: GlobalPosition, limit: number, filter: EventFilter | undefined) => Promise<Page>;

export interface SubscriptionSettings {
  readonly readPage: PageReader;
  readonly fromPosition: GlobalPosition;
  readonly filter: EventFilter | undefined;
  readonly batchSizeMax: number;
  readonly pollIntervalMs: number;
  readonly onClose: (subscription: PollingSubscription) => void;
}

const INT8_MAX = 9_223_372_036_854_775_807n;

export class PollingSubscription implements AllSubscription {
  private closed = false;
  private woken = false;
  private wakeSleeper: (() => void) | undefined;
  private iterating = false;

  constructor(private readonly settings: SubscriptionSettings) {}

  /** New events may be there: called on every notification. */
  wake(): void {
    this.woken = true;
    this.wakeSleeper?.();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wakeSleeper?.();
    this.settings.onClose(this);
  }

  [Symbol.asyncIterator](): AsyncIterator<RecordedEvent> {
    if (this.iterating) throw new Error('a subscription can be iterated once');
    this.iterating = true;
    return this.events();
  }

  private async *events(): AsyncGenerator<RecordedEvent> {
    const { readPage, batchSizeMax, filter } = this.settings;
    let cursor = this.settings.fromPosition;
    try {
      while (!this.closed) {
        this.woken = false;
        const page = await readPage(cursor, batchSizeMax, filter);
        for (const event of page.events) {
          if (this.closed) return;
          yield event;
          cursor = event.position;
        }
        if (page.events.length === batchSizeMax) continue;
        cursor = pastScanned(cursor, page.horizon);
        await this.sleep();
      }
    } finally {
      await this.close();
    }
  }

  private sleep(): Promise<void> {
    if (this.woken || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeSleeper = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.settings.pollIntervalMs);
      this.wakeSleeper = done;
    });
  }
}

/**
 * After a short page, every row below the horizon has been seen or filtered
 * out, so the cursor may jump to the horizon. Rationale: without this, a
 * subscription whose filter rarely matches would rescan everything since its
 * last match on every poll.
 */
function pastScanned(cursor: GlobalPosition, horizon: bigint): GlobalPosition {
  const scanned: GlobalPosition = { commit: horizon - 1n, prepare: INT8_MAX };
  return comparePositions(scanned, cursor) > 0 ? scanned : cursor;
}
