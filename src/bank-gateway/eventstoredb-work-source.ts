/**
 * A work source for the gateway on EventStoreDB: a persistent subscription
 * (a consumer group the server keeps, with its own checkpoint) on the payment
 * streams of $all. Several gateway processes join the same group and the
 * server shares the events among them; each delivered event is handed to a
 * handler, then acknowledged, retried or parked:
 *
 * - handled (or not an event the gateway cares about): ack;
 * - the handler asks to come back later: the message is held for the delay
 *   (never past the server's message timeout), then nacked with retry;
 * - the handler failed: nack with retry while the message's retry count is
 *   below `retryCountMax`, then nack with park, with the reason, so an operator
 *   can look at it and replay it (docs/eventstoredb.md, "Parked messages");
 * - an event that cannot be decoded (not written by paystream) is parked at once.
 *
 * Delivery is at least once: after a crash, a timeout or a retry the same event
 * comes again, to this process or another. The handler must therefore be
 * idempotent, and it is the handler's own guard, never this source, that keeps
 * a payment from being paid twice. For the gateway that guard is unchanged:
 * the intent (`BankSubmissionStarted`) is appended with the expected revision
 * read before deciding, the idempotency key is stable, and any claim after an
 * unclear moment looks the transfer up first.
 *
 * Which handler the gateway uses, and why the process does not wire this source
 * yet, is in docs/eventstoredb.md ("Gateway work distribution").
 */
import {
  PARK,
  PINNED,
  PersistentSubscriptionExistsError,
  RETRY,
  START,
  persistentSubscriptionToAllSettingsFromDefaults,
  streamNameFilter,
  type EventStoreDBClient,
  type PersistentSubscriptionToAll,
  type PersistentSubscriptionToAllResolvedEvent,
  type PersistentSubscriptionToAllSettings,
  type Position,
  type PrefixesFilter,
} from '@eventstore/db-client';
import type { Database } from '../db/database';
import { PAYMENT_STREAM_PREFIX, parsePaymentStreamName } from '../domain/ids';
import { fromClientRecordedEvent } from '../event-store/eventstoredb/mapping';
import type { RecordedEvent } from '../event-store/port';
import type { Logger } from '../logging';
import type { Feeder } from './work-feeder';
import { applyFedEvent, hasWorkFor } from './work-queue';
import { backoffAfterFailuresMs, createPause } from '../shared/pause';

export const WORK_GROUP_DEFAULT = 'paystream-bank-gateway';

/** What a handler made of one event. Throwing counts as `failed`. */
export type HandlerOutcome =
  | { readonly kind: 'handled' }
  | { readonly kind: 'irrelevant' }
  | { readonly kind: 'later'; readonly delayMs: number; readonly reason: string };

export type WorkHandler = (event: RecordedEvent, delivery: { readonly retryCount: number }) => Promise<HandlerOutcome>;

/** What to tell the server about one message. */
export type Disposition =
  | { readonly action: 'ack' }
  | { readonly action: 'nack'; readonly nack: typeof RETRY | typeof PARK; readonly reason: string; readonly afterMs: number };

export interface WorkSourceLimits {
  /** Retries of one event before it is parked (the server's maxRetryCount is one above, as a backstop). */
  readonly retryCountMax: number;
  /** The server redelivers a message not acked within this; a handler's `later` is held at most until shortly before. */
  readonly messageTimeoutMs: number;
  /** Unacked messages the server sends one consumer at once: the process's concurrency. */
  readonly inFlightMax: number;
}

export const WORK_SOURCE_LIMITS_DEFAULT: WorkSourceLimits = { retryCountMax: 10, messageTimeoutMs: 60_000, inFlightMax: 8 };

/** A `later` is nacked this long before the server would time the message out on its own. */
const TIMEOUT_MARGIN_MS = 1_000;
const RESUBSCRIBE_MS_MAX = 10_000;

/**
 * The group's settings. Rationale for each choice:
 * - start from the beginning of $all: a group created on a running system must
 *   still see payments requested before it existed (already-final ones are acked at once);
 * - Pinned: events of one stream go to one consumer while it is connected, so
 *   two gateways rarely work the same payment at the same moment (harmless, but wasted);
 * - no link resolution: the filter is on our own streams, not on projections.
 */
export function workSubscriptionSettings(limits: WorkSourceLimits, startFrom: Position | typeof START = START): PersistentSubscriptionToAllSettings {
  assertLimits(limits);
  return persistentSubscriptionToAllSettingsFromDefaults({
    startFrom,
    consumerStrategyName: PINNED,
    resolveLinkTos: false,
    // One above ours: our park, with its reason, comes first; the server's own (for messages that
    // time out again and again, with no consumer alive to answer) stays as the backstop.
    maxRetryCount: limits.retryCountMax + 1,
    messageTimeout: limits.messageTimeoutMs,
  });
}

/** Server-side: only the payment streams reach the group. */
export function workSubscriptionFilter(streamPrefixes: readonly string[] = [PAYMENT_STREAM_PREFIX]): PrefixesFilter {
  return streamNameFilter({ prefixes: [...streamPrefixes] });
}

/** The pure rule from a handler's outcome (or failure) and the message's retry count to ack, retry or park. */
export function dispositionOf(outcome: HandlerOutcome | { readonly kind: 'failed'; readonly reason: string }, retryCount: number, limits: WorkSourceLimits): Disposition {
  switch (outcome.kind) {
    case 'handled':
    case 'irrelevant':
      return { action: 'ack' };
    case 'later':
      // A delay is a wait, not a failure; it still counts as a delivery, so a payment cannot wait forever here.
      if (retryCount >= limits.retryCountMax) return { action: 'nack', nack: PARK, reason: `still waiting after ${retryCount} deliveries: ${outcome.reason}`, afterMs: 0 };
      return { action: 'nack', nack: RETRY, reason: outcome.reason, afterMs: heldMs(outcome.delayMs, limits) };
    case 'failed':
      if (retryCount >= limits.retryCountMax) return { action: 'nack', nack: PARK, reason: `failed ${retryCount + 1} times: ${outcome.reason}`, afterMs: 0 };
      return { action: 'nack', nack: RETRY, reason: outcome.reason, afterMs: 0 };
  }
}

function heldMs(delayMs: number, limits: WorkSourceLimits): number {
  return Math.min(Math.max(0, Math.round(delayMs)), Math.max(0, limits.messageTimeoutMs - TIMEOUT_MARGIN_MS));
}

function assertLimits(limits: WorkSourceLimits): void {
  for (const key of ['retryCountMax', 'messageTimeoutMs', 'inFlightMax'] as const) {
    if (!Number.isSafeInteger(limits[key]) || limits[key] < 1) throw new RangeError(`${key} must be a positive integer, got ${limits[key]}`);
  }
  if (limits.messageTimeoutMs <= TIMEOUT_MARGIN_MS) throw new RangeError(`messageTimeoutMs must exceed ${TIMEOUT_MARGIN_MS}`);
}

/** The part of the client's persistent subscription one message needs. */
export interface MessageAcknowledger {
  ack(...events: PersistentSubscriptionToAllResolvedEvent[]): Promise<void>;
  nack(action: typeof RETRY | typeof PARK, reason: string, ...events: PersistentSubscriptionToAllResolvedEvent[]): Promise<void>;
}

/**
 * One message: decode, handle, dispose. Never throws: what it could not do is
 * the server's to redeliver (an ack or nack that did not arrive times out).
 */
export async function handleMessage(
  message: PersistentSubscriptionToAllResolvedEvent,
  subscription: MessageAcknowledger,
  handler: WorkHandler,
  limits: WorkSourceLimits,
  sleep: (ms: number) => Promise<void> = delay,
): Promise<Disposition> {
  const disposition = await decideFor(message, handler, limits);
  if (disposition.action === 'ack') {
    await subscription.ack(message).catch(() => undefined);
    return disposition;
  }
  if (disposition.afterMs > 0) await sleep(disposition.afterMs);
  await subscription.nack(disposition.nack, disposition.reason.slice(0, 500), message).catch(() => undefined);
  return disposition;
}

async function decideFor(message: PersistentSubscriptionToAllResolvedEvent, handler: WorkHandler, limits: WorkSourceLimits): Promise<Disposition> {
  let event: RecordedEvent;
  try {
    if (!message.event) return { action: 'ack' };
    event = fromClientRecordedEvent(message.event);
  } catch (error) {
    return { action: 'nack', nack: PARK, reason: `cannot decode: ${String(error)}`, afterMs: 0 };
  }
  try {
    return dispositionOf(await handler(event, { retryCount: message.retryCount }), message.retryCount, limits);
  } catch (error) {
    return dispositionOf({ kind: 'failed', reason: String(error) }, message.retryCount, limits);
  }
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface WorkSourceOptions {
  readonly client: EventStoreDBClient;
  readonly handler: WorkHandler;
  readonly logger: Logger;
  readonly group?: string;
  readonly streamPrefixes?: readonly string[];
  readonly limits?: WorkSourceLimits;
  /** Where a group created now starts (tests start at the head); default the beginning of $all. An existing group keeps its own. */
  readonly startFrom?: Position;
}

export interface WorkSource {
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): { readonly connected: boolean; readonly inFlight: number; readonly parked: number; readonly lastError: string | null };
}

/** Creates the group when it does not exist yet; an existing group keeps its settings and its checkpoint. */
export async function ensureWorkGroup(
  client: EventStoreDBClient,
  group: string,
  limits: WorkSourceLimits,
  options: { readonly streamPrefixes?: readonly string[]; readonly startFrom?: Position } = {},
): Promise<void> {
  try {
    await client.createPersistentSubscriptionToAll(group, workSubscriptionSettings(limits, options.startFrom), { filter: workSubscriptionFilter(options.streamPrefixes) });
  } catch (error) {
    if (!(error instanceof PersistentSubscriptionExistsError)) throw error;
  }
}

export function createEventStoreDbWorkSource(options: WorkSourceOptions): WorkSource {
  const group = options.group ?? WORK_GROUP_DEFAULT;
  const limits = options.limits ?? WORK_SOURCE_LIMITS_DEFAULT;
  assertLimits(limits);
  const inFlight = new Set<Promise<unknown>>();
  // Holds `later` messages and the resubscribe back-off; stop() ends both at once.
  const pause = createPause();
  let subscription: PersistentSubscriptionToAll | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  let connected = false;
  let parked = 0;
  let lastError: string | null = null;

  async function consumeOnce(): Promise<void> {
    subscription = options.client.subscribeToPersistentSubscriptionToAll(group, { bufferSize: limits.inFlightMax });
    const current = subscription;
    connected = true;
    for await (const message of current) {
      if (stopped) return;
      lastError = null;
      const handled = handleMessage(message, current, options.handler, limits, (ms) => pause.wait(ms)).then((disposition) => {
        if (disposition.action === 'nack' && disposition.nack === PARK) {
          parked += 1;
          options.logger.error({ group, eventId: message.event?.id, stream: message.event?.streamId, reason: disposition.reason }, 'work message parked');
        }
      });
      inFlight.add(handled);
      void handled.finally(() => inFlight.delete(handled));
      // The server sends at most bufferSize unacked messages; this only guards against a server that does not.
      while (inFlight.size >= limits.inFlightMax) await Promise.race(inFlight);
    }
    if (!stopped) throw new Error('EventStoreDB ended the persistent subscription');
  }

  async function loop(): Promise<void> {
    for (let failures = 0; !stopped; ) {
      try {
        await consumeOnce();
      } catch (error) {
        connected = false;
        if (stopped) return;
        failures += 1;
        lastError = String(error);
        options.logger.error({ err: error, group, failures }, 'work subscription dropped; joining the group again');
        await pause.wait(backoffAfterFailuresMs(failures, 100, RESUBSCRIBE_MS_MAX));
      }
    }
  }

  return {
    async start() {
      await ensureWorkGroup(options.client, group, limits, {
        ...(options.streamPrefixes ? { streamPrefixes: options.streamPrefixes } : {}),
        ...(options.startFrom ? { startFrom: options.startFrom } : {}),
      });
      running = loop();
    },
    async stop() {
      stopped = true;
      // A `later` is held at most until now: it is nacked at once and the server redelivers it.
      pause.stop();
      await Promise.allSettled([...inFlight]);
      await subscription?.unsubscribe().catch(() => undefined);
      subscription?.destroy();
      await running;
      connected = false;
    },
    status: () => ({ connected, inFlight: inFlight.size, parked, lastError }),
  };
}

/**
 * The gateway's feeder on EventStoreDB: the consumer group delivers payment
 * events, each applied to its work-queue row in its own transaction. Delivery
 * is at least once and may reorder one stream's events (retries, several
 * consumers), so applying is idempotent (rows only move forward by revision)
 * and an event that arrives before its payment's row exists waits for the
 * PaymentRequested to land first instead of being lost.
 */
export function createPersistentSubscriptionFeeder(options: {
  readonly client: EventStoreDBClient;
  readonly database: Database;
  readonly logger: Logger;
  readonly limits?: WorkSourceLimits;
}): Feeder {
  const fedListeners: Array<() => void> = [];
  const handler: WorkHandler = async (event) => {
    const ids = parsePaymentStreamName(event.streamName);
    if (!ids) return { kind: 'irrelevant' };
    const outcome = await options.database.transaction(async (tx): Promise<HandlerOutcome> => {
      if (event.type !== 'PaymentRequested') {
        const known = await hasWorkFor(tx, ids.tenantId, ids.paymentId);
        if (!known) return { kind: 'later', delayMs: ROW_MISSING_RETRY_MS, reason: `${event.type} arrived before the payment's PaymentRequested` };
      }
      await applyFedEvent(tx, event);
      return { kind: 'handled' };
    });
    if (outcome.kind === 'handled') for (const listener of fedListeners) listener();
    return outcome;
  };
  const source = createEventStoreDbWorkSource({ client: options.client, handler, logger: options.logger, ...(options.limits ? { limits: options.limits } : {}) });
  return {
    start: () => source.start(),
    stop: () => source.stop(),
    // A consumer group has no position of ours: the server keeps its checkpoint.
    position: () => undefined,
    error: () => source.status().lastError ?? undefined,
    onFed: (listener) => void fedListeners.push(listener),
  };
}

/** How long an event waits for its payment's first event to be applied. */
const ROW_MISSING_RETRY_MS = 500;
