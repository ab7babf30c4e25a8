/**
 * A mixed, deterministic workload written through the real payments module (the
 * same decider and command handler the API uses): payments across tenants,
 * currencies and days, taking every path a payment can take. Tests of the read
 * models and of the rebuild run it; nothing here reaches around the domain.
 */
import { createPaymentsModule, type PaymentsModule } from '../../application/payments';
import type { EventStore, GlobalPosition } from '../../event-store/port';
import type { PaymentId, TenantId } from '../../domain/ids';
import type { CurrencyCode } from '../../domain/money';
import type { PaymentCommand } from '../../domain/payment';
import type { CommandMetadata, Principal } from '../../domain/principal';

const CLIENT = (tenantId: string): Principal => ({ kind: 'client', id: `client:${tenantId}`, tenantId: tenantId as TenantId });
const GATEWAY: Principal = { kind: 'system', id: 'gateway:test-1' };
const OPERATOR: Principal = { kind: 'staff', id: 'operator:olga', role: 'operator' };

export type PaymentPath = 'requested' | 'cancelled' | 'settled' | 'rejected' | 'retried-then-settled' | 'unknown' | 'resolved-settled' | 'resolved-rejected' | 'operator-retry';

export const PAYMENT_PATHS: readonly PaymentPath[] = ['requested', 'cancelled', 'settled', 'rejected', 'retried-then-settled', 'unknown', 'resolved-settled', 'resolved-rejected', 'operator-retry'];

export interface WorkloadPayment {
  readonly tenantId: TenantId;
  readonly paymentId: PaymentId;
  readonly path: PaymentPath;
  readonly amountMinor: number;
  readonly currency: CurrencyCode;
  readonly createdAt: Date;
}

export interface WorkloadOptions {
  readonly paymentCount: number;
  readonly tenants?: readonly string[];
  readonly currencies?: readonly string[];
  /** First day of creation; payments spread over `dayCount` UTC days. */
  readonly firstDay?: string;
  readonly dayCount?: number;
  readonly seed?: number;
  readonly idPrefix?: string;
}

/** A small deterministic generator (mulberry32): the same seed, the same workload. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

let requestCounter = 0;

function metadata(principal: Principal, now: Date): CommandMetadata {
  requestCounter += 1;
  const requestId = `req-${requestCounter.toString().padStart(8, '0')}`;
  return { now, principal, requestId, correlationId: `corr-${requestId}`, causationId: requestId };
}

export interface WorkloadResult {
  readonly payments: readonly WorkloadPayment[];
  /** Position of the last event written, for waits. */
  readonly lastPosition: GlobalPosition | undefined;
}

export async function runMixedWorkload(store: EventStore, options: WorkloadOptions): Promise<WorkloadResult> {
  const module = createPaymentsModule({ store });
  const random = seededRandom(options.seed ?? 42);
  const tenants = options.tenants ?? ['acme', 'globex', 'initech'];
  const currencies = options.currencies ?? ['EUR', 'GBP', 'JPY', 'BHD'];
  const firstDay = Date.parse(`${options.firstDay ?? '2026-03-01'}T00:00:00Z`);
  const payments: WorkloadPayment[] = [];
  let lastPosition: GlobalPosition | undefined;
  for (let index = 0; index < options.paymentCount; index += 1) {
    const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
    const createdAt = new Date(firstDay + Math.floor(random() * (options.dayCount ?? 5)) * 86_400_000 + Math.floor(random() * 86_000_000));
    const payment: WorkloadPayment = {
      tenantId: pick(tenants) as TenantId,
      paymentId: `${options.idPrefix ?? 'pay'}-${index.toString().padStart(5, '0')}` as PaymentId,
      path: PAYMENT_PATHS[index % PAYMENT_PATHS.length]!,
      amountMinor: 1 + Math.floor(random() * 5_000_000),
      currency: pick(currencies) as CurrencyCode,
      createdAt,
    };
    lastPosition = (await writePayment(module, payment)) ?? lastPosition;
    payments.push(payment);
  }
  return { payments, lastPosition };
}

/** Writes one payment's whole life; returns the position of its last event. */
export async function writePayment(module: PaymentsModule, payment: WorkloadPayment): Promise<GlobalPosition | undefined> {
  const { tenantId, paymentId, createdAt } = payment;
  let minute = 0;
  const at = () => new Date(createdAt.getTime() + 60_000 * minute++);
  const created = await module.requestPayment(
    {
      tenantId,
      paymentId,
      createOnly: false,
      instruction: {
        amountMinor: payment.amountMinor,
        currency: payment.currency,
        debtor: { name: `Debtor of ${tenantId}`, iban: 'DE89370400440532013000' },
        creditor: { name: 'Bob Supplier', iban: 'GB82WEST12345698765432' },
        reference: `Invoice ${paymentId}`,
        metadata: {},
      },
    },
    metadata(CLIENT(tenantId), at()),
  );
  let position = created.position;
  const run = async (principal: Principal, command: Omit<PaymentCommand, 'metadata'>) => {
    const result = await module.execute(tenantId, paymentId, { ...command, metadata: metadata(principal, at()) } as PaymentCommand);
    position = result.position ?? position;
  };
  for (const step of stepsOf(payment)) await run(step.principal, step.command);
  return position;
}

interface Step {
  readonly principal: Principal;
  readonly command: Omit<PaymentCommand, 'metadata'>;
}

function stepsOf(payment: WorkloadPayment): Step[] {
  const key = { idempotencyKey: `key-${payment.tenantId}-${payment.paymentId}`, endToEndId: `e2e-${payment.paymentId}`, gatewayId: 'gw-1' };
  const submit: Step = { principal: GATEWAY, command: { type: 'StartBankSubmission', data: key } };
  const settle: Step = { principal: GATEWAY, command: { type: 'SettlePayment', data: { bankTransferId: `bt-${payment.paymentId}` } } };
  const park: Step = { principal: GATEWAY, command: { type: 'ParkWithUnknownOutcome', data: { lastError: 'timeout after 3 attempts', errorCode: 'bank_timeout' } } };
  const fail = (attempt: number): Step => ({ principal: GATEWAY, command: { type: 'RecordBankAttemptFailure', data: { attempt, error: 'bank answered 503', errorCode: 'bank_unavailable' } } });
  const resolve = (outcome: 'settled' | 'rejected'): Step => ({
    principal: OPERATOR,
    command: { type: 'ResolveManually', data: { outcome, bankTransferId: outcome === 'settled' ? `bt-op-${payment.paymentId}` : null, reason: 'confirmed by phone', evidence: 'ticket 123' } },
  });
  switch (payment.path) {
    case 'requested':
      return [];
    case 'cancelled':
      return [{ principal: CLIENT(payment.tenantId), command: { type: 'CancelPayment', data: { reason: 'duplicate order' } } }];
    case 'settled':
      return [submit, settle];
    case 'rejected':
      return [submit, { principal: GATEWAY, command: { type: 'RejectPayment', data: { reason: 'account closed', reasonCode: 'AC04', bankTransferId: `bt-${payment.paymentId}` } } }];
    case 'retried-then-settled':
      return [submit, fail(1), submit, settle];
    case 'unknown':
      return [submit, fail(1), park];
    case 'resolved-settled':
      return [submit, park, resolve('settled')];
    case 'resolved-rejected':
      return [submit, park, resolve('rejected')];
    case 'operator-retry':
      return [submit, park, { principal: OPERATOR, command: { type: 'RequestOperatorRetry', data: { reason: 'bank says retry', replayWindowMs: 7 * 24 * 3600 * 1000 } } }, submit, settle];
  }
}

/** The status each path ends in. */
export const FINAL_STATUS: Record<PaymentPath, string> = {
  requested: 'requested',
  cancelled: 'cancelled',
  settled: 'settled',
  rejected: 'rejected',
  'retried-then-settled': 'settled',
  unknown: 'unknown',
  'resolved-settled': 'settled',
  'resolved-rejected': 'rejected',
  'operator-retry': 'settled',
};
