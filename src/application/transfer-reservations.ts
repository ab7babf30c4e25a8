/**
 * One bank transfer settles at most one payment, across tenants, enforced by
 * the store: a reservation stream per bank transfer id, appended with
 * `no_stream` before a payment is settled on it. Both writers of a settlement
 * reserve: the operator desk (bank-confirmed or approved resolutions) and the
 * gateway (the bank's own answer), so an operator can never settle a payment
 * on a transfer the gateway already recorded for another.
 */
import { randomUUID } from 'node:crypto';
import { WrongExpectedVersionError, type EventStore } from '../event-store/port';
import { bankTransferReservationStreamName, type PaymentId, type TenantId } from '../domain/ids';
import type { BankTransferReserved } from '../domain/operator-audit';
import type { CommandMetadata } from '../domain/principal';
import { toEventData, type NewEventId } from './event-envelope';

export type ReservationResult =
  | { readonly kind: 'reserved' }
  /** Another payment holds the transfer. */
  | { readonly kind: 'held-by-another'; readonly tenantId: string; readonly paymentId: string };

export function createTransferReservations(options: { readonly store: EventStore; readonly newEventId?: NewEventId }) {
  const { store } = options;
  const newEventId = options.newEventId ?? randomUUID;

  /** The same payment again (a retried request, a crash before the payment was written) passes. */
  async function reserve(bankTransferId: string, ref: { tenantId: TenantId; paymentId: PaymentId }, metadata: CommandMetadata): Promise<ReservationResult> {
    const stream = bankTransferReservationStreamName(bankTransferId);
    const event: BankTransferReserved = {
      type: 'BankTransferReserved',
      data: { bankTransferId, tenantId: ref.tenantId, paymentId: ref.paymentId, reservedBy: metadata.principal.id, reservedAt: metadata.now.toISOString() },
    };
    try {
      await store.appendToStream(stream, [toEventData(event, metadata, 1, newEventId)], { expectedRevision: 'no_stream' });
      return { kind: 'reserved' };
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError)) throw error;
      const [first] = await store.readStream(stream, { maxCount: 1 });
      const holder = { tenantId: String(first?.data['tenantId']), paymentId: String(first?.data['paymentId']) };
      if (holder.tenantId === ref.tenantId && holder.paymentId === ref.paymentId) return { kind: 'reserved' };
      return { kind: 'held-by-another', ...holder };
    }
  }

  return { reserve };
}

export type TransferReservations = ReturnType<typeof createTransferReservations>;
