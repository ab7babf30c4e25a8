/**
 * Approvals (maker-checker) as use cases: propose, approve (which runs the
 * stored action once), reject, read and list. The action is executed by the
 * executor handed in, one per action kind, so refunds and compensations add
 * an executor and reuse everything else.
 */
import { randomUUID } from 'node:crypto';
import { ulid } from 'ulid';
import type { EventStore, GlobalPosition } from '../event-store/port';
import { DomainError } from '../domain/errors';
import { APPROVAL_STREAM_PREFIX, approvalStreamName } from '../domain/ids';
import type { CommandMetadata } from '../domain/principal';
import {
  APPROVAL_EVENT_SCHEMA_VERSION,
  approvalStatus,
  decideApproval,
  evolveApproval,
  initialApprovalState,
  isApprovalEventType,
  type ApprovalAction,
  type ApprovalCommand,
  type ApprovalEvent,
  type ApprovalState,
  type ApprovalStatus,
  type ExistingApprovalState,
} from '../domain/approval';
import { createCommandHandler } from './command-handler';
import type { NewEventId } from './event-envelope';

/** What running an approved action gave: recorded on the approval, once. */
export type ExecutionResult = { readonly kind: 'executed'; readonly detail: string } | { readonly kind: 'failed'; readonly problem: string; readonly detail: string };

export interface ApprovedAction {
  readonly approval: Extract<ExistingApprovalState, { status: 'approved' }>;
  readonly metadata: CommandMetadata;
}

/**
 * Runs an approved action. It must be idempotent (a crash after running and
 * before recording runs it again on the next approve); refusals the business
 * expects come back as `failed`, anything else throws and leaves the
 * execution to be recorded by a later approve.
 */
export type ActionExecutor = (approved: ApprovedAction) => Promise<ExecutionResult>;

/** Called when a decision is refused (four eyes, expiry), so the refusal is audited. */
export type RefusalAuditor = (action: ApprovalAction, approvalId: string, decision: 'approve' | 'reject', error: DomainError, metadata: CommandMetadata) => Promise<void>;

export interface ApprovalsModuleOptions {
  readonly store: EventStore;
  readonly approvalTtlMs: number;
  readonly execute: ActionExecutor;
  readonly auditRefusal: RefusalAuditor;
  readonly newEventId?: NewEventId;
  readonly newApprovalId?: () => string;
}

export interface ProposalInput {
  readonly action: ApprovalAction;
  readonly reason: string;
  readonly evidence: string;
  readonly bankAnswer: string;
  /** Chosen by the caller when a retried request must land on the same proposal. */
  readonly approvalId?: string;
}

export interface ApprovalListQuery {
  readonly status: ApprovalStatus;
  readonly limit: number;
  /** Exclusive: proposals recorded after this position. */
  readonly after?: GlobalPosition;
  readonly now: Date;
}

/** Proposals read per list request at most, whatever their status: a page may come back short, with a cursor to go on. */
export const APPROVAL_SCAN_COUNT_MAX = 1_000;

export function createApprovalsModule(options: ApprovalsModuleOptions) {
  const newApprovalId = options.newApprovalId ?? ulid;
  const handler = createCommandHandler<ApprovalCommand, ApprovalEvent, ApprovalState>(
    options.store,
    {
      decide: decideApproval,
      evolve: evolveApproval,
      initialState: initialApprovalState,
      schemaVersion: APPROVAL_EVENT_SCHEMA_VERSION,
      fromRecorded: (event) => (isApprovalEventType(event.type) ? ({ type: event.type, data: event.data } as unknown as ApprovalEvent) : undefined),
    },
    { newEventId: options.newEventId ?? randomUUID, conflictRetryCountMax: 5 },
  );

  async function propose(input: ProposalInput, metadata: CommandMetadata) {
    const approvalId = input.approvalId ?? newApprovalId();
    const { action, reason, evidence, bankAnswer } = input;
    const result = await handler.handle(approvalStreamName(approvalId), {
      type: 'ProposeAction',
      data: { approvalId, action, reason, evidence, bankAnswer, ttlMs: options.approvalTtlMs },
      metadata,
    });
    return { state: existing(result.state), revision: result.revision };
  }

  async function get(approvalId: string) {
    const loaded = await handler.load(approvalStreamName(approvalId));
    if (loaded.state.status === 'none') return undefined;
    return { state: loaded.state, revision: loaded.revision };
  }

  async function decide(approvalId: string, decision: 'approve' | 'reject', reason: string, metadata: CommandMetadata) {
    const stream = approvalStreamName(approvalId);
    const command: ApprovalCommand = decision === 'approve' ? { type: 'ApproveAction', data: { reason }, metadata } : { type: 'RejectAction', data: { reason }, metadata };
    try {
      return await handler.handle(stream, command);
    } catch (error) {
      if (error instanceof DomainError && error.kind !== 'not_found') {
        const found = await get(approvalId);
        if (found) await options.auditRefusal(found.state.action, approvalId, decision, error, metadata);
      }
      throw error;
    }
  }

  /**
   * Grants, then runs the action and records that it ran. Two supervisors at
   * once: the grant is appended with the expected revision, so one wins and the
   * other is refused as already decided; the same supervisor twice (or after a
   * crash between grant and record) runs the idempotent action again and the
   * second record changes nothing.
   */
  async function approve(approvalId: string, reason: string, metadata: CommandMetadata) {
    const granted = await decide(approvalId, 'approve', reason, metadata);
    const state = existing(granted.state);
    if (state.status !== 'approved' || state.execution !== null) return { state, revision: granted.revision };
    const result = await options.execute({ approval: state, metadata });
    const recorded = await handler.handle(approvalStreamName(approvalId), { type: 'RecordExecution', data: { result }, metadata });
    return { state: existing(recorded.state), revision: recorded.revision };
  }

  async function reject(approvalId: string, reason: string, metadata: CommandMetadata) {
    const result = await decide(approvalId, 'reject', reason, metadata);
    return { state: existing(result.state), revision: result.revision };
  }

  /** Keyset-paged by the proposal's position in the log, oldest first. */
  async function list(query: ApprovalListQuery) {
    const items: ExistingApprovalState[] = [];
    let after = query.after;
    let scanned = 0;
    while (items.length < query.limit && scanned < APPROVAL_SCAN_COUNT_MAX) {
      const batch = await options.store.readAll({
        ...(after ? { fromPosition: after } : {}),
        limit: Math.min(100, APPROVAL_SCAN_COUNT_MAX - scanned),
        filter: { streamPrefixes: [APPROVAL_STREAM_PREFIX], eventTypes: ['ApprovalProposed'] },
      });
      if (batch.length === 0) return { items, next: undefined };
      for (const event of batch) {
        scanned += 1;
        after = event.position;
        const found = await get(String(event.data['approvalId']));
        if (found && approvalStatus(found.state, query.now) === query.status) items.push(found.state);
        if (items.length === query.limit) break;
      }
    }
    return { items, next: after };
  }

  return { propose, approve, reject, get, list };
}

export type ApprovalsModule = ReturnType<typeof createApprovalsModule>;

function existing(state: ApprovalState): ExistingApprovalState {
  if (state.status === 'none') throw new Error('a handled approval command left no approval');
  return state;
}
