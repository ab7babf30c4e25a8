/**
 * Our catch-up subscription over the client's `subscribeToAll`. The server does
 * the catching up, the switch to live events and the server-side filter; this
 * wrapper keeps the port's promises on top of it:
 *
 * - exclusive start and no event twice: only events strictly after the last one
 *   handed out pass, whatever the server resends around its start position;
 * - the port's filter exactly (the server filters on one criterion only, see
 *   `toServerFilter`), and never a system event;
 * - `close()` ends a waiting `for await` at once, even while the client's
 *   stream has nothing to say;
 * - a stream the server ends without `close()` is an error, so the consumer
 *   resubscribes from its checkpoint instead of believing it is caught up.
 */
import type { AllStreamResolvedEvent, AllStreamSubscription } from '@eventstore/db-client';
import type { AllSubscription, EventFilter, GlobalPosition, RecordedEvent } from '../port';
import { fromClientPosition, fromClientRecordedEvent, isAfter, matchesFilter } from './mapping';

export interface EventStoreDbSubscriptionSettings {
  readonly source: AllStreamSubscription;
  readonly fromPosition: GlobalPosition;
  readonly filter: EventFilter | undefined;
  readonly onClose: (subscription: EventStoreDbSubscription) => void;
}

const CLOSED = Symbol('closed');

export class EventStoreDbSubscription implements AllSubscription {
  private closed = false;
  private iterating = false;
  private signalClosed: (() => void) | undefined;
  private readonly closedSignal = new Promise<typeof CLOSED>((resolve) => {
    this.signalClosed = () => resolve(CLOSED);
  });

  constructor(private readonly settings: EventStoreDbSubscriptionSettings) {
    // Until someone iterates, an error (server gone) must not be an unhandled 'error' event.
    settings.source.on('error', () => undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.signalClosed?.();
    this.settings.onClose(this);
    await this.settings.source.unsubscribe().catch(() => undefined);
    this.settings.source.destroy();
  }

  [Symbol.asyncIterator](): AsyncIterator<RecordedEvent> {
    if (this.iterating) throw new Error('a subscription can be iterated once');
    this.iterating = true;
    return this.events();
  }

  private async *events(): AsyncGenerator<RecordedEvent> {
    const source = this.settings.source[Symbol.asyncIterator]();
    let cursor = this.settings.fromPosition;
    try {
      while (!this.closed) {
        const pending = source.next();
        // A pull still open when close() wins the race settles later, with nobody listening.
        pending.catch(() => undefined);
        const next = await Promise.race([pending, this.closedSignal]);
        if (next === CLOSED) return;
        if (next.done) {
          if (this.closed) return;
          throw new Error('EventStoreDB ended the subscription; resubscribe from the last checkpoint');
        }
        const event = this.accept(next.value, cursor);
        if (event === undefined) continue;
        cursor = event.position;
        yield event;
      }
    } finally {
      await this.close();
    }
  }

  /** The event to hand out, or undefined when it is filtered out or not after the cursor. */
  private accept(resolved: AllStreamResolvedEvent, cursor: GlobalPosition): RecordedEvent | undefined {
    const recorded = resolved.event;
    if (!recorded) return undefined;
    if (!isAfter(fromClientPosition(recorded.position), cursor)) return undefined;
    if (!matchesFilter({ streamName: recorded.streamId, type: recorded.type }, this.settings.filter)) return undefined;
    return fromClientRecordedEvent(recorded);
  }
}
