import { isPaymentId, parsePaymentStreamName, paymentStreamName, type PaymentId, type TenantId } from './ids';

describe('payment ids and stream names', () => {
  it.each(['a', 'INV-2026.03_01~x', 'x'.repeat(64)])('accepts %s', (id) => expect(isPaymentId(id)).toBe(true));
  it.each(['', 'x'.repeat(65), 'a b', 'a/b', 'a:b', 'é', 'a%20'])('refuses %j', (id) => expect(isPaymentId(id)).toBe(false));

  it('names one stream per tenant and id, and reads it back', () => {
    const name = paymentStreamName('acme' as TenantId, 'INV-1' as PaymentId);
    expect(name).toBe('payment-acme:INV-1');
    expect(parsePaymentStreamName(name)).toEqual({ tenantId: 'acme', paymentId: 'INV-1' });
  });

  it('never lets two tenants share a stream', () => {
    expect(paymentStreamName('acme' as TenantId, 'p' as PaymentId)).not.toBe(paymentStreamName('globex' as TenantId, 'p' as PaymentId));
  });

  it('ignores streams that are not payments', () => {
    expect(parsePaymentStreamName('audit-payment-id-conflicts-acme')).toBeUndefined();
  });
});
