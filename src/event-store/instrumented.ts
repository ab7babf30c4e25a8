/**
 * The event store with its append and read durations measured (see
 * src/observability/metrics.ts). Wraps any adapter behind the port.
 *
 * Rationale for `Object.create(store)`: the wrapper keeps the adapter's
 * prototype, so code that asks which adapter it has (`instanceof
 * EventStoreDbEventStore` in the gateway) gets the same answer; every port
 * method is overridden to run on the adapter itself, so no state of the
 * adapter ever lands on the wrapper.
 */
import { eventStoreAppendDuration, eventStoreReadDuration } from '../observability/metrics';
import { StoreUnavailableError, WrongExpectedVersionError, type EventStore } from './port';

function outcomeOf(error: unknown): string {
  if (error instanceof WrongExpectedVersionError) return 'wrong_expected_version';
  if (error instanceof StoreUnavailableError) return 'unavailable';
  return 'error';
}

async function timed<T>(observe: (outcome: string, seconds: number) => void, work: () => Promise<T>): Promise<T> {
  const startedAt = performance.now();
  try {
    const result = await work();
    observe('ok', (performance.now() - startedAt) / 1000);
    return result;
  } catch (error) {
    observe(outcomeOf(error), (performance.now() - startedAt) / 1000);
    throw error;
  }
}

const observeAppend = (outcome: string, seconds: number) => eventStoreAppendDuration.observe({ outcome }, seconds);
const observeRead = (operation: string) => (outcome: string, seconds: number) => eventStoreReadDuration.observe({ operation, outcome }, seconds);
const observeStreamRead = observeRead('stream');
const observeAllRead = observeRead('all');

export function instrumentEventStore<S extends EventStore>(store: S): S {
  const instrumented: EventStore = Object.create(store) as S;
  Object.assign(instrumented, {
    appendToStream: (stream, events, options) => timed(observeAppend, () => store.appendToStream(stream, events, options)),
    readStream: (stream, options) => timed(observeStreamRead, () => store.readStream(stream, options)),
    readAll: (options) => timed(observeAllRead, () => store.readAll(options)),
    subscribeToAll: (options) => store.subscribeToAll(options),
    headPosition: () => store.headPosition(),
    lastWrittenPosition: () => store.lastWrittenPosition(),
    ping: () => store.ping(),
    close: () => store.close(),
  } satisfies EventStore);
  return instrumented as S;
}
