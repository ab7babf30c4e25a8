/**
 * The pure part of the EventStoreDB work source: the group's settings and
 * filter (the client's real helpers and constants), the ack / retry / park
 * rule, and one message's handling against a recording acknowledger. Joining a
 * real consumer group needs a server and is not tested here (docs/eventstoredb.md).
 */
import { randomUUID } from 'node:crypto';
import { PARK, PINNED, RETRY, START, type PersistentSubscriptionToAllResolvedEvent } from '@eventstore/db-client';
import type { RecordedEvent } from '../event-store/port';
import {
  WORK_SOURCE_LIMITS_DEFAULT,
  dispositionOf,
  handleMessage,
  workSubscriptionFilter,
  workSubscriptionSettings,
  type HandlerOutcome,
  type MessageAcknowledger,
  type WorkHandler,
} from './eventstoredb-work-source';

const LIMITS = { retryCountMax: 3, messageTimeoutMs: 10_000, inFlightMax: 4 };

function message(retryCount: number, overrides: { isJson?: boolean; data?: unknown } = {}): PersistentSubscriptionToAllResolvedEvent {
  const event = {
    streamId: 'payment-t:p-1',
    id: randomUUID(),
    revision: 0n,
    type: 'PaymentRequested',
    data: overrides.data ?? { amountMinor: 100 },
    metadata: {},
    isJson: overrides.isJson ?? true,
    created: new Date(0),
    position: { commit: 10n, prepare: 10n },
  };
  return { event, retryCount } as PersistentSubscriptionToAllResolvedEvent;
}

function recordingAcknowledger() {
  const calls: string[] = [];
  const acknowledger: MessageAcknowledger = {
    ack: async () => void calls.push('ack'),
    nack: async (action, reason) => void calls.push(`nack:${action}:${reason}`),
  };
  return { calls, acknowledger };
}

describe('the consumer group', () => {
  it('starts at the beginning of $all, pins each stream to one consumer, and carries our timeout and a retry bound just above ours', () => {
    const settings = workSubscriptionSettings(LIMITS);
    expect(settings).toMatchObject({ startFrom: START, consumerStrategyName: PINNED, resolveLinkTos: false, maxRetryCount: 4, messageTimeout: 10_000 });
  });

  it('filters on the payment stream prefix on the server', () => {
    expect(workSubscriptionFilter()).toMatchObject({ filterOn: 'streamName', prefixes: ['payment-'] });
    expect(workSubscriptionFilter(['run1-payment-'])).toMatchObject({ prefixes: ['run1-payment-'] });
  });

  it.each([
    ['a zero retry count', { ...LIMITS, retryCountMax: 0 }],
    ['a timeout no longer than the nack margin', { ...LIMITS, messageTimeoutMs: 1_000 }],
    ['a fractional concurrency', { ...LIMITS, inFlightMax: 1.5 }],
  ])('refuses %s', (_, limits) => {
    expect(() => workSubscriptionSettings(limits)).toThrow(RangeError);
  });

  it('has defaults that pass its own checks', () => {
    expect(() => workSubscriptionSettings(WORK_SOURCE_LIMITS_DEFAULT)).not.toThrow();
  });
});

describe('dispositionOf', () => {
  it.each([
    ['handled, then ack', { kind: 'handled' }, 0, { action: 'ack' }],
    ['irrelevant, then ack', { kind: 'irrelevant' }, 5, { action: 'ack' }],
    ['failed on a first delivery, then retry', { kind: 'failed', reason: 'db down' }, 0, { action: 'nack', nack: RETRY, reason: 'db down', afterMs: 0 }],
    ['failed below the limit, then retry', { kind: 'failed', reason: 'db down' }, 2, { action: 'nack', nack: RETRY, reason: 'db down', afterMs: 0 }],
    ['failed at the limit, then park with the reason', { kind: 'failed', reason: 'db down' }, 3, { action: 'nack', nack: PARK, reason: 'failed 4 times: db down', afterMs: 0 }],
    ['later within the timeout, then hold for the delay and retry', { kind: 'later', delayMs: 2_500, reason: 'backoff' }, 1, { action: 'nack', nack: RETRY, reason: 'backoff', afterMs: 2_500 }],
    ['later past the timeout, then hold until just before it and retry', { kind: 'later', delayMs: 60_000, reason: 'backoff' }, 1, { action: 'nack', nack: RETRY, reason: 'backoff', afterMs: 9_000 }],
    ['later at the limit, then park', { kind: 'later', delayMs: 100, reason: 'bank busy' }, 3, { action: 'nack', nack: PARK, reason: 'still waiting after 3 deliveries: bank busy', afterMs: 0 }],
  ] as const)('when %s', (_, outcome, retryCount, expected) => {
    expect(dispositionOf(outcome as HandlerOutcome, retryCount, LIMITS)).toEqual(expected);
  });

  it('never holds a message for a negative time', () => {
    expect(dispositionOf({ kind: 'later', delayMs: -5, reason: 'r' }, 0, LIMITS)).toMatchObject({ afterMs: 0 });
  });
});

describe('handleMessage', () => {
  const noSleep = async () => undefined;

  it('when the handler handled the event, then it is acked, and the handler got the decoded event and the retry count', async () => {
    const { calls, acknowledger } = recordingAcknowledger();
    const seen: Array<[RecordedEvent, number]> = [];
    const handler: WorkHandler = async (event, delivery) => {
      seen.push([event, delivery.retryCount]);
      return { kind: 'handled' };
    };
    await handleMessage(message(2), acknowledger, handler, LIMITS, noSleep);
    expect(calls).toEqual(['ack']);
    expect(seen[0]![0]).toMatchObject({ streamName: 'payment-t:p-1', type: 'PaymentRequested', revision: 0, position: { commit: 10n, prepare: 10n } });
    expect(seen[0]![1]).toBe(2);
  });

  it('when the handler throws, then the message is retried, and parked with the reason once the retry limit is reached', async () => {
    const handler: WorkHandler = async () => {
      throw new Error('database unavailable');
    };
    const first = recordingAcknowledger();
    await handleMessage(message(0), first.acknowledger, handler, LIMITS, noSleep);
    expect(first.calls).toEqual(['nack:retry:Error: database unavailable']);
    const last = recordingAcknowledger();
    await handleMessage(message(3), last.acknowledger, handler, LIMITS, noSleep);
    expect(last.calls).toEqual(['nack:park:failed 4 times: Error: database unavailable']);
  });

  it('when the handler asks for later, then the message is held for the delay before the retry', async () => {
    const { calls, acknowledger } = recordingAcknowledger();
    const slept: number[] = [];
    await handleMessage(message(0), acknowledger, async () => ({ kind: 'later', delayMs: 1_500, reason: 'backoff' }), LIMITS, async (ms) => void slept.push(ms));
    expect(slept).toEqual([1_500]);
    expect(calls).toEqual(['nack:retry:backoff']);
  });

  it('when the event is not JSON (not written by paystream), then it is parked at once without reaching the handler', async () => {
    const { calls, acknowledger } = recordingAcknowledger();
    let called = false;
    await handleMessage(message(0, { isJson: false, data: new Uint8Array([1]) }), acknowledger, async () => ((called = true), { kind: 'handled' }), LIMITS, noSleep);
    expect(called).toBe(false);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatch(/^nack:park:cannot decode/);
  });

  it('when the ack cannot be sent (connection gone), then it does not throw: the server redelivers after its timeout', async () => {
    const acknowledger: MessageAcknowledger = {
      ack: async () => {
        throw new Error('stream closed');
      },
      nack: async () => undefined,
    };
    await expect(handleMessage(message(0), acknowledger, async () => ({ kind: 'handled' }), LIMITS, noSleep)).resolves.toEqual({ action: 'ack' });
  });
});
