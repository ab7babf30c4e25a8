/**
 * Operator actions on a projection's checkpoint: the way out of a poison event.
 * `skip` moves past the event the projection stopped at (recording what was
 * skipped, by whom and why it failed); `resume` retries it, after a code fix.
 * A running projector notices within its stopped-poll interval.
 */
import type { Database } from '../db/database';
import { formatPosition, type GlobalPosition } from '../event-store/port';
import { lockCheckpoint, markRunning, SKIPPED_EVENTS_TABLE, type Checkpoint } from './checkpoints';

export class OperationRefusedError extends Error {
  override readonly name = 'OperationRefusedError';
}

export interface SkipOutcome {
  readonly skipped: { readonly position: GlobalPosition; readonly eventId: string | null; readonly eventType: string | null; readonly error: string | null };
}

function requireStopped(checkpoint: Checkpoint | undefined, name: string): Checkpoint {
  if (!checkpoint) throw new OperationRefusedError(`no projection named ${name}`);
  if (checkpoint.status !== 'stopped') throw new OperationRefusedError(`projection ${name} is ${checkpoint.status}, not stopped: nothing to skip or resume`);
  return checkpoint;
}

/** Moves the checkpoint onto the poison event, so the runner goes on with the one after it. */
export async function skipPoisonEvent(database: Database, name: string, skippedBy: string): Promise<SkipOutcome> {
  return database.transaction(async (tx) => {
    const checkpoint = requireStopped(await lockCheckpoint(tx, name), name);
    const position = checkpoint.errorPosition;
    if (!position) throw new OperationRefusedError(`projection ${name} stopped without a recorded event position; resume it instead`);
    await tx.query(
      `INSERT INTO ${SKIPPED_EVENTS_TABLE} (name, position_commit, position_prepare, event_id, event_type, error, skipped_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
      [name, position.commit.toString(), position.prepare.toString(), checkpoint.errorEventId, checkpoint.errorEventType, checkpoint.error, skippedBy],
    );
    await markRunning(tx, name, position);
    return { skipped: { position, eventId: checkpoint.errorEventId, eventType: checkpoint.errorEventType, error: checkpoint.error } };
  });
}

/** Clears the error and lets the runner try the same event again. */
export async function resumeProjection(database: Database, name: string): Promise<{ position: string }> {
  return database.transaction(async (tx) => {
    const checkpoint = requireStopped(await lockCheckpoint(tx, name), name);
    await markRunning(tx, name);
    return { position: formatPosition(checkpoint.position) };
  });
}
