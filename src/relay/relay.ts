/**
 * The outbox relay: follows the payment log from its checkpoint, like a
 * projection, and publishes each event as an integration event to JetStream,
 * one at a time, in log order.
 *
 * Exactly once on the stream, by three rules:
 * 1. The checkpoint moves only past events whose publish was acked.
 * 2. Every publish names the stream sequence the relay believes is last
 *    (`Nats-Expected-Last-Sequence`); a message that landed unseen (ack lost,
 *    another relay, a crash between ack and checkpoint) makes the server refuse
 *    it rather than store a second copy, even long after the duplicate window.
 * 3. Before publishing after a start or any failure, the relay reads the
 *    stream's last message: the log position it carries is where publishing
 *    goes on from. Because messages land in log order, every event up to that
 *    position is on the stream.
 * `Nats-Msg-Id` = event id stays as the server's own second line of defence.
 */
import type { Database } from '../db/database';
import { comparePositions, formatPosition, START, type EventFilter, type EventStore, type GlobalPosition } from '../event-store/port';
import { PAYMENT_STREAM_PREFIX } from '../domain/ids';
import type { ReadinessCheck } from '../shared/readiness';
import type { Logger } from '../logging';
import { advanceRelayCheckpoint, migrateRelay, readRelayCheckpoint } from './checkpoint';
import { NO_RELAY_CRASH_POINT, type RelayCrashPoint } from './crash-points';
import { RELAYED_EVENT_TYPES, toIntegrationMessage, type MappingSettings } from './integration-events';
import { StreamMovedError, type IntegrationPublisher } from './jetstream';
import { relayEventsPublished } from '../observability/metrics';

export const RELAY_FILTER: EventFilter = { streamPrefixes: [PAYMENT_STREAM_PREFIX], eventTypes: RELAYED_EVENT_TYPES };

export interface RelaySettings extends MappingSettings {
  /** The checkpoint row's name: the stream's, so relays to different streams keep apart. */
  readonly streamName: string;
  readonly batchSizeMax: number;
  readonly pollIntervalMs: number;
  /** Longest pause between attempts while NATS or the store is unreachable. */
  readonly retryBackoffMsMax?: number;
  /** Lag is counted up to this many events. */
  readonly lagEventsCountMax?: number;
}

export interface RelayOptions {
  readonly store: EventStore;
  readonly database: Database;
  readonly logger: Logger;
  readonly settings: RelaySettings;
  /** Opens a publisher; called again after it failed to connect. */
  readonly connect: () => Promise<IntegrationPublisher>;
  readonly crashPoint?: RelayCrashPoint;
  readonly now?: () => number;
}

export type RelayState = 'starting' | 'running' | 'unavailable' | 'stopped';

export interface RelayStatus {
  readonly state: RelayState;
  /** Log position of the last event known to be on the stream. */
  readonly position: GlobalPosition | undefined;
  readonly streamSequence: number;
  readonly eventsPublished: number;
  readonly error: string | undefined;
}

export interface RelayLag {
  readonly eventsBehind: number;
  readonly eventsBehindCapped: boolean;
  readonly secondsBehind: number;
}

export interface Relay {
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): RelayStatus;
  lag(): Promise<RelayLag>;
  readonly readiness: ReadinessCheck;
}

export function createRelay(options: RelayOptions): Relay {
  return new RelayLoop(options);
}

class RelayLoop implements Relay {
  private publisher: IntegrationPublisher | undefined;
  private synced = false;
  private position: GlobalPosition | undefined;
  private lastSequence = 0;
  private eventsPublished = 0;
  private state: RelayState = 'starting';
  private lastError: string | undefined;
  private backoffMs = 0;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly crashPoint: RelayCrashPoint;

  constructor(private readonly options: RelayOptions) {
    this.log = options.logger.child({ component: 'relay', stream: options.settings.streamName });
    this.now = options.now ?? Date.now;
    this.crashPoint = options.crashPoint ?? NO_RELAY_CRASH_POINT;
  }

  readonly readiness: ReadinessCheck = async () => {
    const lag = await this.lag();
    const status = this.status();
    return {
      healthy: status.state === 'running',
      details: {
        state: status.state,
        position: status.position ? formatPosition(status.position) : null,
        streamSequence: status.streamSequence,
        eventsBehind: lag.eventsBehindCapped ? `${lag.eventsBehind}+` : lag.eventsBehind,
        secondsBehind: Math.round(lag.secondsBehind * 10) / 10,
        ...(status.error ? { error: status.error } : {}),
      },
    };
  };

  async start(): Promise<void> {
    await migrateRelay(this.options.database);
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeUp?.();
    await this.loop;
    await this.publisher?.close();
    this.state = 'stopped';
  }

  status(): RelayStatus {
    return { state: this.state, position: this.position, streamSequence: this.lastSequence, eventsPublished: this.eventsPublished, error: this.lastError };
  }

  async lag(): Promise<RelayLag> {
    const countMax = this.options.settings.lagEventsCountMax ?? 1_000;
    const from = this.position ?? (await readRelayCheckpoint(this.options.database, this.options.settings.streamName)).position;
    const pending = await this.options.store.readAll({ fromPosition: from, limit: countMax, filter: RELAY_FILTER });
    const oldest = pending[0]?.recordedAt.getTime();
    return { eventsBehind: pending.length, eventsBehindCapped: pending.length >= countMax, secondsBehind: oldest === undefined ? 0 : Math.max(0, (this.now() - oldest) / 1000) };
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      let progressed = false;
      try {
        progressed = await this.step();
        this.backoffMs = 0;
      } catch (error) {
        this.onFailure(error);
      }
      if (!progressed && !this.stopping) await this.pause(this.options.settings.pollIntervalMs + this.backoffMs);
    }
  }

  /** One page. True when it published (so the loop reads again at once). */
  private async step(): Promise<boolean> {
    const publisher = await this.connected();
    if (!this.synced) await this.sync(publisher);
    const from = this.position ?? START;
    const events = await this.options.store.readAll({ fromPosition: from, limit: this.options.settings.batchSizeMax, filter: RELAY_FILTER });
    if (events.length === 0) return false;
    let position = from;
    for (const event of events) {
      if (this.stopping) break;
      const message = toIntegrationMessage(event, this.options.settings);
      if (message) {
        const ack = await publisher.publish(message, event.position, this.lastSequence);
        // A duplicate means the stream is ahead of what this relay knew: find the place again.
        if (ack.duplicate) throw new StreamMovedError(`event ${event.id} was on the stream already (sequence ${ack.sequence})`);
        this.lastSequence = ack.sequence;
        this.eventsPublished += 1;
        relayEventsPublished.inc();
      }
      position = event.position;
      this.position = position;
    }
    this.crashPoint();
    await advanceRelayCheckpoint(this.options.database, this.options.settings.streamName, position, this.lastSequence);
    this.log.debug({ position: formatPosition(position), streamSequence: this.lastSequence }, 'published and checkpointed');
    return true;
  }

  private async connected(): Promise<IntegrationPublisher> {
    if (this.publisher) return this.publisher;
    const publisher = await this.options.connect();
    try {
      await publisher.ensureStream();
    } catch (error) {
      await publisher.close().catch(() => undefined);
      throw error;
    }
    this.publisher = publisher;
    return publisher;
  }

  /** Finds the place to go on from: the checkpoint, or the stream's last message when that is further. */
  private async sync(publisher: IntegrationPublisher): Promise<void> {
    const { streamName } = this.options.settings;
    const checkpoint = await readRelayCheckpoint(this.options.database, streamName);
    const tail = await publisher.tail();
    let position = checkpoint.position;
    if (tail.position && comparePositions(tail.position, checkpoint.position) > 0) {
      this.log.info({ checkpoint: formatPosition(checkpoint.position), streamTail: formatPosition(tail.position), streamSequence: tail.sequence }, 'stream is ahead of the checkpoint (published, not yet checkpointed): going on from the stream');
      await advanceRelayCheckpoint(this.options.database, streamName, tail.position, tail.sequence);
      position = tail.position;
    } else if (checkpoint.streamSequence > tail.sequence) {
      // Purged or recreated: events before the checkpoint are not sent again (docs/integration-events.md).
      this.log.warn({ checkpoint: formatPosition(checkpoint.position), checkpointSequence: checkpoint.streamSequence, streamSequence: tail.sequence }, 'stream is behind the checkpoint (purged or recreated?): publishing from the checkpoint on');
    }
    this.position = position;
    this.lastSequence = tail.sequence;
    this.synced = true;
    if (this.state !== 'running') this.log.info({ position: formatPosition(position), streamSequence: tail.sequence }, 'relay running');
    this.state = 'running';
    this.lastError = undefined;
  }

  private onFailure(error: unknown): void {
    // Whatever failed, the stream may hold more than this relay knows: read its tail before the next publish.
    this.synced = false;
    const moved = error instanceof StreamMovedError;
    this.backoffMs = moved ? 0 : Math.min(this.options.settings.retryBackoffMsMax ?? 5_000, Math.max(100, this.backoffMs * 2));
    if (moved) {
      this.log.info({ reason: error.message }, 'stream moved under the relay; re-reading its tail');
      return;
    }
    if (this.state !== 'unavailable') this.log.warn({ err: error, retryInMs: this.backoffMs }, 'relay cannot reach NATS or the store; retrying');
    this.state = 'unavailable';
    this.lastError = error instanceof Error ? error.message : String(error);
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }
}
