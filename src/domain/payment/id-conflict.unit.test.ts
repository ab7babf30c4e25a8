import type { PaymentId, RefundId, TenantId } from '../ids';
import type { Principal } from '../principal';
import { paymentIdConflictRefused, refundIdConflictRefused } from './id-conflict';

describe('a refused payment id reuse', () => {
  it('when a client reuses an id with other details, then the audit event says who, when, what was sent and which fields differ', () => {
    const principal: Principal = { kind: 'client', id: 'key-acme', tenantId: 'acme' as TenantId };
    const event = paymentIdConflictRefused(
      { tenantId: 'acme' as TenantId, paymentId: 'inv-1' as PaymentId, payloadSha256: 'a'.repeat(64), differingFields: ['amountMinor', 'creditor.iban'] },
      { now: new Date('2026-03-01T10:00:00Z'), principal },
    );
    expect(event).toEqual({
      type: 'PaymentIdConflictRefused',
      data: { tenantId: 'acme', paymentId: 'inv-1', attemptedBy: 'key-acme', attemptedAt: '2026-03-01T10:00:00.000Z', payloadSha256: 'a'.repeat(64), differingFields: ['amountMinor', 'creditor.iban'] },
    });
  });

  it('when a client reuses a refund id with other details, then the audit event names the refund and the differing fields', () => {
    const principal: Principal = { kind: 'client', id: 'key-acme', tenantId: 'acme' as TenantId };
    const event = refundIdConflictRefused(
      { tenantId: 'acme' as TenantId, paymentId: 'inv-1' as PaymentId, refundId: 'rf-1' as RefundId, differingFields: ['amountMinor'] },
      { now: new Date('2026-03-01T10:00:00Z'), principal },
    );
    expect(event).toEqual({
      type: 'RefundIdConflictRefused',
      data: { tenantId: 'acme', paymentId: 'inv-1', refundId: 'rf-1', attemptedBy: 'key-acme', attemptedAt: '2026-03-01T10:00:00.000Z', differingFields: ['amountMinor'] },
    });
  });
});
