import type { RecordedEvent } from '../../event-store/port';
import { decodePaymentEvent, type DecodedPaymentEvent } from './payment-events';
import { evolvePaymentRow } from './payments';
import { evolveVolume, type BucketDelta } from './daily-volume';
import { timelineRow } from './payment-timeline';
import { unnestRowSet, type RowSetColumn } from './sql-rows';

let position = 0n;

function recorded(type: string, data: Record<string, unknown>, revision: number, overrides: Partial<RecordedEvent> = {}): RecordedEvent {
  position += 1n;
  return {
    id: `00000000-0000-4000-8000-${position.toString().padStart(12, '0')}`,
    type,
    data: data as RecordedEvent['data'],
    metadata: { principal: { kind: 'client', id: 'client:acme', tenantId: 'acme' }, requestId: 'r1', correlationId: 'c1', causationId: 'r1', recordedAt: `2026-03-0${1 + revision}T10:00:00.000Z`, schemaVersion: 1 },
    streamName: 'payment-acme:p1',
    revision,
    position: { commit: position, prepare: position },
    recordedAt: new Date('2026-03-01T10:00:00Z'),
    ...overrides,
  };
}

const requested = (revision = 0) =>
  recorded('PaymentRequested', {
    paymentId: 'p1', tenantId: 'acme', amountMinor: 12_550, currency: 'EUR',
    debtor: { name: 'Acme Ltd', iban: 'DE89370400440532013000' }, creditor: { name: 'Bob', iban: 'GB82WEST12345698765432' },
    reference: 'Invoice 1', metadata: {}, requestedAt: '2026-03-01T10:00:00.000Z',
  }, revision);

const decode = (event: RecordedEvent) => decodePaymentEvent(event) as DecodedPaymentEvent;

describe('payment events decoding', () => {
  it('when an event is from another stream family, then it is passed over (undefined), not an error', () => {
    expect(decodePaymentEvent(recorded('PaymentIdConflictRefused', {}, 0, { streamName: 'audit-payment-id-conflicts-acme' }))).toBeUndefined();
  });

  it('when a payment event has a schema version newer than this build, then decoding throws (a poison event, never silently skipped)', () => {
    const event = recorded('PaymentCancelled', { reason: 'x', cancelledBy: 'a', cancelledAt: 'b' }, 1, { metadata: { schemaVersion: 99 } });
    expect(() => decodePaymentEvent(event)).toThrow(/newer/);
  });
});

describe('payments row fold', () => {
  it('when a payment is requested then settled, then the row holds the settled status, masked IBANs and the transfer id', () => {
    const row0 = evolvePaymentRow(undefined, decode(requested()));
    const row1 = evolvePaymentRow(row0, decode(recorded('BankSubmissionStarted', { attempt: 1, idempotencyKey: 'k', endToEndId: 'e', gatewayId: 'g', startedAt: 'x' }, 1)));
    const row2 = evolvePaymentRow(row1, decode(recorded('PaymentSettled', { bankTransferId: 'bt-1', settledAt: 'x' }, 2)));
    expect(row2).toMatchObject({ status: 'settled', amountMinor: 12_550, currency: 'EUR', debtorIbanMasked: '****3000', creditorIbanMasked: '****5432', bankTransferId: 'bt-1', attempts: 1, revision: 2 });
    expect(JSON.stringify(row2)).not.toContain('DE89370400440532013000');
    expect(row2.createdAt).toBe('2026-03-01T10:00:00.000Z');
    expect(row2.updatedAt).toBe('2026-03-03T10:00:00.000Z');
  });

  it('when an event at or below the row revision comes again, then the row is unchanged', () => {
    const row0 = evolvePaymentRow(undefined, decode(requested()));
    const cancelled = decode(recorded('PaymentCancelled', { reason: 'dup', cancelledBy: 'a', cancelledAt: 'x' }, 1));
    const row1 = evolvePaymentRow(row0, cancelled);
    expect(evolvePaymentRow(row1, cancelled)).toBe(row1);
    expect(evolvePaymentRow(row1, decode(requested(0)))).toBe(row1);
  });

  it('when an event changes some fields, then it keeps the others, and a null it carries replaces the old value', () => {
    let row = evolvePaymentRow(undefined, decode(requested()));
    row = evolvePaymentRow(row, decode(recorded('BankSubmissionStarted', { attempt: 1, idempotencyKey: 'k', endToEndId: 'e', gatewayId: 'g', startedAt: 'x' }, 1)));
    row = evolvePaymentRow(row, decode(recorded('BankAttemptFailed', { attempt: 1, error: 'bank answered 503', failedAt: 'x' }, 2)));
    row = evolvePaymentRow(row, decode(recorded('PaymentRejected', { reason: 'account closed', bankTransferId: null, rejectedAt: 'x' }, 3)));
    expect(row).toMatchObject({ status: 'rejected', attempts: 1, lastError: 'bank answered 503', reason: 'account closed', bankTransferId: null, reference: 'Invoice 1', revision: 3 });
    expect(row.lastPosition).toMatch(/^\d+\/\d+$/);
  });

  it('when an event arrives for a payment without its PaymentRequested, then the fold throws', () => {
    expect(() => evolvePaymentRow(undefined, decode(recorded('PaymentSettled', { bankTransferId: 'b', settledAt: 'x' }, 3)))).toThrow(/without its PaymentRequested/);
  });
});

describe('daily volume fold', () => {
  it('when a payment moves from requested to settled, then its requested bucket loses it and its settled bucket gains it', () => {
    const deltas = new Map<string, BucketDelta>();
    let state = evolveVolume(undefined, decode(requested()), deltas);
    state = evolveVolume(state, decode(recorded('BankSubmissionStarted', { attempt: 1, idempotencyKey: 'k', endToEndId: 'e', gatewayId: 'g', startedAt: 'x' }, 1)), deltas);
    state = evolveVolume(state, decode(recorded('PaymentSettled', { bankTransferId: 'bt', settledAt: 'x' }, 2)), deltas);
    const byStatus = Object.fromEntries([...deltas.values()].map((delta) => [delta.status, [delta.count, delta.amountMinor]]));
    expect(byStatus).toEqual({ requested: [0, 0n], submitted: [0, 0n], settled: [1, 12_550n] });
    expect(state).toMatchObject({ day: '2026-03-01', status: 'settled' });
  });

  it('when an event keeps the status (a failed attempt), then no bucket moves', () => {
    const deltas = new Map<string, BucketDelta>();
    let state = evolveVolume(undefined, decode(requested()), deltas);
    state = evolveVolume(state, decode(recorded('BankSubmissionStarted', { attempt: 1, idempotencyKey: 'k', endToEndId: 'e', gatewayId: 'g', startedAt: 'x' }, 1)), deltas);
    deltas.clear();
    evolveVolume(state, decode(recorded('BankAttemptFailed', { attempt: 1, error: 'e', failedAt: 'x' }, 2)), deltas);
    expect(deltas.size).toBe(0);
  });
});

describe('timeline row', () => {
  it('when a payment is requested, then its timeline row names the actor, ids and a summary with masked IBANs and the decimal amount', () => {
    const row = timelineRow(decode(requested()));
    expect(row).toMatchObject({ event_type: 'PaymentRequested', actor: 'client:acme', actor_kind: 'client', request_id: 'r1', correlation_id: 'c1', tenant_id: 'acme', payment_id: 'p1' });
    expect(row.summary).toBe('requested 125.50 EUR from Acme Ltd (****3000) to Bob (****5432), reference "Invoice 1"');
  });
});

describe('row sets for multi-row writes', () => {
  const columns: ReadonlyArray<RowSetColumn<{ id: string; amount: number | null }>> = [
    ['id', 'text', (row) => row.id],
    ['amount', 'numeric(38, 0)', (row) => row.amount],
  ];

  it('when rows are given, then there is one typed array parameter per column, in row order, with NULL for missing values', () => {
    const rowSet = unnestRowSet(columns, [{ id: 'a', amount: 1 }, { id: 'b', amount: null }]);
    expect(rowSet.select).toBe('SELECT * FROM unnest($1::text[], $2::numeric(38, 0)[]) AS r(id, amount)');
    expect(rowSet.params).toEqual([['a', 'b'], [1, null]]);
  });

  it('when a column type is not a plain SQL type, then building the row set throws instead of interpolating it', () => {
    expect(() => unnestRowSet([['id', 'text[]); DROP TABLE x; --', (row: { id: string }) => row.id]], [{ id: 'a' }])).toThrow(/not a plain SQL type/);
  });
});

describe('refunds in the read models', () => {
  const settledAndRefunded = () => [
    requested(0),
    recorded('BankSubmissionStarted', { attempt: 1, idempotencyKey: 'k', endToEndId: 'E', gatewayId: 'g', startedAt: '2026-03-01T10:00:00.000Z' }, 1),
    recorded('PaymentSettled', { bankTransferId: 'tr-1', settledAt: '2026-03-01T10:00:01.000Z' }, 2),
    recorded('RefundRequested', { refundId: 'r1', amountMinor: 2_550, currency: 'EUR', reason: null, metadata: {}, requestedBy: 'client:acme', requestedAt: '2026-03-02T10:00:00.000Z' }, 3),
    recorded('RefundSubmissionStarted', { refundId: 'r1', attempt: 1, idempotencyKey: 'rk', endToEndId: 'RE', gatewayId: 'g', startedAt: '2026-03-02T10:00:00.000Z' }, 4),
    recorded('RefundSucceeded', { refundId: 'r1', bankRefundId: 'rf_1', amountMinor: 2_550, currency: 'EUR', succeededAt: '2026-03-02T10:00:01.000Z' }, 5),
  ];

  it('when a refund succeeds, then the payment row shows the refunded amount and stays settled', () => {
    let row: ReturnType<typeof evolvePaymentRow> | undefined;
    for (const event of settledAndRefunded().map(decode)) row = evolvePaymentRow(row, event);
    expect(row).toMatchObject({ status: 'settled', refundedAmountMinor: 2_550, revision: 5 });
  });

  it('when a refund succeeds, then its payment\'s volume bucket counts it apart, and the payment stays counted once', () => {
    const deltas = new Map<string, BucketDelta>();
    let state: ReturnType<typeof evolveVolume> | undefined;
    for (const event of settledAndRefunded().map(decode)) state = evolveVolume(state, event, deltas);
    const buckets = [...deltas.values()].filter((delta) => delta.count !== 0 || delta.refundCount !== 0);
    expect(buckets).toEqual([expect.objectContaining({ status: 'settled', count: 1, amountMinor: 12_550n, refundCount: 1, refundedMinor: 2_550n })]);
  });
});
