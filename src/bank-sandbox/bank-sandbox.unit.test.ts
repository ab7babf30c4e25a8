import { isValidIBAN } from 'ibantools';
import { readBankSandboxConfig } from './config';
import { seededDice } from './faults';
import { MAGIC_CREDITOR_IBANS, decideTransfer } from './magic-ibans';
import { TransferRequestBody, requestFingerprint } from './wire';

describe('sandbox bank, pure parts', () => {
  it('every magic IBAN is a valid IBAN and decides a rejection with its reason; any other IBAN is accepted', () => {
    for (const { iban, reason } of Object.values(MAGIC_CREDITOR_IBANS)) {
      expect(isValidIBAN(iban)).toBe(true);
      expect(decideTransfer(iban)).toEqual({ status: 'rejected', rejectionReason: reason });
    }
    expect(MAGIC_CREDITOR_IBANS.accountClosed.iban).toBe('DE02100100109307118603');
    expect(decideTransfer('GB82WEST12345698765432')).toEqual({ status: 'accepted' });
  });

  it('the fingerprint ignores key order and tells different requests apart', () => {
    const body = TransferRequestBody.parse({ amountMinor: 1, currency: 'EUR', debtor: { name: 'A', iban: 'DE89370400440532013000' }, creditor: { name: 'B', iban: 'GB82WEST12345698765432' }, endToEndId: 'E1' });
    const reordered = TransferRequestBody.parse({ endToEndId: 'E1', creditor: { iban: 'GB82WEST12345698765432', name: 'B' }, debtor: { iban: 'DE89370400440532013000', name: 'A' }, currency: 'EUR', amountMinor: 1 });
    expect(requestFingerprint(reordered)).toBe(requestFingerprint(body));
    expect(requestFingerprint({ ...body, amountMinor: 2 })).not.toBe(requestFingerprint(body));
    expect(requestFingerprint({ ...body, remittanceInformation: '' })).not.toBe(requestFingerprint(body));
  });

  it('the same seed strikes the same rolls; rates 0 and 1 never roll', () => {
    const rolls = (seed: number) => {
      const dice = seededDice(seed);
      return Array.from({ length: 32 }, (_, index) => (index % 4 === 0 ? dice.strikes(1) && !dice.strikes(0) : dice.strikes(0.5)));
    };
    expect(rolls(9)).toEqual(rolls(9));
    expect(rolls(9)).not.toEqual(rolls(10));
    expect(rolls(9).filter(Boolean).length).toBeGreaterThan(8);
  });

  it('the configuration has working defaults and names each wrong variable', () => {
    const problems: string[] = [];
    const config = readBankSandboxConfig({}, problems);
    expect(problems).toEqual([]);
    expect(config).toMatchObject({ port: 4010, apiKey: 'sandbox-key', idempotencyTtlMs: 86_400_000, outage: false, errorBeforeRate: 0, dataDir: './data', host: '127.0.0.1' });
    readBankSandboxConfig({ BANK_SANDBOX_ERROR_AFTER_RATE: '1.5', BANK_SANDBOX_OUTAGE: 'yes', BANK_SANDBOX_LATENCY_MS: '-1' }, problems);
    expect(problems.map((problem) => problem.split(':')[0])).toEqual(['BANK_SANDBOX_LATENCY_MS', 'BANK_SANDBOX_ERROR_AFTER_RATE', 'BANK_SANDBOX_OUTAGE']);
  });
});
