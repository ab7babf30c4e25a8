/**
 * Reserves a new payment's amount in its tenant's daily total: one stream per
 * tenant, currency and UTC day, appended with the expected revision read before
 * deciding (docs/adr/0015-per-tenant-limits.md). The store's optimistic
 * concurrency is what keeps parallel creates, in any number of API processes,
 * under the limit; the in-process queue only spares one process's requests from
 * losing that race to each other over and over.
 */
import type { EventStore } from '../event-store/port';
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
import { createCommandHandler } from './command-handler';
import type { NewEventId } from './event-envelope';
import { ConcurrencyExhaustedError } from './errors';

export interface DailyLimitsOptions {
  readonly store: EventStore;
  readonly newEventId: NewEventId;
  /** Lost races with other API processes, re-read and decided again, before a 503. */
  readonly conflictRetryCountMax: number;
  /** Requests of one process waiting for one day's stream before the next is refused with a 503. */
  readonly queueLengthMax: number;
}

export interface ReserveInput {
  readonly tenantId: TenantId;
  readonly paymentId: PaymentId;
  readonly instruction: PaymentInstruction;
  readonly payloadSha256: string;
  readonly limits: CurrencyLimits;
}

export function createDailyLimits(options: DailyLimitsOptions) {
  const handler = createCommandHandler<DailyLimitCommand, DailyLimitEvent, DailyLimitState>(
    options.store,
    {
      decide: decideDailyLimit,
      evolve: evolveDailyLimit,
      initialState: initialDailyLimitState,
      schemaVersion: DAILY_LIMIT_EVENT_SCHEMA_VERSION,
      fromRecorded: (event) => (event.type === 'DailyAmountReserved' ? ({ type: event.type, data: event.data } as unknown as DailyLimitEvent) : undefined),
    },
    { newEventId: options.newEventId, conflictRetryCountMax: options.conflictRetryCountMax },
  );
  const queue = createKeyedQueue(options.queueLengthMax);

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
    await queue.run(stream, () => handler.handle(stream, command));
  }

  return { reserve };
}

export type DailyLimits = ReturnType<typeof createDailyLimits>;

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
