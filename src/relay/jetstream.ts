/**
 * The relay's port to NATS JetStream, and its adapter. The port is four calls:
 * make sure the stream exists, read the stream's last relayed message, publish
 * one message under an expected last stream sequence, and close.
 *
 * Rationale for the expected last sequence (`Nats-Expected-Last-Sequence`):
 * `Nats-Msg-Id` deduplicates only inside the stream's duplicate window (two
 * minutes by default). A publish whose ack was lost in an outage longer than
 * that would land twice on a blind resend. With the sequence the relay
 * believes is last, the server refuses a publish when anything landed after
 * it, however long ago, and the relay reads the stream's tail to learn which
 * event that was. The relay is the only writer of its subjects (`<prefix>.>`).
 */
import { connect, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { JetStreamApiCodes, JetStreamApiError, jetstream, jetstreamManager, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { formatPosition, parsePosition, type GlobalPosition } from '../event-store/port';
import type { Logger } from '../logging';
import type { IntegrationMessage } from './integration-events';

/** The header that carries the event's log position on every message: how the relay finds its place on the stream. */
export const POSITION_HEADER = 'Paystream-Log-Position';

export interface StreamTail {
  /** The stream sequence of the last message on the relay's subjects; 0 when there is none. */
  readonly sequence: number;
  /** The log position of the event that message carries. */
  readonly position: GlobalPosition | undefined;
}

export interface PublishAck {
  readonly sequence: number;
  /** JetStream had this message id within its duplicate window already. */
  readonly duplicate: boolean;
}

/** Something landed on the stream after the sequence the relay expected: read the tail and find the place again. */
export class StreamMovedError extends Error {
  override readonly name = 'StreamMovedError';
}

export interface IntegrationPublisher {
  ensureStream(): Promise<void>;
  tail(): Promise<StreamTail>;
  publish(message: IntegrationMessage, position: GlobalPosition, expectedLastSequence: number): Promise<PublishAck>;
  close(): Promise<void>;
}

export interface JetStreamSettings {
  readonly servers: string;
  readonly streamName: string;
  readonly subjectPrefix: string;
  readonly publishTimeoutMs: number;
  readonly logger: Logger;
}

/** Server-side error code of a failed `Nats-Expected-Last-Sequence` check. */
const WRONG_LAST_SEQUENCE = 10071;
const TWO_MINUTES_NS = 120_000_000_000;

/** Connects (failing if NATS does not answer now; the relay retries) and returns the publisher. */
export async function connectJetStream(settings: JetStreamSettings): Promise<IntegrationPublisher> {
  const connection = await connect({
    servers: settings.servers.split(',').map((server) => server.trim()),
    name: 'paystream-relay',
    // Once connected, ride out any outage: the relay's own checks make resends safe.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    timeout: settings.publishTimeoutMs,
  });
  void watchStatus(connection, settings.logger);
  try {
    const manager = await jetstreamManager(connection, { timeout: settings.publishTimeoutMs });
    return new JetStreamPublisher(connection, manager, jetstream(connection, { timeout: settings.publishTimeoutMs }), settings);
  } catch (error) {
    await connection.close().catch(() => undefined);
    throw error;
  }
}

async function watchStatus(connection: NatsConnection, logger: Logger): Promise<void> {
  for await (const status of connection.status()) {
    if (status.type === 'disconnect' || status.type === 'reconnect') logger.warn({ nats: status.type, server: 'server' in status ? status.server : undefined }, 'NATS connection changed');
  }
}

class JetStreamPublisher implements IntegrationPublisher {
  private readonly subjects: string;

  constructor(
    private readonly connection: NatsConnection,
    private readonly manager: JetStreamManager,
    private readonly client: JetStreamClient,
    private readonly settings: JetStreamSettings,
  ) {
    this.subjects = `${settings.subjectPrefix}.>`;
  }

  async ensureStream(): Promise<void> {
    try {
      await this.manager.streams.info(this.settings.streamName);
      return;
    } catch (error) {
      if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)) throw error;
    }
    // Identical concurrent adds succeed, so two relays starting at once both go on.
    await this.manager.streams.add({ name: this.settings.streamName, subjects: [this.subjects], storage: StorageType.File, duplicate_window: TWO_MINUTES_NS });
    this.settings.logger.info({ stream: this.settings.streamName, subjects: this.subjects }, 'JetStream stream created');
  }

  async tail(): Promise<StreamTail> {
    const last = await this.manager.streams.getMessage(this.settings.streamName, { last_by_subj: this.subjects });
    if (!last) return { sequence: 0, position: undefined };
    const text = last.header?.get(POSITION_HEADER);
    const position = text ? parsePosition(text) : undefined;
    if (!position) throw new Error(`the last message on ${this.subjects} (sequence ${last.seq}) carries no ${POSITION_HEADER} header: another writer publishes on the relay's subjects`);
    return { sequence: last.seq, position };
  }

  async publish(message: IntegrationMessage, position: GlobalPosition, expectedLastSequence: number): Promise<PublishAck> {
    const headers = natsHeaders();
    headers.set(POSITION_HEADER, formatPosition(position));
    headers.set('Content-Type', 'application/cloudevents+json');
    try {
      const ack = await this.client.publish(message.subject, JSON.stringify(message.event), {
        msgID: message.event.id,
        headers,
        expect: { lastSequence: expectedLastSequence },
        timeout: this.settings.publishTimeoutMs,
      });
      return { sequence: ack.seq, duplicate: ack.duplicate };
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === WRONG_LAST_SEQUENCE) throw new StreamMovedError(error.message, { cause: error });
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.connection.drain().catch(() => this.connection.close());
  }
}
