/**
 * The four steps of every command: read the stream, fold it, decide, append with
 * the revision that was read. A lost race re-reads and decides again (bounded);
 * a caller-supplied expected revision (If-Match) is never retried but refused.
 */
import { WrongExpectedVersionError, type EventStore, type GlobalPosition } from '../event-store/port';
import type { CommandMetadata } from '../domain/principal';
import { toEventData, type DomainEventLike, type NewEventId } from './event-envelope';
import { ConcurrencyExhaustedError, PreconditionFailedError } from './errors';
import type { RecordedEvent } from '../event-store/port';

export interface Decider<Command extends { metadata: CommandMetadata }, Event extends DomainEventLike, State> {
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
  initialState: State;
  /** Recorded event to domain event (upcasting on the way); undefined skips foreign events. */
  fromRecorded(event: RecordedEvent): Event | undefined;
  schemaVersion: number;
}

export interface HandleOptions {
  /** From If-Match: the revision the caller last saw. */
  readonly expectedRevision?: number;
}

export interface HandleResult<Event, State> {
  readonly state: State;
  /** Stream revision after the command; -1 when the stream still does not exist. */
  readonly revision: number;
  readonly appended: readonly Event[];
  /** Global position of the newest event of the stream, for read-your-writes waits. */
  readonly position: GlobalPosition | undefined;
}

export interface LoadedStream<State> {
  readonly state: State;
  readonly revision: number;
  readonly position: GlobalPosition | undefined;
}

export function createCommandHandler<Command extends { metadata: CommandMetadata }, Event extends DomainEventLike, State>(
  store: EventStore,
  decider: Decider<Command, Event, State>,
  options: { readonly newEventId: NewEventId; readonly conflictRetryCountMax: number },
) {
  async function load(streamName: string): Promise<LoadedStream<State>> {
    const recorded = await store.readStream(streamName);
    let state = decider.initialState;
    for (const event of recorded) {
      const domainEvent = decider.fromRecorded(event);
      if (domainEvent) state = decider.evolve(state, domainEvent);
    }
    const last = recorded[recorded.length - 1];
    return { state, revision: last ? last.revision : -1, position: last?.position };
  }

  async function handle(streamName: string, command: Command, handleOptions: HandleOptions = {}): Promise<HandleResult<Event, State>> {
    for (let attempt = 1; attempt <= options.conflictRetryCountMax + 1; attempt += 1) {
      const { state, revision, position } = await load(streamName);
      if (handleOptions.expectedRevision !== undefined && handleOptions.expectedRevision !== revision) {
        throw new PreconditionFailedError(`the payment is at revision ${revision}, not ${handleOptions.expectedRevision}`, revision);
      }
      const events = decider.decide(command, state);
      if (events.length === 0) return { state, revision, appended: [], position };
      const data = events.map((event) => toEventData(event, command.metadata, decider.schemaVersion, options.newEventId));
      try {
        const result = await store.appendToStream(streamName, data, { expectedRevision: revision === -1 ? 'no_stream' : revision });
        return { state: events.reduce(decider.evolve, state), revision: result.nextExpectedRevision, appended: events, position: result.position };
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError)) throw error;
        if (handleOptions.expectedRevision !== undefined) {
          throw new PreconditionFailedError('the payment changed while this request was handled', undefined);
        }
      }
    }
    throw new ConcurrencyExhaustedError(streamName, options.conflictRetryCountMax + 1);
  }

  /**
   * Decides on a state the caller already loaded and appends with its
   * revision: no read. Rationale: the gateway holds the payment's state from
   * its one read and from its own appends, so reading again before each step
   * would only repeat what it knows. A lost race is a PreconditionFailedError,
   * never retried here: the caller reloads.
   */
  async function handleOn(streamName: string, command: Command, loaded: { readonly state: State; readonly revision: number }): Promise<HandleResult<Event, State>> {
    const events = decider.decide(command, loaded.state);
    if (events.length === 0) return { state: loaded.state, revision: loaded.revision, appended: [], position: undefined };
    const data = events.map((event) => toEventData(event, command.metadata, decider.schemaVersion, options.newEventId));
    try {
      const result = await store.appendToStream(streamName, data, { expectedRevision: loaded.revision === -1 ? 'no_stream' : loaded.revision });
      return { state: events.reduce(decider.evolve, loaded.state), revision: result.nextExpectedRevision, appended: events, position: result.position };
    } catch (error) {
      if (error instanceof WrongExpectedVersionError) throw new PreconditionFailedError(`${streamName} changed after revision ${loaded.revision}`, undefined);
      throw error;
    }
  }

  return { load, handle, handleOn };
}

export type CommandHandler<Command extends { metadata: CommandMetadata }, Event extends DomainEventLike, State> = ReturnType<
  typeof createCommandHandler<Command, Event, State>
>;
