/**
 * Reserves a new payment's amount in its tenant's daily total: one stream per
 * tenant, currency and UTC day, appended with the expected revision read before
 * deciding (docs/adr/0015-per-tenant-limits.md). The store's optimistic
 * concurrency is what keeps parallel creates, in any number of API processes,
 * under the limit; the in-process queue only spares one process's requests from
 * losing that race to each other over and over.
 */
import { WrongExpectedVersionError, type EventStore } from '../event-store/port';
import { dailyLimitStreamName, type PaymentId, type TenantId } from '../domain/ids';
import type { PaymentInstruction } from '../domain/payment';
import type { CommandMetadata } from '../domain/principal';
import {
  DAILY_LIMIT_EVENT_SCHEMA_VERSION,
  decideDailyLimit,
  evolveDailyLimit,
  initialDailyLimitState,
  utcDayOf,
  type CurrencyLimits,
  type DailyLimitCommand,
  type DailyLimitEvent,
  type DailyLimitState,
} from '../domain/tenant';
import { toEventData, type NewEventId } from './event-envelope';
import { ConcurrencyExhaustedError } from './errors';

export interface DailyLimitsOptions {
  readonly store: EventStore;
  readonly newEventId: NewEventId;
  /** Lost races with other API processes, re-read and decided again, before a 503. */
  readonly conflictRetryCountMax: number;
  /** Requests of one process waiting for one day's stream before the next is refused with a 503. */
  readonly queueLengthMax: number;
  /** Day streams whose folded state this process keeps (the least recently used go first). Default 256. */
  readonly cachedStreamCountMax?: number;
}

interface FoldedDay {
  readonly state: DailyLimitState;
  readonly revision: number;
}

export interface ReserveInput {
  readonly tenantId: TenantId;
  readonly paymentId: PaymentId;
  readonly instruction: PaymentInstruction;
  readonly payloadSha256: string;
  readonly limits: CurrencyLimits;
}

export function createDailyLimits(options: DailyLimitsOptions) {
  const folded = createFoldCache(options.cachedStreamCountMax ?? 256);
  const queue = createKeyedQueue(options.queueLengthMax);

  /**
   * The day's state, folded from the cached revision on: a stream only grows, so
   * the events up to a revision once read never change. Rationale: a create then
   * reads the reservations written since its process last looked (usually none,
   * or those of other API processes), not the whole day.
   */
  async function load(stream: string): Promise<FoldedDay> {
    const cached = folded.get(stream) ?? { state: initialDailyLimitState, revision: -1 };
    const recorded = await options.store.readStream(stream, { fromRevision: cached.revision + 1 });
    let { state, revision } = cached;
    for (const event of recorded) {
      if (event.type === 'DailyAmountReserved') state = evolveDailyLimit(state, { type: event.type, data: event.data } as unknown as DailyLimitEvent);
      revision = event.revision;
    }
    const day = { state, revision };
    folded.set(stream, day);
    return day;
  }

  /** Read, fold, decide, append with the revision read; a lost race re-reads (bounded). */
  async function handle(stream: string, command: DailyLimitCommand): Promise<void> {
    for (let attempt = 1; attempt <= options.conflictRetryCountMax + 1; attempt += 1) {
      const { state, revision } = await load(stream);
      const events = decideDailyLimit(command, state);
      if (events.length === 0) return;
      const data = events.map((event) => toEventData(event, command.metadata, DAILY_LIMIT_EVENT_SCHEMA_VERSION, options.newEventId));
      try {
        const result = await options.store.appendToStream(stream, data, { expectedRevision: revision === -1 ? 'no_stream' : revision });
        folded.set(stream, { state: events.reduce(evolveDailyLimit, state), revision: result.nextExpectedRevision });
        return;
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError)) throw error;
      }
    }
    throw new ConcurrencyExhaustedError(stream, options.conflictRetryCountMax + 1);
  }

  /** Throws the daily_limit_exceeded refusal, or returns once the amount is durably reserved (or already was). */
  async function reserve(input: ReserveInput, metadata: CommandMetadata): Promise<void> {
    // The day is the command clock's, the same clock the payment's requestedAt is written with.
    const day = utcDayOf(metadata.now);
    const stream = dailyLimitStreamName(input.tenantId, input.instruction.currency, day);
    const command: DailyLimitCommand = {
      type: 'ReserveDailyAmount',
      data: {
        tenantId: input.tenantId,
        currency: input.instruction.currency,
        day,
        paymentId: input.paymentId,
        payloadSha256: input.payloadSha256,
        amountMinor: input.instruction.amountMinor,
        dailyAmountMinorMax: input.limits.dailyAmountMinorMax,
      },
      metadata,
    };
    await queue.run(stream, () => handle(stream, command));
  }

  return { reserve };
}

export type DailyLimits = ReturnType<typeof createDailyLimits>;

/** A bounded map that forgets the least recently used entry first (Map keeps insertion order). */
function createFoldCache(sizeMax: number) {
  const entries = new Map<string, FoldedDay>();
  return {
    get(key: string): FoldedDay | undefined {
      const entry = entries.get(key);
      if (entry) {
        entries.delete(key);
        entries.set(key, entry);
      }
      return entry;
    },
    set(key: string, entry: FoldedDay): void {
      // A slower writer of this process must never move the cache back to an older revision.
      const current = entries.get(key);
      if (current && current.revision > entry.revision) return;
      entries.delete(key);
      entries.set(key, entry);
      if (entries.size > sizeMax) entries.delete(entries.keys().next().value!);
    },
  };
}

/** Runs the tasks of one key one after another; a bounded number may wait. */
function createKeyedQueue(lengthMax: number) {
  const tails = new Map<string, { promise: Promise<unknown>; length: number }>();
  return {
    run<T>(key: string, task: () => Promise<T>): Promise<T> {
      const tail = tails.get(key);
      if (tail && tail.length >= lengthMax) return Promise.reject(new ConcurrencyExhaustedError(key, tail.length));
      const previous = tail?.promise ?? Promise.resolve();
      const result = previous.then(task, task);
      const entry = { promise: result.catch(() => undefined), length: (tail?.length ?? 0) + 1 };
      tails.set(key, entry);
      void entry.promise.then(() => {
        const current = tails.get(key);
        if (current === entry) tails.delete(key);
        else if (current) current.length -= 1;
      });
      return result;
    },
  };
}
