/**
 * The relay module's factory: the relay process, the all-in-one process and
 * the tests build the relay through this, from the relay's configuration.
 */
import type { Database } from '../db/database';
import type { EventStore } from '../event-store/port';
import type { Logger } from '../logging';
import type { ProcessModule } from '../shared/process-module';
import type { ReadinessCheck } from '../shared/readiness';
import type { RelayConfig } from './config';

export { readRelayConfig } from './config';
import { createRelayCrashPoint } from './crash-points';
import { connectJetStream } from './jetstream';
import { createRelay, type Relay } from './relay';
import { registerRelayMetrics } from '../observability/metrics';

export interface RelayModuleOptions {
  /** NATS_URL must be set: without it there is no relay to build. */
  readonly config: RelayConfig;
  readonly nodeEnv: string | undefined;
  readonly store: EventStore;
  readonly database: Database;
  readonly logger: Logger;
  /**
   * Whether a relay that cannot publish makes its process not ready. True for
   * the relay process; false in the all-in-one, whose API takes payments while
   * NATS is down (the relay catches up), so it only reports.
   */
  readonly readinessGates?: boolean;
}

export interface RelayModule extends ProcessModule {
  readonly relay: Relay;
}

export function createRelayModule(options: RelayModuleOptions): RelayModule {
  const { config, logger } = options;
  const servers = config.natsUrl;
  if (servers === undefined) throw new Error('NATS_URL is required: the relay has nowhere to publish');
  const relayLogger = logger.child({ component: 'relay' });
  const relay = createRelay({
    store: options.store,
    database: options.database,
    logger,
    settings: { streamName: config.streamName, subjectPrefix: config.subjectPrefix, source: config.source, batchSizeMax: config.batchSizeMax, pollIntervalMs: config.pollIntervalMs },
    connect: () => connectJetStream({ servers, streamName: config.streamName, subjectPrefix: config.subjectPrefix, publishTimeoutMs: config.publishTimeoutMs, logger: relayLogger }),
    crashPoint: createRelayCrashPoint(config.crashPoints, options.nodeEnv, relayLogger),
  });
  const readiness: ReadinessCheck = options.readinessGates === false ? async () => ({ healthy: true, details: (await relay.readiness()).details ?? {} }) : relay.readiness;
  let unregister: (() => void) | undefined;
  const figures = async () => {
    const [lag, status] = [await relay.lag(), relay.status()];
    return { lagEvents: lag.eventsBehind, lagSeconds: lag.secondsBehind, streamSequence: status.streamSequence, positionPrepare: Number(status.position?.prepare ?? 0n), up: status.state === 'running' };
  };
  return {
    relay,
    async start() {
      await relay.start();
      unregister = registerRelayMetrics(figures);
    },
    async stop() {
      unregister?.();
      await relay.stop();
    },
    readinessChecks: new Map([['relay', readiness]]),
  };
}
