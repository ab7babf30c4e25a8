/**
 * Turns domain events into stored events and back. The envelope's metadata is
 * what makes the log an audit trail: who, when, through which request, caused
 * by what, and in which schema version the payload was written.
 */
import type { EventData, JsonObject, RecordedEvent } from '../event-store/port';
import type { CommandMetadata, Principal } from '../domain/principal';

export interface EventEnvelopeMetadata {
  readonly correlationId: string;
  readonly causationId: string;
  readonly requestId: string;
  readonly principal: Principal;
  readonly recordedAt: string;
  readonly schemaVersion: number;
}

export interface DomainEventLike {
  readonly type: string;
  readonly data: object;
}

export type NewEventId = () => string;

export function toEventData(event: DomainEventLike, metadata: CommandMetadata, schemaVersion: number, newEventId: NewEventId): EventData {
  const envelope: EventEnvelopeMetadata = {
    correlationId: metadata.correlationId,
    causationId: metadata.causationId,
    requestId: metadata.requestId,
    principal: metadata.principal,
    recordedAt: metadata.now.toISOString(),
    schemaVersion,
  };
  return { id: newEventId(), type: event.type, data: event.data as JsonObject, metadata: envelope as unknown as JsonObject };
}

export function schemaVersionOf(event: RecordedEvent): number {
  const version = event.metadata['schemaVersion'];
  return typeof version === 'number' ? version : 1;
}

export function envelopeOf(event: RecordedEvent): Partial<EventEnvelopeMetadata> {
  return event.metadata as Partial<EventEnvelopeMetadata>;
}
