/**
 * Group commit: appends that arrive while earlier ones are on their way to the
 * database wait here and leave together, as one statement in one transaction
 * (see docs/adr/0019-group-commit.md). No timer: a request is sent as soon as
 * a slot is free, so an idle store adds no latency, and under load the batch is
 * whatever queued during one round trip, bounded by `requestsMax` and
 * `eventsMax`.
 *
 * Two requests for one stream, or sharing an event id, never travel in one
 * batch nor in two batches at once: the later waits for the earlier to finish.
 * Rationale: a batch then never races itself on the unique constraints, and one
 * process's appends to a stream reach the database in the order they were made.
 */

export interface Batchable {
  readonly stream: string;
  /** Lower-case event ids. */
  readonly eventIds: readonly string[];
}

export interface GroupCommitLimits {
  /** Batches on their way to the database at once. */
  readonly inFlightMax: number;
  /** Requests in one batch. */
  readonly requestsMax: number;
  /** Events in one batch (a single larger request still goes, alone). */
  readonly eventsMax: number;
}

/** Sends one batch. It must settle every request of the batch itself and never reject. */
export type BatchRunner<T> = (batch: T[]) => Promise<void>;

export class GroupCommit<T extends Batchable> {
  private queue: T[] = [];
  private inFlight = 0;
  private readonly busyStreams = new Set<string>();
  private readonly busyIds = new Set<string>();
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly limits: GroupCommitLimits,
    private readonly run: BatchRunner<T>,
  ) {
    for (const key of ['inFlightMax', 'requestsMax', 'eventsMax'] as const) {
      if (!Number.isSafeInteger(limits[key]) || limits[key] < 1) throw new RangeError(`${key} must be a positive integer, got ${limits[key]}`);
    }
  }

  add(request: T): void {
    this.queue.push(request);
    this.pump();
  }

  /** Resolves when nothing is queued or in flight (close waits for it). */
  idle(): Promise<void> {
    if (this.inFlight === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (this.inFlight < this.limits.inFlightMax && this.queue.length > 0) {
      const batch = this.take();
      if (batch.length === 0) break;
      this.inFlight++;
      void this.run(batch).finally(() => this.finished(batch));
    }
    if (this.inFlight === 0 && this.queue.length === 0) this.wakeIdle();
  }

  /** The oldest requests that may go now, in queue order; the rest stay queued in order. */
  private take(): T[] {
    const batch: T[] = [];
    const kept: T[] = [];
    let events = 0;
    for (const request of this.queue) {
      const fits = batch.length < this.limits.requestsMax && (batch.length === 0 || events + request.eventIds.length <= this.limits.eventsMax);
      if (fits && !this.isBusy(request)) {
        batch.push(request);
        events += request.eventIds.length;
        this.mark(request);
      } else {
        kept.push(request);
      }
    }
    this.queue = kept;
    return batch;
  }

  private isBusy(request: T): boolean {
    return this.busyStreams.has(request.stream) || request.eventIds.some((id) => this.busyIds.has(id));
  }

  private mark(request: T): void {
    this.busyStreams.add(request.stream);
    for (const id of request.eventIds) this.busyIds.add(id);
  }

  private finished(batch: readonly T[]): void {
    for (const request of batch) {
      this.busyStreams.delete(request.stream);
      for (const id of request.eventIds) this.busyIds.delete(id);
    }
    this.inFlight--;
    this.pump();
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }
}
