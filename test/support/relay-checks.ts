/**
 * What "exactly once, in order" means, checked against the log itself: every
 * payment event the store holds appears on the stream once (by CloudEvents id
 * and Nats-Msg-Id), nothing else does, and the messages of each payment come in
 * its stream's revision order.
 */
import type { EventStore, RecordedEvent } from '../../src/event-store/port';
import { comparePositions, parsePosition, START, type GlobalPosition } from '../../src/event-store/port';
import { POSITION_HEADER } from '../../src/relay/jetstream';
import { RELAY_FILTER } from '../../src/relay/relay';
import type { StreamMessage } from './nats';

export async function relayedEvents(store: EventStore): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  let from = START;
  for (;;) {
    const page = await store.readAll({ fromPosition: from, limit: 1_000, filter: RELAY_FILTER });
    events.push(...page);
    if (page.length < 1_000) return events;
    from = page[page.length - 1]!.position;
  }
}

export interface ExactlyOnceReport {
  readonly duplicates: string[];
  readonly missing: string[];
  readonly unexpected: string[];
  readonly outOfOrder: string[];
}

export function checkExactlyOnce(events: readonly RecordedEvent[], messages: readonly StreamMessage[]): ExactlyOnceReport {
  const expected = new Map(events.map((event) => [event.id, event]));
  const seen = new Map<string, number>();
  const lastRevision = new Map<string, number>();
  const outOfOrder: string[] = [];
  const unexpected: string[] = [];
  let lastPosition: GlobalPosition | undefined;
  for (const message of messages) {
    // The stream as a whole follows the log's order, not only each payment.
    const position = parsePosition(message.headers[POSITION_HEADER] ?? '');
    if (!position) unexpected.push(`sequence ${message.sequence}: no ${POSITION_HEADER}`);
    else if (lastPosition && comparePositions(position, lastPosition) <= 0) outOfOrder.push(`sequence ${message.sequence} at ${message.headers[POSITION_HEADER]} not after the previous message`);
    if (position) lastPosition = position;
    const id = String(message.body['id']);
    if (message.headers['Nats-Msg-Id'] !== id) unexpected.push(`${id}: Nats-Msg-Id ${message.headers['Nats-Msg-Id']}`);
    seen.set(id, (seen.get(id) ?? 0) + 1);
    const event = expected.get(id);
    if (!event) {
      unexpected.push(id);
      continue;
    }
    const previous = lastRevision.get(event.streamName) ?? -1;
    if (event.revision <= previous) outOfOrder.push(`${event.streamName}@${event.revision} after @${previous}`);
    lastRevision.set(event.streamName, event.revision);
  }
  return {
    duplicates: [...seen].filter(([, count]) => count > 1).map(([id, count]) => `${id} x${count}`),
    missing: events.filter((event) => !seen.has(event.id)).map((event) => `${event.streamName}@${event.revision} ${event.type}`),
    unexpected,
    outOfOrder,
  };
}
