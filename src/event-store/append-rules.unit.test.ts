import { randomUUID } from 'node:crypto';
import { WrongExpectedVersionError, type EventData, type RecordedEvent } from './port';
import { assertExpectedRevision, assertValidAppend, repeatedAppend } from './append-rules';

const LIMITS = { eventsPerAppendMax: 3, streamNameLengthMax: 10 };
const event = (overrides: Partial<EventData> = {}): EventData => ({ id: randomUUID(), type: 'Thing', data: {}, metadata: {}, ...overrides });

function stored(stream: string, revision: number, data: EventData): RecordedEvent {
  return { ...data, streamName: stream, revision, position: { commit: 10n, prepare: BigInt(revision + 1) }, recordedAt: new Date(0) };
}

describe('assertValidAppend', () => {
  it.each([
    ['an empty batch', 's', [], 'any'],
    ['more events than the bound', 's', [event(), event(), event(), event()], 'any'],
    ['an empty stream name', '', [event()], 'any'],
    ['a stream name over the bound', 'x'.repeat(11), [event()], 'any'],
    ['a negative expected revision', 's', [event()], -1],
    ['a fractional expected revision', 's', [event()], 1.5],
    ['an id that is not a UUID', 's', [event({ id: 'abc' })], 'any'],
    ['an empty type', 's', [event({ type: '' })], 'any'],
    ['data that is an array', 's', [event({ data: [] as never })], 'any'],
    ['metadata that is null', 's', [event({ metadata: null as never })], 'any'],
  ] as const)('when given %s, then it throws RangeError', (_, stream, events, expected) => {
    expect(() => assertValidAppend(stream, events as readonly EventData[], expected as never, LIMITS)).toThrow(RangeError);
  });

  it('when one id repeats in the batch (in any letter case), then it throws RangeError', () => {
    const id = randomUUID();
    expect(() => assertValidAppend('s', [event({ id }), event({ id: id.toUpperCase() })], 'any', LIMITS)).toThrow(/repeat/);
  });

  it('when the batch is valid, then it passes', () => {
    expect(() => assertValidAppend('s', [event(), event()], 0, LIMITS)).not.toThrow();
  });
});

describe('assertExpectedRevision', () => {
  it.each([
    ['any', 'no_stream', true],
    ['any', 4, true],
    ['no_stream', 'no_stream', true],
    ['no_stream', 0, false],
    ['stream_exists', 'no_stream', false],
    ['stream_exists', 0, true],
    [2, 2, true],
    [2, 1, false],
    [0, 'no_stream', false],
  ] as const)('expected %p against actual %p: passes %p', (expected, actual, passes) => {
    const check = () => assertExpectedRevision('s', expected, actual);
    if (passes) expect(check).not.toThrow();
    else expect(check).toThrow(WrongExpectedVersionError);
  });
});

describe('repeatedAppend', () => {
  const [a, b] = [event(), event()];
  const log = [stored('s', 0, a), stored('s', 1, b)];

  it('when the batch sits where the expectation puts it, then the original result comes back', () => {
    expect(repeatedAppend('s', [a, b], 'no_stream', log)).toEqual({ nextExpectedRevision: 1, position: log[1]!.position });
    expect(repeatedAppend('s', [b], 0, log)).toEqual({ nextExpectedRevision: 1, position: log[1]!.position });
    expect(repeatedAppend('s', [a, b], 'any', log)?.nextExpectedRevision).toBe(1);
  });

  it('when the batch sits elsewhere, out of order, partly, or in another stream, then it is not a repeat', () => {
    expect(repeatedAppend('s', [a, b], 0, log)).toBeUndefined();
    expect(repeatedAppend('s', [b, a], 'any', log)).toBeUndefined();
    expect(repeatedAppend('s', [a, event()], 'no_stream', log)).toBeUndefined();
    expect(repeatedAppend('other', [a, b], 'no_stream', log)).toBeUndefined();
  });
});
