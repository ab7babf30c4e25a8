/**
 * The projection runner: one loop per projection following the log from its
 * checkpoint. Each loop reads a page of events with `readAll` (gap-safe, so no
 * event can appear later behind the checkpoint) and commits it with its
 * checkpoint in one transaction (see batch.ts). An idle loop polls at a short
 * interval.
 *
 * Failures:
 * - The database or store does not answer: the loop backs off and retries the
 *   same page; nothing is marked, nothing skipped.
 * - A batch throws while the database answers: the batch is re-applied one event
 *   at a time, so the events before the culprit are kept; the culprit is retried
 *   a few times, and if it keeps failing it is a poison event: this projection
 *   stops at the event before it, with name, position and error in its checkpoint
 *   row, the logs and readiness. The other projections go on. An operator skips it
 *   or fixes the code and resumes (see cli.ts and docs/projections.md).
 */
import type { Database } from '../db/database';
import { formatPosition, StoreUnavailableError, type EventStore, type GlobalPosition, type RecordedEvent } from '../event-store/port';
import type { Logger } from '../logging';
import { CheckpointMovedError, commitBatch, yieldToEventLoop, type BatchTarget } from './batch';
import { markStopped, readCheckpoint, type Checkpoint } from './checkpoints';
import { liveTableNames, type Projection } from './projection';

export interface RunnerLimits {
  /** Events per batch (and per read). */
  readonly batchSizeMax: number;
  /** How often an idle loop looks for new events. */
  readonly pollIntervalMs: number;
  /** How often a stopped projection looks whether an operator resumed or skipped. */
  readonly stoppedPollIntervalMs: number;
  /** Attempts at one event, the database answering, before it counts as poison. */
  readonly eventAttemptCountMax: number;
  /** Longest pause between retries while the database or store is unreachable. */
  readonly retryBackoffMsMax: number;
}

export const DEFAULT_RUNNER_LIMITS: RunnerLimits = {
  batchSizeMax: 500,
  pollIntervalMs: 100,
  stoppedPollIntervalMs: 1_000,
  eventAttemptCountMax: 3,
  retryBackoffMsMax: 5_000,
};

export type WorkerState = 'starting' | 'running' | 'stopped' | 'unavailable' | 'ended';

export interface WorkerStatus {
  readonly name: string;
  readonly state: WorkerState;
  readonly position: GlobalPosition | undefined;
  readonly error: string | undefined;
}

/** A pause that `wake()` cuts short (new events announced, or shutting down). */
class Pause {
  private timer: NodeJS.Timeout | undefined;
  private resolve: (() => void) | undefined;

  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.timer = setTimeout(resolve, ms);
    });
  }

  wake(): void {
    clearTimeout(this.timer);
    this.resolve?.();
  }
}

export interface WorkerDeps {
  readonly database: Database;
  readonly store: EventStore;
  readonly logger: Logger;
  readonly limits: RunnerLimits;
}

export class ProjectionWorker {
  private state: WorkerState = 'starting';
  private checkpoint: Checkpoint | undefined;
  private lastError: string | undefined;
  private stopping = false;
  private backoffMs = 0;
  private readonly pause = new Pause();
  private readonly target: BatchTarget;
  private readonly log: Logger;
  private loop: Promise<void> | undefined;

  constructor(
    readonly projection: Projection,
    private readonly deps: WorkerDeps,
  ) {
    this.target = { projection, tables: liveTableNames(projection), checkpointName: projection.name, expectedStatus: 'running' };
    this.log = deps.logger.child({ projection: projection.name });
  }

  status(): WorkerStatus {
    return { name: this.projection.name, state: this.state, position: this.checkpoint?.position, error: this.lastError };
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Lets an idle loop look for events now instead of at its next poll. */
  wake(): void {
    this.pause.wake();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.pause.wake();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      let progressed = false;
      try {
        progressed = await this.step();
        this.backoffMs = 0;
      } catch (error) {
        await this.onUnavailable(error);
      }
      if (!progressed && !this.stopping) {
        await this.pause.wait(this.state === 'stopped' ? this.deps.limits.stoppedPollIntervalMs : this.deps.limits.pollIntervalMs + this.backoffMs);
      } else {
        await yieldToEventLoop();
      }
    }
    this.state = 'ended';
  }

  /** One read-and-apply. True when it applied something (so the loop reads again at once). */
  private async step(): Promise<boolean> {
    const checkpoint = await this.currentCheckpoint();
    if (checkpoint.status !== 'running') return this.noteStopped(checkpoint);
    const events = await this.deps.store.readAll({ fromPosition: checkpoint.position, limit: this.deps.limits.batchSizeMax, filter: this.projection.filter });
    if (events.length === 0) return false;
    await this.applyPage(checkpoint, events);
    return true;
  }

  private async currentCheckpoint(): Promise<Checkpoint> {
    if (this.checkpoint && this.state === 'running') return this.checkpoint;
    const loaded = await readCheckpoint(this.deps.database, this.projection.name);
    if (!loaded) throw new Error(`projection ${this.projection.name} has no checkpoint row (schema not set up?)`);
    if (loaded.status === 'running' && this.state !== 'running') {
      this.log.info({ position: formatPosition(loaded.position) }, this.state === 'stopped' ? 'projection resumed' : 'projection running');
      this.state = 'running';
      this.lastError = undefined;
    }
    this.checkpoint = loaded;
    return loaded;
  }

  private noteStopped(checkpoint: Checkpoint): false {
    if (this.state !== 'stopped') {
      this.log.error({ position: formatPosition(checkpoint.position), status: checkpoint.status, error: checkpoint.error }, 'projection is stopped; skip or resume it (npm run projections)');
    }
    this.state = 'stopped';
    this.lastError = checkpoint.error ?? `checkpoint status ${checkpoint.status}`;
    return false;
  }

  private async applyPage(checkpoint: Checkpoint, events: readonly RecordedEvent[]): Promise<void> {
    try {
      this.setPosition(await commitBatch(this.deps.database, this.target, checkpoint.position, events), events.length);
    } catch (error) {
      if (error instanceof CheckpointMovedError) return this.reload(error);
      await this.requireDatabase(error);
      this.log.warn({ err: error, events: events.length, from: formatPosition(checkpoint.position) }, 'batch failed; applying its events one by one');
      await this.applyOneByOne(events);
    }
  }

  private async applyOneByOne(events: readonly RecordedEvent[]): Promise<void> {
    for (const event of events) {
      for (let attempt = 1; ; attempt += 1) {
        const from = this.checkpoint!.position;
        try {
          this.setPosition(await commitBatch(this.deps.database, this.target, from, [event]), 1);
          break;
        } catch (error) {
          if (error instanceof CheckpointMovedError) return this.reload(error);
          await this.requireDatabase(error);
          if (attempt >= this.deps.limits.eventAttemptCountMax) return this.stopOnPoison(from, event, error);
        }
      }
    }
  }

  private setPosition(position: GlobalPosition, applied: number): void {
    this.checkpoint = { ...this.checkpoint!, position, eventsApplied: this.checkpoint!.eventsApplied + applied, updatedAt: new Date() };
    this.log.debug({ position: formatPosition(position), applied }, 'batch applied');
  }

  private reload(error: CheckpointMovedError): void {
    this.log.info({ reason: error.message }, 'checkpoint moved by another writer; reloading');
    this.checkpoint = undefined;
    this.state = 'starting';
  }

  /** Rethrows (as unavailability) when the database does not answer: then the failure says nothing about the event. */
  private async requireDatabase(cause: unknown): Promise<void> {
    // A connection lost in the middle of the batch says nothing about its events, even if the next query succeeds.
    if (cause instanceof StoreUnavailableError) throw cause;
    try {
      await this.deps.database.query('SELECT 1');
    } catch {
      throw cause;
    }
  }

  private async stopOnPoison(from: GlobalPosition, event: RecordedEvent, error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    await this.deps.database.transaction(async (tx) => {
      const current = await readCheckpoint(tx, this.projection.name);
      // Only the writer that owns the position may stop the projection there.
      if (current && current.status === 'running' && current.position.commit === from.commit && current.position.prepare === from.prepare) {
        await markStopped(tx, this.projection.name, { error: message, position: event.position, eventId: event.id, eventType: event.type });
      }
    });
    this.log.error(
      { err: error, position: formatPosition(event.position), checkpoint: formatPosition(from), eventId: event.id, eventType: event.type, stream: event.streamName },
      'poison event: projection stopped (others go on); fix and `npm run projections -- resume <name>`, or `skip <name>`',
    );
    this.state = 'stopped';
    this.checkpoint = undefined;
    this.lastError = message;
  }

  private async onUnavailable(error: unknown): Promise<void> {
    this.backoffMs = Math.min(this.deps.limits.retryBackoffMsMax, Math.max(100, this.backoffMs * 2));
    this.checkpoint = undefined;
    if (this.state !== 'unavailable') this.log.warn({ err: error, retryInMs: this.backoffMs }, 'projection cannot reach the database or store; retrying');
    this.state = 'unavailable';
    this.lastError = error instanceof Error ? error.message : String(error);
  }
}
