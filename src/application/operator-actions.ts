/**
 * The operator's desk as use cases: look a payment up at the bank, retry it,
 * resolve it. Nothing an operator claims is recorded on their word alone: the
 * bank confirms it, or it becomes a proposal a second person approves.
 * Refused attempts are recorded on the payment's operator audit stream.
 */
import { randomUUID } from 'node:crypto';
import { comparePositions, type EventStore } from '../event-store/port';
import { DomainError } from '../domain/errors';
import { operatorAuditStreamName, paymentStreamName, type PaymentId, type TenantId } from '../domain/ids';
import type { EvidenceMismatch, OperatorActionName, OperatorActionRefused } from '../domain/operator-audit';
import type { CommandMetadata } from '../domain/principal';
import type { ApprovalAction } from '../domain/approval';
import type { BankLookupRecord, ExistingPaymentState } from '../domain/payment';
import { createApprovalsModule, type ApprovedAction, type ExecutionResult } from './approvals';
import { checkClaimAtBank, instructedTransferOf, lookupRecord, type BankLedger, type BankLookupAnswer, type TransferDetailsAnswer } from './bank-evidence';
import { BankEvidenceMismatchError, BankTransferAlreadyUsedError } from './errors';
import { createTransferReservations } from './transfer-reservations';
import { envelopeOf, toEventData, type NewEventId } from './event-envelope';
import type { PaymentsModule } from './payments';

export interface OperatorActionsOptions {
  readonly store: EventStore;
  readonly payments: PaymentsModule;
  readonly bank: BankLedger;
  readonly replayWindowMs: number;
  readonly approvalTtlMs: number;
  readonly newEventId?: NewEventId;
  readonly newApprovalId?: () => string;
}

export interface PaymentRef {
  readonly tenantId: TenantId;
  readonly paymentId: PaymentId;
}

export interface ResolveInput extends PaymentRef {
  readonly outcome: 'settled' | 'rejected';
  readonly bankTransferId: string | null;
  readonly reason: string;
  readonly evidence: string;
  /** Set when a retried request must create the same proposal. */
  readonly approvalId?: string;
}

type Parked = Extract<ExistingPaymentState, { status: 'unknown' }>;

/** Events of each stream shown in an audit trail at most. */
export const AUDIT_TRAIL_EVENTS_MAX = 1_000;

export function createOperatorActions(options: OperatorActionsOptions) {
  const { store, payments, bank } = options;
  const newEventId = options.newEventId ?? randomUUID;
  const reservations = createTransferReservations({ store, newEventId });
  const approvals = createApprovalsModule({
    store,
    approvalTtlMs: options.approvalTtlMs,
    execute: executeApproved,
    auditRefusal: async (action, approvalId, decision, error, metadata) => {
      const target = actionTarget(action);
      await auditRefusal(target, { action: decision, problem: error.code, detail: error.message, claim: {}, approvalId }, metadata);
    },
    ...(options.newEventId ? { newEventId: options.newEventId } : {}),
    ...(options.newApprovalId ? { newApprovalId: options.newApprovalId } : {}),
  });

  async function existing(ref: PaymentRef) {
    const found = await payments.getPayment(ref.tenantId, ref.paymentId);
    if (!found) throw new DomainError('not_found', 'payment_not_found', `no payment ${ref.paymentId} for tenant ${ref.tenantId}`);
    return found;
  }

  /** What the bank holds for the payment's reference, for the operator's "look up" button; writes nothing. */
  async function lookUp(ref: PaymentRef, now: Date) {
    const found = await existing(ref);
    if (!found.state.bank) return { payment: found, lookup: undefined, transfer: undefined };
    const answer = await bank.findTransfer(instructedTransferOf({ instruction: found.state.instruction, bank: found.state.bank }));
    const transfer: TransferDetailsAnswer | undefined = answer.kind === 'accepted' || answer.kind === 'rejected' ? await bank.findTransferById(answer.bankTransferId) : undefined;
    return { payment: found, lookup: lookupRecord(answer, now), transfer: transfer?.kind === 'found' ? transfer.transfer : undefined };
  }

  /**
   * Looks first, then acts: a transfer the bank holds for the reference is
   * recorded as the outcome (bank-confirmed); otherwise the retry is recorded
   * with what the lookup said and the gateway resumes with the same key. A
   * bank that cannot answer now does not block the retry: the gateway looks up
   * again before it submits.
   */
  async function retry(ref: PaymentRef, reason: string, metadata: CommandMetadata) {
    const found = await existing(ref);
    if (found.state.status !== 'unknown') {
      // Already retrying (nothing new) or not parked at all (409 from the decider).
      const result = await requestRetry(ref, reason, undefined, metadata);
      return { action: 'retry-requested' as const, lookup: undefined, payment: result };
    }
    const answer = await bank.findTransfer(instructedTransferOf(found.state));
    const lookup = lookupRecord(answer, metadata.now);
    if (answer.kind === 'conflicting') {
      // Neither an outcome nor a reason to resend: money may have moved wrongly, and that is reconciled by hand.
      const error = new DomainError('conflict', 'bank_answer_conflicting', `the bank holds a transfer that contradicts this payment (${answer.error}); reconcile it with the bank`);
      await auditRefusal(ref, { action: 'retry', problem: error.code, detail: error.message, claim: { reason }, bankAnswer: answer.error }, metadata);
      throw error;
    }
    if (answer.kind === 'accepted' || answer.kind === 'rejected') {
      const payment = await recordBankOutcome(ref, found.state, answer, reason, metadata);
      return { action: 'resolved-from-bank' as const, lookup, payment };
    }
    const payment = await requestRetry(ref, reason, lookup, metadata);
    return { action: 'retry-requested' as const, lookup, payment };
  }

  async function requestRetry(ref: PaymentRef, reason: string, bankLookup: BankLookupRecord | undefined, metadata: CommandMetadata) {
    try {
      return await payments.execute(ref.tenantId, ref.paymentId, {
        type: 'RequestOperatorRetry',
        data: { reason, replayWindowMs: options.replayWindowMs, ...(bankLookup ? { bankLookup } : {}) },
        metadata,
      });
    } catch (error) {
      if (error instanceof DomainError && error.code === 'replay_window_expired') {
        await auditRefusal(ref, { action: 'retry', problem: error.code, detail: error.message, claim: { reason }, bankAnswer: bankLookup ? describeLookup(bankLookup) : null }, metadata);
      }
      throw error;
    }
  }

  async function recordBankOutcome(ref: PaymentRef, payment: Parked, answer: Extract<BankLookupAnswer, { kind: 'accepted' | 'rejected' }>, reason: string, metadata: CommandMetadata) {
    const bankAnswer = `lookup by reference ${payment.bank.endToEndId}: transfer ${answer.bankTransferId} ${answer.kind}${answer.kind === 'rejected' ? ` (${answer.reason})` : ''}`;
    const outcome = answer.kind === 'accepted' ? ('settled' as const) : ('rejected' as const);
    if (outcome === 'settled') await reserveTransfer(answer.bankTransferId, ref, 'retry', metadata);
    return payments.execute(ref.tenantId, ref.paymentId, {
      type: 'ResolveManually',
      data: { outcome, bankTransferId: answer.bankTransferId, reason, evidence: bankAnswer, verification: { kind: 'bank-confirmed', bankAnswer } },
      metadata,
    });
  }

  /**
   * Checked at the bank first. Confirmed: recorded at once. Contradicted:
   * refused with every mismatch, audited, the payment untouched. The bank
   * cannot tell: a proposal for a second person.
   */
  async function resolve(input: ResolveInput, metadata: CommandMetadata) {
    const found = await existing(input);
    const { outcome, bankTransferId, reason, evidence } = input;
    if (found.state.status !== 'unknown') {
      // The same resolution again answers as before; anything else is refused by the decider (409).
      const payment = await payments.execute(input.tenantId, input.paymentId, { type: 'ResolveManually', data: { outcome, bankTransferId, reason, evidence }, metadata });
      return { kind: 'resolved' as const, payment };
    }
    const verdict = await checkClaimAtBank(bank, found.state, { outcome, bankTransferId });
    const claim = { outcome, bankTransferId, reason, evidence };
    switch (verdict.kind) {
      case 'contradicted':
        await auditRefusal(input, { action: 'resolve', problem: 'bank_evidence_mismatch', detail: 'the bank contradicts the claim', claim, bankAnswer: verdict.bankAnswer, mismatches: verdict.mismatches }, metadata);
        throw new BankEvidenceMismatchError(verdict.mismatches, verdict.bankAnswer);
      case 'confirmed': {
        if (outcome === 'settled' && verdict.bankTransferId) await reserveTransfer(verdict.bankTransferId, input, 'resolve', metadata);
        const payment = await payments.execute(input.tenantId, input.paymentId, {
          type: 'ResolveManually',
          data: { outcome, bankTransferId: verdict.bankTransferId, reason, evidence, verification: { kind: 'bank-confirmed', bankAnswer: verdict.bankAnswer } },
          metadata,
        });
        return { kind: 'resolved' as const, payment };
      }
      case 'cannot-tell': {
        const action: ApprovalAction = { kind: 'resolve-payment', tenantId: input.tenantId, paymentId: input.paymentId, outcome, bankTransferId };
        const approval = await approvals.propose({ action, reason, evidence, bankAnswer: verdict.bankAnswer, ...(input.approvalId ? { approvalId: input.approvalId } : {}) }, metadata);
        return { kind: 'proposed' as const, approval };
      }
      default:
        return assertNeverVerdict(verdict);
    }
  }

  /** The executor of approved actions: one case per action kind (compensations add theirs). */
  async function executeApproved({ approval, metadata }: ApprovedAction): Promise<ExecutionResult> {
    const { action } = approval;
    switch (action.kind) {
      case 'resolve-payment':
        try {
          const contradiction = await recheckAtBank(action, approval.approvalId, metadata);
          if (contradiction) return contradiction;
          if (action.outcome === 'settled' && action.bankTransferId) await reserveTransfer(action.bankTransferId, action, 'approve', metadata);
          const payment = await payments.execute(action.tenantId, action.paymentId, {
            type: 'ResolveManually',
            data: {
              outcome: action.outcome,
              bankTransferId: action.bankTransferId,
              reason: approval.reason,
              evidence: approval.evidence,
              verification: { kind: 'four-eyes', approvalId: approval.approvalId, proposedBy: approval.proposedBy, approvedBy: approval.approval.by },
            },
            metadata,
          });
          return { kind: 'executed', detail: `payment ${payment.state.status} at revision ${payment.revision}` };
        } catch (error) {
          if (error instanceof DomainError) return { kind: 'failed', problem: error.code, detail: error.message };
          if (error instanceof BankTransferAlreadyUsedError) return { kind: 'failed', problem: 'bank_transfer_already_used', detail: error.message };
          throw error;
        }
      default:
        return assertNeverAction(action.kind);
    }
  }

  /**
   * The bank may have answered since the proposal was made: asked again just
   * before the approved outcome is recorded. A bank that now contradicts the
   * proposal wins over the two people (refused, audited, the payment stays
   * parked); one that confirms it or still cannot tell lets the approval run.
   * A payment no longer parked (a crash after executing, a repeat) is left to
   * the decider, which answers the same resolution again without writing.
   */
  async function recheckAtBank(action: Extract<ApprovalAction, { kind: 'resolve-payment' }>, approvalId: string, metadata: CommandMetadata): Promise<ExecutionResult | undefined> {
    const found = await payments.getPayment(action.tenantId, action.paymentId);
    if (!found || found.state.status !== 'unknown') return undefined;
    const verdict = await checkClaimAtBank(bank, found.state, { outcome: action.outcome, bankTransferId: action.bankTransferId });
    if (verdict.kind !== 'contradicted') return undefined;
    const detail = `the bank now contradicts the approved outcome: ${verdict.mismatches.map((mismatch) => `${mismatch.field} is ${mismatch.bank} at the bank, not ${mismatch.expected}`).join('; ')}`;
    await auditRefusal(
      action,
      { action: 'approve', problem: 'bank_evidence_mismatch', detail, claim: { outcome: action.outcome, bankTransferId: action.bankTransferId }, bankAnswer: verdict.bankAnswer, mismatches: verdict.mismatches, approvalId },
      metadata,
    );
    return { kind: 'failed', problem: 'bank_evidence_mismatch', detail };
  }

  /**
   * `no_stream` on the transfer's own stream: of two payments claiming one
   * transfer, the store lets exactly one through. The same payment again
   * (a retried request, a crash before the payment was written) passes.
   */
  async function reserveTransfer(bankTransferId: string, ref: PaymentRef, action: OperatorActionName, metadata: CommandMetadata): Promise<void> {
    const result = await reservations.reserve(bankTransferId, ref, metadata);
    if (result.kind === 'reserved') return;
    await auditRefusal(ref, { action, problem: 'bank_transfer_already_used', detail: `bank transfer ${bankTransferId} already settled another payment`, claim: { bankTransferId } }, metadata);
    throw new BankTransferAlreadyUsedError(bankTransferId);
  }

  async function auditRefusal(
    ref: PaymentRef,
    refusal: { action: OperatorActionName; problem: string; detail: string; claim: Readonly<Record<string, string | null>>; bankAnswer?: string | null; mismatches?: readonly EvidenceMismatch[]; approvalId?: string },
    metadata: CommandMetadata,
  ): Promise<void> {
    const event: OperatorActionRefused = {
      type: 'OperatorActionRefused',
      data: {
        action: refusal.action,
        problem: refusal.problem,
        detail: refusal.detail,
        tenantId: ref.tenantId,
        paymentId: ref.paymentId,
        claim: refusal.claim,
        bankAnswer: refusal.bankAnswer ?? null,
        mismatches: refusal.mismatches ?? [],
        approvalId: refusal.approvalId ?? null,
        refusedBy: metadata.principal.id,
        refusedAt: metadata.now.toISOString(),
      },
    };
    await store.appendToStream(operatorAuditStreamName(ref.tenantId, ref.paymentId), [toEventData(event, metadata, 1, newEventId)], { expectedRevision: 'any' });
  }

  /**
   * A payment's audit trail: its own events and the refused attempts on it,
   * in the order they were recorded, each with who and when.
   */
  async function auditTrail(ref: PaymentRef) {
    const [events, refused] = await Promise.all([
      store.readStream(paymentStreamName(ref.tenantId, ref.paymentId), { maxCount: AUDIT_TRAIL_EVENTS_MAX }),
      store.readStream(operatorAuditStreamName(ref.tenantId, ref.paymentId), { maxCount: AUDIT_TRAIL_EVENTS_MAX }),
    ]);
    return [...events, ...refused]
      .sort((a, b) => comparePositions(a.position, b.position))
      .map((event) => {
        const envelope = envelopeOf(event);
        return { type: event.type, recordedAt: envelope.recordedAt ?? event.recordedAt.toISOString(), by: envelope.principal?.id ?? null, requestId: envelope.requestId ?? null, data: event.data };
      });
  }

  return { lookUp, retry, resolve, approvals, auditTrail, auditRefusal };
}

export type OperatorActions = ReturnType<typeof createOperatorActions>;

function actionTarget(action: ApprovalAction): PaymentRef {
  switch (action.kind) {
    case 'resolve-payment':
      return { tenantId: action.tenantId, paymentId: action.paymentId };
    default:
      return assertNeverAction(action.kind);
  }
}

function describeLookup(lookup: BankLookupRecord): string {
  return `lookup ${lookup.result}${lookup.bankTransferId ? ` transfer ${lookup.bankTransferId}` : ''}${lookup.detail ? `: ${lookup.detail}` : ''}`;
}

function assertNeverVerdict(verdict: never): never {
  throw new Error(`unexpected verdict: ${JSON.stringify(verdict)}`);
}

function assertNeverAction(kind: never): never {
  throw new Error(`unexpected approval action: ${String(kind)}`);
}
