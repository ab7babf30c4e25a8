import { upcastPaymentEvent, type UpcasterTable } from './upcast';

describe('reading old event versions', () => {
  // A made-up history: v1 had `name`, v2 split it, v3 renamed `note` to `reason`.
  const upcasters: UpcasterTable = {
    PaymentCancelled: {
      1: (data) => ({ ...data, cancelledBy: data.by ?? 'unknown' }),
      2: ({ note, ...rest }) => ({ ...rest, reason: note }),
    },
  };

  it('lifts an old payload one version at a time to the current shape', () => {
    const event = upcastPaymentEvent('PaymentCancelled', { by: 'olga', note: 'dup', cancelledAt: 't' }, 1, upcasters, 3);
    expect(event).toEqual({ type: 'PaymentCancelled', data: { by: 'olga', cancelledBy: 'olga', reason: 'dup', cancelledAt: 't' } });
  });

  it('passes current payloads through unchanged', () => {
    const data = { reason: 'dup', cancelledBy: 'olga', cancelledAt: 't' };
    expect(upcastPaymentEvent('PaymentCancelled', data, 1)).toEqual({ type: 'PaymentCancelled', data });
  });

  it('refuses a payload newer than this build, and a missing upcaster', () => {
    expect(() => upcastPaymentEvent('PaymentCancelled', {}, 2)).toThrow(/newer than this build/);
    expect(() => upcastPaymentEvent('PaymentSettled', {}, 1, upcasters, 2)).toThrow(/no upcaster/);
  });

  it('leaves events of other streams to their readers', () => {
    expect(upcastPaymentEvent('PaymentIdConflictRefused', {}, 1)).toBeUndefined();
  });
});
