import type { CommandMetadata } from '../principal';
import type { ApprovalAction } from './events';

interface Command<Type extends string, Data> {
  readonly type: Type;
  readonly data: Data;
  readonly metadata: CommandMetadata;
}

export type ProposeAction = Command<
  'ProposeAction',
  {
    readonly approvalId: string;
    readonly action: ApprovalAction;
    readonly reason: string;
    readonly evidence: string;
    readonly bankAnswer: string;
    /** How long a second person has to decide; the expiry is fixed when proposing. */
    readonly ttlMs: number;
  }
>;
export type ApproveAction = Command<'ApproveAction', { readonly reason: string }>;
export type RejectAction = Command<'RejectAction', { readonly reason: string }>;
export type RecordExecution = Command<
  'RecordExecution',
  { readonly result: { readonly kind: 'executed'; readonly detail: string } | { readonly kind: 'failed'; readonly problem: string; readonly detail: string } }
>;

export type ApprovalCommand = ProposeAction | ApproveAction | RejectAction | RecordExecution;
