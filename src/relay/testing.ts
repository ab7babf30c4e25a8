/**
 * A payment workload for the relay's tests: real payments through the payments
 * module (so the events are what the API and gateway write), each with a life
 * of several events, some on a tenant whose id needs escaping in a subject.
 */
import { randomUUID } from 'node:crypto';
import { createPaymentsModule } from '../application/payments';
import type { PaymentId, TenantId } from '../domain/ids';
import type { CurrencyCode } from '../domain/money';
import type { CommandMetadata } from '../domain/principal';
import type { EventStore } from '../event-store/port';

export const WORKLOAD_TENANTS = ['acme', 'globex.eu'] as const;

const metadata = (tenantId: string): CommandMetadata => {
  const requestId = randomUUID();
  return { now: new Date(), principal: { kind: 'client', id: `key-${tenantId}`, tenantId: tenantId as TenantId }, requestId, correlationId: requestId, causationId: requestId };
};
const gatewayMetadata = (): CommandMetadata => {
  const requestId = randomUUID();
  return { now: new Date(), principal: { kind: 'system', id: 'gateway-test' }, requestId, correlationId: requestId, causationId: requestId };
};

/** Writes one payment's life: requested, submitted, then settled, rejected or cancelled (by `index`). Returns its event count. */
export async function writePaymentLife(store: EventStore, tenant: string, paymentId: string, index: number): Promise<number> {
  const payments = createPaymentsModule({ store });
  const tenantId = tenant as TenantId;
  const id = paymentId as PaymentId;
  await payments.requestPayment(
    {
      tenantId,
      paymentId: id,
      createOnly: false,
      instruction: {
        amountMinor: 1_000 + index,
        currency: 'EUR' as CurrencyCode,
        debtor: { name: 'Acme Ltd', iban: 'DE89370400440532013000' },
        creditor: { name: 'Bob', iban: 'GB82WEST12345698765432' },
        reference: `inv-${index}`,
        metadata: {},
      },
    },
    metadata(tenant),
  );
  if (index % 5 === 4) {
    await payments.execute(tenantId, id, { type: 'CancelPayment', data: { reason: 'changed my mind' }, metadata: metadata(tenant) });
    return 2;
  }
  await payments.execute(tenantId, id, { type: 'StartBankSubmission', data: { idempotencyKey: `key-${paymentId}`, endToEndId: `e2e-${index}`, gatewayId: 'gw-test' }, metadata: gatewayMetadata() });
  if (index % 5 === 3) {
    await payments.execute(tenantId, id, { type: 'RejectPayment', data: { reason: 'account closed', reasonCode: 'AC04', bankTransferId: null }, metadata: gatewayMetadata() });
  } else {
    await payments.execute(tenantId, id, { type: 'SettlePayment', data: { bankTransferId: `bt-${paymentId}` }, metadata: gatewayMetadata() });
  }
  return 3;
}

/** `count` payments, alternating tenants, `concurrency` at a time. Returns the number of events written. */
export async function writeWorkload(store: EventStore, prefix: string, count: number, concurrency = 4): Promise<number> {
  let next = 0;
  let events = 0;
  const worker = async () => {
    for (let index = next++; index < count; index = next++) {
      // Not `events += await …`: that reads `events` before the await and loses the other workers' counts.
      const written = await writePaymentLife(store, WORKLOAD_TENANTS[index % WORKLOAD_TENANTS.length]!, `${prefix}-${index}`, index);
      events += written;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return events;
}
