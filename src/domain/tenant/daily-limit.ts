/**
 * A tenant's daily total in one currency on one UTC day, as a stream of
 * reservations. Each new payment reserves its amount here, with the stream's
 * expected revision, before the payment itself is written; so the sum of the
 * reservations never passes the limit, however many creates race.
 * Pure: the day, the time and the limit arrive in the command.
 */
import { DomainError, assertNever } from '../errors';
import type { PaymentId, TenantId } from '../ids';
import type { CurrencyCode } from '../money';
import type { CommandMetadata } from '../principal';
import { formatIn } from './policy';

export const DAILY_LIMIT_EVENT_SCHEMA_VERSION = 1;

export interface ReserveDailyAmount {
  readonly type: 'ReserveDailyAmount';
  readonly data: {
    readonly tenantId: TenantId;
    readonly currency: CurrencyCode;
    /** YYYY-MM-DD, the UTC day of the command's clock. */
    readonly day: string;
    readonly paymentId: PaymentId;
    /** Fingerprint of the instruction: the same request retried reserves once. */
    readonly payloadSha256: string;
    readonly amountMinor: number;
    readonly dailyAmountMinorMax: number;
  };
  readonly metadata: CommandMetadata;
}

export type DailyLimitCommand = ReserveDailyAmount;

export interface DailyAmountReserved {
  readonly type: 'DailyAmountReserved';
  readonly data: {
    readonly tenantId: TenantId;
    readonly currency: CurrencyCode;
    readonly day: string;
    readonly paymentId: PaymentId;
    readonly payloadSha256: string;
    readonly amountMinor: number;
    /** The day's total after this reservation, and the limit it was checked against: the stream audits itself. */
    readonly reservedMinorAfter: number;
    readonly dailyAmountMinorMax: number;
    readonly reservedAt: string;
  };
}

export type DailyLimitEvent = DailyAmountReserved;

/**
 * Reservation keys as a list that shares its tail: evolve stays pure and O(1),
 * and one decision walks it once (the same order of work as reading the stream).
 */
interface ReservationKeys {
  readonly key: string;
  readonly rest: ReservationKeys | null;
}

export interface DailyLimitState {
  readonly reservedMinor: number;
  readonly reservations: ReservationKeys | null;
}

export const initialDailyLimitState: DailyLimitState = { reservedMinor: 0, reservations: null };

const reservationKey = (paymentId: string, payloadSha256: string) => `${paymentId}\u0000${payloadSha256}`;

function hasReservation(state: DailyLimitState, key: string): boolean {
  for (let node = state.reservations; node; node = node.rest) if (node.key === key) return true;
  return false;
}

export function decideDailyLimit(command: DailyLimitCommand, state: DailyLimitState): DailyLimitEvent[] {
  switch (command.type) {
    case 'ReserveDailyAmount':
      return reserve(command, state);
    default:
      return assertNever(command.type, 'daily limit command');
  }
}

function reserve(command: ReserveDailyAmount, state: DailyLimitState): DailyLimitEvent[] {
  const { tenantId, currency, day, paymentId, payloadSha256, amountMinor, dailyAmountMinorMax } = command.data;
  // A retry of the same request (after a crash, or racing itself) is already counted.
  if (hasReservation(state, reservationKey(paymentId, payloadSha256))) return [];
  const reservedMinorAfter = state.reservedMinor + amountMinor;
  if (reservedMinorAfter > dailyAmountMinorMax) {
    const remainingMinor = Math.max(0, dailyAmountMinorMax - state.reservedMinor);
    throw new DomainError('unprocessable', 'daily_limit_exceeded', `this payment would take your tenant's ${currency} total for ${day} (UTC) past its daily limit; ${formatIn(currency, remainingMinor)} ${currency} remain`, {
      limit: 'dailyAmountMax',
      currency,
      day,
      limitAmount: formatIn(currency, dailyAmountMinorMax),
      usedAmount: formatIn(currency, state.reservedMinor),
      remainingAmount: formatIn(currency, remainingMinor),
      requestedAmount: formatIn(currency, amountMinor),
    });
  }
  return [{ type: 'DailyAmountReserved', data: { tenantId, currency, day, paymentId, payloadSha256, amountMinor, reservedMinorAfter, dailyAmountMinorMax, reservedAt: command.metadata.now.toISOString() } }];
}

export function evolveDailyLimit(state: DailyLimitState, event: DailyLimitEvent): DailyLimitState {
  switch (event.type) {
    case 'DailyAmountReserved':
      return {
        reservedMinor: state.reservedMinor + event.data.amountMinor,
        reservations: { key: reservationKey(event.data.paymentId, event.data.payloadSha256), rest: state.reservations },
      };
    default:
      return assertNever(event.type, 'daily limit event');
  }
}

/** The UTC day of the event clock: the day a reservation counts against. */
export function utcDayOf(now: Date): string {
  return now.toISOString().slice(0, 10);
}
