import { csvCell, csvLine } from './csv';
import { encodeCursor, parsePaymentsQuery, parseVolumeQuery } from './filters';

describe('CSV cells', () => {
  it('when a cell holds a comma, quote or line break, then it is quoted with quotes doubled', () => {
    expect(csvLine(['a,b', 'say "hi"', 'two\nlines', null, 3])).toBe('"a,b","say ""hi""","two\nlines",,3\r\n');
  });

  it('when a text cell starts like a spreadsheet formula, then it is defused with an apostrophe; numbers are left alone', () => {
    expect(csvCell('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('-12.50')).toBe('-12.50');
    expect(csvCell(-3)).toBe('-3');
  });

  it('when a cell starts with a minus and a digit but is not a plain number, then it is defused too', () => {
    expect(csvCell('-1+1')).toBe("'-1+1");
    expect(csvCell("-2+3+cmd|' /C calc'!A0")).toBe(`'-2+3+cmd|' /C calc'!A0`);
    expect(csvCell('-1.5e3')).toBe("'-1.5e3");
    expect(csvCell('+1')).toBe("'+1");
    expect(csvCell('\t=1')).toBe("'\t=1");
    expect(csvCell('\r=1')).toBe(`"'\r=1"`);
  });
});

describe('payment filters', () => {
  it('when amounts are given in a currency, then they become exact minor units of it', () => {
    const filter = parsePaymentsQuery({ currency: 'BHD', minAmount: '1.5', maxAmount: '2.125' });
    expect([filter.minAmountMinor, filter.maxAmountMinor]).toEqual([1500n, 2125n]);
  });

  it('when an amount is given without a currency and the range is reversed, then both are listed', () => {
    expect(() => parsePaymentsQuery({ minAmount: '5', createdFrom: '2026-03-02', createdTo: '2026-03-01' })).toThrow(
      expect.objectContaining({ extensions: { errors: [{ pointer: '#/query/minAmount', detail: expect.stringMatching(/needs `currency`/) }, { pointer: '#/query/createdTo', detail: 'must be after createdFrom' }] } }),
    );
  });

  it('when a parameter is repeated, then it is refused rather than one value picked', () => {
    expect(() => parsePaymentsQuery({ status: ['settled', 'rejected'] })).toThrow(expect.objectContaining({ status: 400 }));
  });

  it('when a cursor given out is sent back, then it decodes to the same key', () => {
    const cursor = { createdAt: '2026-03-01T10:00:00.000Z', tenantId: 'acme', paymentId: 'p-1' };
    expect(parsePaymentsQuery({ cursor: encodeCursor(cursor) }).cursor).toEqual(cursor);
  });
});

describe('volume filters', () => {
  it('when no range is given, then it is the 31 days up to today, grouped by day', () => {
    expect(parseVolumeQuery({}, '2026-03-31')).toMatchObject({ from: '2026-03-01', to: '2026-03-31', groupBy: ['day'] });
  });

  it('when the range exceeds the bound, then it is refused', () => {
    expect(() => parseVolumeQuery({ from: '2024-01-01', to: '2026-01-01' }, '2026-03-31')).toThrow(expect.objectContaining({ status: 400 }));
  });
});
