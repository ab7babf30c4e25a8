/**
 * A simulated EventStoreDB behind the client's interface, for the adapter's
 * unit test only: it lets the shared contract run against the adapter's own
 * logic (pre-read, read-back, paging, filters, exclusive starts, close) on a
 * machine without a server. It is NOT evidence about the server; the live
 * contract run is. Its rules are written from KurrentDB's source and are the
 * assumptions the adapter makes, stated where they can be read:
 *
 * - an append checks ids only where the expected revision points; with the
 *   expected revision equal to the current one it writes without looking at
 *   ids (IndexWriter.CheckCommit); a repeated batch succeeds without a position;
 * - a write of n events takes n consecutive log positions; every event of it
 *   has the commit position of the write's first record and its own prepare
 *   position; the append answers (commit, commit) (WriteEvents.ClientSuccessMsg);
 * - reads of $all include their start position; subscriptions start after it;
 * - $all holds system records ($-streams and $-types) between ours;
 * - unsubscribing cancels the call: the client's stream neither ends nor errs.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  ANY,
  BACKWARDS,
  NO_STREAM,
  STREAM_EXISTS,
  StreamNotFoundError,
  WrongExpectedVersionError,
  type AppendExpectedRevision,
  type AppendResult,
  type EventData,
  type EventStoreDBClient,
  type Filter,
  type Position,
  type ReadPosition,
} from '@eventstore/db-client';

interface StoredRecord {
  readonly streamId: string;
  readonly id: string;
  readonly type: string;
  readonly revision: bigint;
  readonly data: unknown;
  readonly metadata: unknown;
  readonly position: Position;
  readonly created: Date;
}

const RECORD_SIZE = 100n;

export class SimulatedEventStoreDb {
  private readonly log: StoredRecord[] = [];
  private readonly live = new Set<{ push(record: StoredRecord): void }>();
  private nextLogPosition = 1_000n;
  private appends = 0;
  disposed = false;

  constructor() {
    this.writeSystemRecord('$epoch-info');
  }

  /** The object the adapter takes for its client. */
  asClient(): EventStoreDBClient {
    return this as unknown as EventStoreDBClient;
  }

  async appendToStream(streamName: string, events: EventData[], options: { expectedRevision: AppendExpectedRevision }): Promise<AppendResult> {
    await Promise.resolve();
    const stream = this.log.filter((record) => record.streamId === streamName);
    const current = stream.length === 0 ? -1n : stream[stream.length - 1]!.revision;
    const expected = options.expectedRevision;
    const conflict = () =>
      new WrongExpectedVersionError(undefined, { streamName, expected, current: current === -1n ? NO_STREAM : current });
    if (expected === ANY || expected === STREAM_EXISTS) {
      if (expected === STREAM_EXISTS && current === -1n) throw conflict();
      const found = events.map((event) => stream.find((record) => record.id === event.id));
      if (found[0] !== undefined) {
        if (found.some((record) => record === undefined)) throw conflict();
        return { success: true, nextExpectedRevision: found[found.length - 1]!.revision };
      }
    } else {
      const expectedNumber = expected === NO_STREAM ? -1n : expected;
      if (expectedNumber < current) {
        const repeated = events.every((event, index) => stream.find((record) => record.revision === expectedNumber + 1n + BigInt(index))?.id === event.id);
        if (!repeated) throw conflict();
        return { success: true, nextExpectedRevision: expectedNumber + BigInt(events.length) };
      }
      if (expectedNumber > current) throw conflict();
    }
    const commit = this.nextLogPosition;
    events.forEach((event, index) => this.write({ streamId: streamName, id: event.id, type: event.type, revision: current + 1n + BigInt(index), data: event.data, metadata: event.metadata }, commit));
    this.appends += 1;
    if (this.appends % 3 === 0) this.writeSystemRecord(`$stats-${this.appends}`);
    return { success: true, nextExpectedRevision: current + BigInt(events.length), position: { commit, prepare: commit } };
  }

  readStream(streamName: string, options: { fromRevision?: bigint; maxCount?: number | bigint }): Readable {
    const stream = this.log.filter((record) => record.streamId === streamName);
    if (stream.length === 0) return failing(new StreamNotFoundError(undefined, streamName));
    const from = options.fromRevision ?? 0n;
    const selected = stream.filter((record) => record.revision >= from).slice(0, Number(options.maxCount ?? Number.MAX_SAFE_INTEGER));
    return Readable.from(selected.map((record) => ({ event: this.recorded(record) })));
  }

  readAll(options: { fromPosition?: ReadPosition; maxCount?: number | bigint; direction?: string }): Readable {
    const count = Number(options.maxCount ?? Number.MAX_SAFE_INTEGER);
    if (options.direction === BACKWARDS) {
      return Readable.from([...this.log].reverse().slice(0, count).map((record) => ({ event: this.recorded(record) })));
    }
    const from = options.fromPosition;
    const selected = this.log.filter((record) => from === undefined || typeof from === 'string' || compare(record.position, from) >= 0);
    return Readable.from(selected.slice(0, count).map((record) => ({ event: this.recorded(record) })));
  }

  subscribeToAll(options: { fromPosition?: ReadPosition; filter?: Filter }): Readable & { unsubscribe(): Promise<void> } {
    const from = options.fromPosition;
    const passes = (record: StoredRecord) =>
      (from === undefined || typeof from === 'string' || compare(record.position, from) > 0) && serverFilterPasses(record, options.filter);
    const readable = new Readable({ objectMode: true, read() {} });
    const subscriber = { push: (record: StoredRecord) => passes(record) && readable.push({ event: this.recorded(record) }) };
    for (const record of this.log) subscriber.push(record);
    this.live.add(subscriber);
    return Object.assign(readable, {
      unsubscribe: async () => {
        this.live.delete(subscriber);
      },
    });
  }

  async dispose(): Promise<void> {
    this.disposed = true;
  }

  private write(record: Omit<StoredRecord, 'position' | 'created'>, commit: bigint): void {
    const stored: StoredRecord = { ...record, position: { commit, prepare: this.nextLogPosition }, created: new Date() };
    this.nextLogPosition += RECORD_SIZE;
    this.log.push(stored);
    for (const subscriber of this.live) subscriber.push(stored);
  }

  private writeSystemRecord(streamId: string): void {
    this.write({ streamId, id: randomUUID(), type: '$statsCollected', revision: 0n, data: {}, metadata: {} }, this.nextLogPosition);
  }

  private recorded(record: StoredRecord) {
    return {
      streamId: record.streamId,
      id: record.id,
      revision: record.revision,
      type: record.type,
      data: structuredClone(record.data),
      metadata: structuredClone(record.metadata),
      isJson: true,
      created: record.created,
      position: record.position,
    };
  }
}

function compare(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

function serverFilterPasses(record: StoredRecord, filter: Filter | undefined): boolean {
  if (!filter) return true;
  const subject = filter.filterOn === 'streamName' ? record.streamId : record.type;
  if ('prefixes' in filter) return filter.prefixes.some((prefix) => subject.startsWith(prefix));
  return new RegExp(filter.regex).test(subject);
}

function failing(error: Error): Readable {
  const readable = new Readable({ objectMode: true, read() {} });
  process.nextTick(() => readable.destroy(error));
  return readable;
}
