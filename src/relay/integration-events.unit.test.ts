import { paymentStreamName, type PaymentId, type TenantId } from '../domain/ids';
import { PAYMENT_EVENT_TYPES } from '../domain/payment';
import type { RecordedEvent } from '../event-store/port';
import { maskedIban, PAYMENT_INTEGRATION_EVENTS, RELAYED_EVENT_TYPES, tenantFromSubjectToken, tenantSubjectToken, toIntegrationMessage } from './integration-events';

const settings = { subjectPrefix: 'paystream', source: 'urn:paystream:payments' };

function recorded(type: string, data: Record<string, unknown>, overrides: Partial<RecordedEvent> = {}): RecordedEvent {
  return {
    id: '0b6f7c1e-8a47-4c1d-9a3e-6a4f3c2b1a00',
    type,
    data: data as RecordedEvent['data'],
    metadata: { schemaVersion: 1, recordedAt: '2026-12-02T10:00:00.000Z' },
    streamName: paymentStreamName('acme' as TenantId, 'inv-1' as PaymentId),
    revision: 1,
    position: { commit: 10n, prepare: 3n },
    recordedAt: new Date('2026-12-02T10:00:01.000Z'),
    ...overrides,
  };
}

describe('integration events', () => {
  it('given every payment event type, then each has a row with a subject-safe name and a version', () => {
    expect([...RELAYED_EVENT_TYPES].sort()).toEqual([...PAYMENT_EVENT_TYPES].sort());
    for (const row of Object.values(PAYMENT_INTEGRATION_EVENTS)) {
      expect(row.name).toMatch(/^[a-z_]+$/);
      expect(row.version).toBeGreaterThanOrEqual(1);
    }
  });

  it('given a requested payment, when mapped, then it is a CloudEvent with masked IBANs and the command time', () => {
    const message = toIntegrationMessage(
      recorded('PaymentRequested', {
        paymentId: 'inv-1', tenantId: 'acme', amountMinor: 12550, currency: 'EUR',
        debtor: { name: 'Acme Ltd', iban: 'DE89370400440532013000' }, creditor: { name: 'Bob', iban: 'GB82WEST12345698765432' },
        reference: 'Invoice 1', metadata: { order: '42' }, requestedAt: '2026-12-02T10:00:00.000Z',
      }, { revision: 0 }),
      settings,
    )!;
    expect(message.subject).toBe('paystream.acme.payment.requested');
    expect(message.event).toEqual({
      specversion: '1.0',
      id: '0b6f7c1e-8a47-4c1d-9a3e-6a4f3c2b1a00',
      source: 'urn:paystream:payments',
      type: 'com.paystream.payment.requested.v1',
      subject: 'tenants/acme/payments/inv-1',
      time: '2026-12-02T10:00:00.000Z',
      datacontenttype: 'application/json',
      data: {
        tenantId: 'acme', paymentId: 'inv-1', revision: 0, amount: '125.50', amountMinor: 12550, currency: 'EUR',
        debtor: { name: 'Acme Ltd', ibanMasked: '****3000' }, creditor: { name: 'Bob', ibanMasked: '****5432' },
        reference: 'Invoice 1', metadata: { order: '42' }, requestedAt: '2026-12-02T10:00:00.000Z',
      },
    });
  });

  it('given events with staff-only text or keys, when mapped, then the text and keys stay behind and codes go out', () => {
    const rejected = toIntegrationMessage(recorded('PaymentRejected', { reason: 'Konto geschlossen (Herr X)', reasonCode: 'AC04', bankTransferId: 'bt-1', rejectedAt: 't' }), settings)!;
    expect(rejected.event.data).toEqual({ tenantId: 'acme', paymentId: 'inv-1', revision: 1, reasonCode: 'AC04', bankTransferId: 'bt-1', rejectedAt: 't' });
    const started = toIntegrationMessage(recorded('BankSubmissionStarted', { attempt: 1, idempotencyKey: 'secret-key', endToEndId: 'e2e', gatewayId: 'gw', startedAt: 't' }), settings)!;
    expect(JSON.stringify(started)).not.toContain('secret-key');
    const failed = toIntegrationMessage(recorded('BankAttemptFailed', { attempt: 1, error: 'bank said: boom', failedAt: 't' }), settings)!;
    expect(failed.event.data).toMatchObject({ errorCode: 'bank_error' });
    expect(JSON.stringify(failed)).not.toContain('boom');
    const resolved = toIntegrationMessage(recorded('PaymentResolvedByOperator', { outcome: 'settled', bankTransferId: 'bt', reason: 'r', evidence: 'ticket 9', operator: 'alice', resolvedAt: 't' }), settings)!;
    expect(JSON.stringify(resolved)).not.toMatch(/alice|ticket 9/);
  });

  it('given refund events on the payment stream, then they go out as refund events with the refund in the subject and no bank text', () => {
    const requested = toIntegrationMessage(recorded('RefundRequested', { refundId: 'rf-1', amountMinor: 500, currency: 'EUR', reason: 'damaged', metadata: {}, requestedBy: 'key-acme', requestedAt: 't' }, { revision: 3 }), settings)!;
    expect(requested.subject).toBe('paystream.acme.refund.requested');
    expect(requested.event).toMatchObject({
      type: 'com.paystream.refund.requested.v1',
      subject: 'tenants/acme/payments/inv-1/refunds/rf-1',
      data: { tenantId: 'acme', paymentId: 'inv-1', revision: 3, refundId: 'rf-1', amount: '5.00', amountMinor: 500, currency: 'EUR', reason: 'damaged' },
    });
    expect(JSON.stringify(requested)).not.toContain('key-acme');
    const failed = toIntegrationMessage(recorded('RefundFailed', { refundId: 'rf-1', reason: 'Bank: Konto X gesperrt', reasonCode: 'AC06', bankRefundId: null, failedAt: 't' }), settings)!;
    expect(failed.subject).toBe('paystream.acme.refund.failed');
    expect(failed.event.data).toEqual({ tenantId: 'acme', paymentId: 'inv-1', revision: 1, refundId: 'rf-1', reasonCode: 'AC06', bankRefundId: null, failedAt: 't' });
  });

  it('given an event without a command time, then the store time is used', () => {
    const message = toIntegrationMessage(recorded('PaymentSettled', { bankTransferId: 'bt', settledAt: 't' }, { metadata: {} }), settings)!;
    expect(message.event.time).toBe('2026-12-02T10:00:01.000Z');
  });

  it('given a non-payment stream or an unknown type, then there is nothing to publish', () => {
    expect(toIntegrationMessage(recorded('PaymentSettled', {}, { streamName: 'audit-operator-acme:inv-1' }), settings)).toBeUndefined();
    expect(toIntegrationMessage(recorded('SomethingElse', {}), settings)).toBeUndefined();
  });

  it('given a payload newer than this build understands, then mapping throws rather than publishing a guess', () => {
    expect(() => toIntegrationMessage(recorded('PaymentSettled', {}, { metadata: { schemaVersion: 99 } }), settings)).toThrow(/newer/);
  });

  it('given tenant ids with dots and tildes, then subject tokens have neither dots nor collisions, and read back', () => {
    const tenants = ['acme', 'globex.eu', 'a~2Eb', 'a.b', 'x~', '~.~'];
    const tokens = tenants.map(tenantSubjectToken);
    expect(tokens).toEqual(['acme', 'globex~2Eeu', 'a~7E2Eb', 'a~2Eb', 'x~7E', '~7E~2E~7E']);
    expect(new Set(tokens).size).toBe(tenants.length);
    for (const token of tokens) expect(token).not.toMatch(/[.*> ]/);
    expect(tokens.map(tenantFromSubjectToken)).toEqual(tenants);
    expect(toIntegrationMessage(recorded('PaymentSettled', { bankTransferId: 'bt', settledAt: 't' }, { streamName: paymentStreamName('globex.eu' as TenantId, 'p' as PaymentId) }), settings)!.subject).toBe('paystream.globex~2Eeu.payment.settled');
  });

  it('masks an IBAN to its last four characters', () => {
    expect(maskedIban('DE89370400440532013000')).toBe('****3000');
  });
});
