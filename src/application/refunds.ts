/**
 * Client refunds: the use cases behind PUT and GET /payments/{id}/refunds.
 * A refund is a command on the payment's own stream, so the handler's four
 * steps (read, fold, decide, append with the revision read) are what keep the
 * sum of refunds within the settled amount when many race.
 */
import { countTransitions } from '../observability/business';
import { randomUUID } from 'node:crypto';
import { DomainError } from '../domain/errors';
import { paymentStreamName, refundIdConflictAuditStreamName, type PaymentId, type RefundId, type TenantId } from '../domain/ids';
import type { CommandMetadata } from '../domain/principal';
import { findRefund, refundIdConflictRefused, type ExistingPaymentState, type RefundState } from '../domain/payment';
import type { EventStore, GlobalPosition } from '../event-store/port';
import { createCommandHandler } from './command-handler';
import { toEventData, type NewEventId } from './event-envelope';
import { paymentDecider } from './payments';

/**
 * Lost races one refund request may retry. Rationale: every racer that wins
 * once never writes again for that request, so with N refunds racing on one
 * payment a request loses at most N-1 times; 32 covers the 20-way race the
 * tests run with room to spare, and is still a bound.
 */
export const REFUND_CONFLICT_RETRY_COUNT_MAX = 32;

export interface RefundsModuleOptions {
  readonly store: EventStore;
  readonly amountMajorMax: number;
  readonly newEventId?: NewEventId;
}

export interface RequestRefundInput {
  readonly tenantId: TenantId;
  readonly paymentId: PaymentId;
  readonly refundId: RefundId;
  readonly amount: string;
  readonly currency: string | null;
  readonly reason: string | null;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface RefundOutcome {
  readonly created: boolean;
  readonly payment: ExistingPaymentState;
  readonly refund: RefundState;
  readonly revision: number;
  readonly position: GlobalPosition | undefined;
}

export function createRefundsModule(options: RefundsModuleOptions) {
  const newEventId = options.newEventId ?? randomUUID;
  const handler = createCommandHandler(options.store, paymentDecider, { newEventId, conflictRetryCountMax: REFUND_CONFLICT_RETRY_COUNT_MAX });

  async function requestRefund(input: RequestRefundInput, metadata: CommandMetadata): Promise<RefundOutcome> {
    const { tenantId, paymentId, refundId, amount, currency, reason } = input;
    try {
      const result = await handler.handle(paymentStreamName(tenantId, paymentId), {
        type: 'RequestRefund',
        data: { refundId, amount, currency, reason, metadata: input.metadata, amountMajorMax: options.amountMajorMax },
        metadata,
      });
      countTransitions(result.appended);
      if (result.state.status === 'none') throw new Error('a handled refund left no payment');
      const refund = findRefund(result.state, refundId);
      if (!refund) throw new Error(`refund ${refundId} missing after it was handled`);
      return { created: result.appended.length > 0, payment: result.state, refund, revision: result.revision, position: result.position };
    } catch (error) {
      if (error instanceof DomainError && error.code === 'refund_id_conflict') await auditIdConflict(input, metadata, error);
      throw error;
    }
  }

  /** A refused reuse of a refund id is kept: who tried what, when. */
  async function auditIdConflict(input: RequestRefundInput, metadata: CommandMetadata, error: DomainError): Promise<void> {
    const differingFields = (error.details['differingFields'] as string[] | undefined) ?? [];
    const event = refundIdConflictRefused({ tenantId: input.tenantId, paymentId: input.paymentId, refundId: input.refundId, differingFields }, metadata);
    await options.store.appendToStream(refundIdConflictAuditStreamName(input.tenantId), [toEventData(event, metadata, 1, newEventId)], { expectedRevision: 'any' });
  }

  /** The payment with its refunds, or undefined: another tenant's payment is simply not there. */
  async function getPaymentWithRefunds(tenantId: TenantId, paymentId: PaymentId) {
    const loaded = await handler.load(paymentStreamName(tenantId, paymentId));
    if (loaded.state.status === 'none') return undefined;
    return { payment: loaded.state, revision: loaded.revision, position: loaded.position };
  }

  return { requestRefund, getPaymentWithRefunds };
}

export type RefundsModule = ReturnType<typeof createRefundsModule>;
