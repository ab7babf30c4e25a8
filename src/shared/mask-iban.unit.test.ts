import { maskIban } from './mask-iban';

describe('maskIban', () => {
  it('when given an IBAN, then only its last four characters are left', () => {
    expect(maskIban('DE89370400440532013000')).toBe('****3000');
  });

  it('when given something too short or not a string, then nothing of it is shown', () => {
    expect(maskIban('DE89')).toBe('****');
    expect(maskIban(undefined)).toBe('****');
    expect(maskIban(12345678)).toBe('****');
  });
});
