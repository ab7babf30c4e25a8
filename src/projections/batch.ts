/**
 * The one place a batch of events reaches a read model. The projection's writes
 * and the checkpoint's move happen in one transaction, after locking the
 * checkpoint row and checking it still is where this writer last saw it: commit,
 * and both moved; crash or throw anywhere, and neither did.
 */
import type { Database } from '../db/database';
import { comparePositions, formatPosition, type GlobalPosition, type RecordedEvent } from '../event-store/port';
import { advanceCheckpoint, lockCheckpoint, type CheckpointStatus } from './checkpoints';
import type { Projection, TableNames } from './projection';

/** Where a batch goes: the live tables under the projection's checkpoint, or a rebuild's shadow tables under its own. */
export interface BatchTarget {
  readonly projection: Projection;
  readonly tables: TableNames;
  readonly checkpointName: string;
  /** The status the checkpoint must be in for this writer to write. */
  readonly expectedStatus: CheckpointStatus;
}

/** Someone else moved the checkpoint (another projector, a rebuild's swap, a skip): reload and carry on. */
export class CheckpointMovedError extends Error {
  override readonly name = 'CheckpointMovedError';
  constructor(checkpointName: string, expected: GlobalPosition, actual: GlobalPosition | undefined, status: string | undefined) {
    super(`checkpoint ${checkpointName} is at ${actual ? formatPosition(actual) : 'none'} (${status ?? 'missing'}), not ${formatPosition(expected)}`);
  }
}

/**
 * Applies `events` (non-empty, in log order, all after `expected`) and moves the
 * checkpoint to the last one. Returns the new position.
 */
export async function commitBatch(
  database: Database,
  target: BatchTarget,
  expected: GlobalPosition,
  events: readonly RecordedEvent[],
): Promise<GlobalPosition> {
  const last = events[events.length - 1];
  if (!last) throw new Error('commitBatch needs at least one event');
  if (comparePositions(events[0]!.position, expected) <= 0) throw new Error(`batch starts at or before its checkpoint ${formatPosition(expected)}`);
  await database.transaction(async (tx) => {
    const checkpoint = await lockCheckpoint(tx, target.checkpointName);
    if (!checkpoint || checkpoint.status !== target.expectedStatus || comparePositions(checkpoint.position, expected) !== 0) {
      throw new CheckpointMovedError(target.checkpointName, expected, checkpoint?.position, checkpoint?.status);
    }
    await target.projection.apply(tx, events, target.tables);
    await advanceCheckpoint(tx, target.checkpointName, last.position, events.length);
  });
  return last.position;
}

/**
 * Lets timers, signals and sockets run between two batches. Rationale: PGlite
 * answers in microtasks, so a loop of batches on the embedded store never
 * reaches the event loop by itself: a catching-up runner would starve the HTTP
 * server in the same process, and a rebuild would not see Ctrl-C until it ended.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
