/**
 * What every payment read model needs from a recorded event: which payment it
 * belongs to, the current shape of its payload (upcast), who did it and when,
 * and the status the payment is in after it. Pure functions only.
 */
import { envelopeOf, schemaVersionOf } from '../../application/event-envelope';
import { parsePaymentStreamName, PAYMENT_STREAM_PREFIX, type PaymentId, type TenantId } from '../../domain/ids';
import { PAYMENT_EVENT_TYPES, paymentStatusAfter, upcastPaymentEvent, type PaymentEvent } from '../../domain/payment';
import type { EventFilter, GlobalPosition, RecordedEvent } from '../../event-store/port';

export const PAYMENT_EVENTS_FILTER: EventFilter = { streamPrefixes: [PAYMENT_STREAM_PREFIX], eventTypes: PAYMENT_EVENT_TYPES };

export interface DecodedPaymentEvent {
  readonly tenantId: TenantId;
  readonly paymentId: PaymentId;
  readonly revision: number;
  readonly position: GlobalPosition;
  readonly eventId: string;
  readonly event: PaymentEvent;
  /** When the command that wrote it ran (envelope), else when the store recorded it. */
  readonly occurredAt: string;
  readonly actor: string | null;
  readonly actorKind: string | null;
  readonly requestId: string | null;
  readonly correlationId: string | null;
  readonly causationId: string | null;
}

/**
 * Undefined for events that are none of ours (another stream family, an event
 * type this build does not know): projections pass over them. A payment event
 * that cannot be read (a newer schema, a stream name that does not parse) throws:
 * that is a poison event, and skipping it silently would corrupt the read model.
 */
export function decodePaymentEvent(recorded: RecordedEvent): DecodedPaymentEvent | undefined {
  if (!recorded.streamName.startsWith(PAYMENT_STREAM_PREFIX)) return undefined;
  const event = upcastPaymentEvent(recorded.type, recorded.data, schemaVersionOf(recorded));
  if (!event) return undefined;
  const ids = parsePaymentStreamName(recorded.streamName);
  if (!ids) throw new Error(`payment event in a stream whose name does not parse: ${recorded.streamName}`);
  const envelope = envelopeOf(recorded);
  // Fields one by one, no spread: see advanceRow in payments.ts for why (it is per event).
  return {
    tenantId: ids.tenantId,
    paymentId: ids.paymentId,
    revision: recorded.revision,
    position: recorded.position,
    eventId: recorded.id,
    event,
    occurredAt: typeof envelope.recordedAt === 'string' ? envelope.recordedAt : recorded.recordedAt.toISOString(),
    actor: envelope.principal?.id ?? null,
    actorKind: envelope.principal?.kind === 'staff' ? envelope.principal.role : (envelope.principal?.kind ?? null),
    requestId: envelope.requestId ?? null,
    correlationId: envelope.correlationId ?? null,
    causationId: envelope.causationId ?? null,
  };
}

/** The status a payment is in right after `event`: the domain's one status function. */
export const statusAfter = paymentStatusAfter;

/** Key of a payment inside a batch's maps. The NUL separator cannot occur in either id. */
export const paymentKey = (tenantId: string, paymentId: string) => `${tenantId}\u0000${paymentId}`;

/** The UTC calendar day of an ISO instant: days in read models are UTC days. */
export const utcDay = (isoInstant: string) => new Date(isoInstant).toISOString().slice(0, 10);

/**
 * The payments of a batch whose read-model rows must be loaded before folding:
 * those whose first event in the batch is not their PaymentRequested (a payment
 * created inside the batch has no row yet).
 */
export function paymentsToLoad(decoded: readonly DecodedPaymentEvent[]): Array<readonly [string, string]> {
  const toLoad = new Map<string, readonly [string, string]>();
  const seen = new Set<string>();
  for (const event of decoded) {
    const key = paymentKey(event.tenantId, event.paymentId);
    if (!seen.has(key) && event.event.type !== 'PaymentRequested') toLoad.set(key, [event.tenantId, event.paymentId]);
    seen.add(key);
  }
  return [...toLoad.values()];
}

export function decodePaymentEvents(events: readonly RecordedEvent[]): DecodedPaymentEvent[] {
  return events.map(decodePaymentEvent).filter((event): event is DecodedPaymentEvent => event !== undefined);
}
