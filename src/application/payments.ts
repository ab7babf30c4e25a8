/**
 * The payments module: use cases of the payment stream, built once from its
 * dependencies (the store, the id source). HTTP routes, the gateway and the
 * operator API all come through here, so every write goes through the decider.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { EventStore } from '../event-store/port';
import { DomainError } from '../domain/errors';
import { paymentIdConflictAuditStreamName, paymentStreamName, type PaymentId, type TenantId } from '../domain/ids';
import type { CommandMetadata } from '../domain/principal';
import {
  decide,
  evolve,
  initialState,
  PAYMENT_EVENT_SCHEMA_VERSION,
  paymentIdConflictRefused,
  upcastPaymentEvent,
  type ExistingPaymentState,
  type PaymentCommand,
  type PaymentEvent,
  type PaymentInstruction,
  type PaymentState,
} from '../domain/payment';
import { checkNewPayment, type TenantDirectory } from '../domain/tenant';
import { createCommandHandler, type Decider, type HandleOptions, type HandleResult } from './command-handler';
import { createDailyLimits } from './daily-limits';
import { schemaVersionOf, toEventData, type NewEventId } from './event-envelope';
import { PreconditionFailedError } from './errors';
import type { StreamStateCache } from './stream-state-cache';
import { countTransitions } from '../observability/business';

export interface PaymentsModuleOptions {
  readonly store: EventStore;
  readonly newEventId?: NewEventId;
  readonly conflictRetryCountMax?: number;
  /**
   * The tenants' debit accounts and limits, checked before a new payment is
   * written. The API always passes them (src/http/server.ts); without them no
   * tenant rule applies, which only the gateway (it never requests payments) and
   * tests of other parts rely on.
   */
  readonly tenants?: TenantDirectory;
  /** Answers retries of known payments without reading their stream (ADR 0020); the caller starts and stops it. */
  readonly retryCache?: StreamStateCache<PaymentEvent, PaymentState>;
}

export type PaymentResult = HandleResult<PaymentEvent, PaymentState>;

export interface RequestPaymentInput {
  readonly tenantId: TenantId;
  readonly paymentId: PaymentId;
  readonly instruction: PaymentInstruction;
  /** If-None-Match: * — refuse with 412 instead of answering an existing payment. */
  readonly createOnly: boolean;
}

export interface RequestPaymentOutcome extends PaymentResult {
  readonly created: boolean;
  readonly state: ExistingPaymentState;
}

/** The payment stream's decider, as the command handler needs it; refunds use the same one (same stream). */
export const paymentDecider: Decider<PaymentCommand, PaymentEvent, PaymentState> = {
  decide,
  evolve,
  initialState,
  schemaVersion: PAYMENT_EVENT_SCHEMA_VERSION,
  fromRecorded: (event) => upcastPaymentEvent(event.type, event.data, schemaVersionOf(event)),
};

export function createPaymentsModule(options: PaymentsModuleOptions) {
  const newEventId = options.newEventId ?? randomUUID;
  const handler = createCommandHandler(options.store, paymentDecider, { newEventId, conflictRetryCountMax: options.conflictRetryCountMax ?? 5 });
  const dailyLimits = createDailyLimits({ store: options.store, newEventId, conflictRetryCountMax: 20, queueLengthMax: 1_000 });

  async function requestPayment(input: RequestPaymentInput, metadata: CommandMetadata): Promise<RequestPaymentOutcome> {
    const stream = paymentStreamName(input.tenantId, input.paymentId);
    // Create-only is "expect no stream": the handler's one read refuses an existing payment (412) before deciding.
    const command: PaymentCommand = { type: 'RequestPayment', data: input, metadata };
    if (!input.createOnly && options.retryCache) {
      const repeated = await repeatFromCache(stream, command);
      if (repeated) return repeated;
    }
    try {
      if (options.tenants) await admitNewPayment(stream, command, options.tenants);
      const result = await handler.handle(stream, command, input.createOnly ? { expectedRevision: -1 } : {});
      countTransitions(result.appended);
      return { ...result, created: result.appended.length > 0, state: existingState(result.state) };
    } catch (error) {
      if (error instanceof DomainError && error.code === 'payment_id_conflict') await auditIdConflict(input, metadata, error);
      if (error instanceof PreconditionFailedError && input.createOnly) {
        throw new PreconditionFailedError('a payment with this id exists (If-None-Match: *)', error.currentRevision);
      }
      throw error;
    }
  }

  /**
   * The tenant's rules for a payment that does not exist yet, in the order that
   * writes nothing on a refusal: the debtor account, the currency and the amount
   * (pure checks), then the daily total (a reservation, the one write). The
   * reservation goes before the payment: a crash between the two over-counts
   * the day, never under-counts it. A payment that exists already is answered
   * as before (200 or 409), neither checked nor counted again.
   */
  async function admitNewPayment(stream: string, command: Extract<PaymentCommand, { type: 'RequestPayment' }>, tenants: TenantDirectory): Promise<void> {
    const { data: input, metadata } = command;
    const loaded = await handler.load(stream);
    if (loaded.state.status !== 'none') {
      // Answered by the handler's own read: 412 for create-only, else 200 for the same request or 409 (audited).
      return;
    }
    const limits = checkNewPayment(tenants.policyOf(input.tenantId), input.instruction);
    if (!limits) return;
    await dailyLimits.reserve({ tenantId: input.tenantId, paymentId: input.paymentId, instruction: input.instruction, payloadSha256: instructionHash(input.instruction), limits }, metadata);
  }

  /**
   * A retry the decider answers with nothing to write, decided on the cached
   * state (exact and no older than the client's last answer, see
   * StreamStateCache.fresh). Anything else (no entry, a conflict, a change to
   * write, a cache that cannot tell) takes the store path, which decides again.
   */
  async function repeatFromCache(stream: string, command: PaymentCommand): Promise<RequestPaymentOutcome | undefined> {
    const cached = await options.retryCache!.fresh(stream).catch(() => undefined);
    if (!cached || cached.state.status === 'none') return undefined;
    try {
      if (decide(command, cached.state).length > 0) return undefined;
    } catch {
      return undefined;
    }
    return { state: cached.state, revision: cached.revision, appended: [], position: cached.position, created: false };
  }

  /** A refused reuse of an id is itself a fact worth keeping: who tried what, when. */
  async function auditIdConflict(input: RequestPaymentInput, metadata: CommandMetadata, error: DomainError): Promise<void> {
    const differingFields = (error.details['differingFields'] as string[] | undefined) ?? [];
    const event = paymentIdConflictRefused({ tenantId: input.tenantId, paymentId: input.paymentId, payloadSha256: instructionHash(input.instruction), differingFields }, metadata);
    await options.store.appendToStream(paymentIdConflictAuditStreamName(input.tenantId), [toEventData(event, metadata, 1, newEventId)], {
      expectedRevision: 'any',
    });
  }

  async function getPayment(tenantId: TenantId, paymentId: PaymentId) {
    const loaded = await handler.load(paymentStreamName(tenantId, paymentId));
    if (loaded.state.status === 'none') return undefined;
    return { ...loaded, state: loaded.state };
  }

  async function execute(tenantId: TenantId, paymentId: PaymentId, command: PaymentCommand, handleOptions: HandleOptions = {}) {
    const result = await handler.handle(paymentStreamName(tenantId, paymentId), command, handleOptions);
    countTransitions(result.appended);
    return { ...result, state: existingState(result.state) };
  }

  /** A command decided on a state the caller loaded (see handleOn): one append, no read; a lost race is a PreconditionFailedError. */
  async function executeOn(tenantId: TenantId, paymentId: PaymentId, command: PaymentCommand, loaded: { readonly state: ExistingPaymentState; readonly revision: number }) {
    const result = await handler.handleOn(paymentStreamName(tenantId, paymentId), command, loaded);
    countTransitions(result.appended);
    return { ...result, state: existingState(result.state) };
  }

  return { requestPayment, getPayment, execute, executeOn };
}

export type PaymentsModule = ReturnType<typeof createPaymentsModule>;

function existingState(state: PaymentState): ExistingPaymentState {
  if (state.status === 'none') throw new Error('a handled payment command left no payment');
  return state;
}

/** SHA-256 of the instruction's canonical JSON (sorted keys), as the audit's payload fingerprint. */
export function instructionHash(instruction: PaymentInstruction): string {
  return createHash('sha256').update(canonicalJson(instruction)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value as object)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}
