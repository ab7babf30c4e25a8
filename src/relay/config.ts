/**
 * The relay's configuration section. Without NATS_URL there is no relay: the
 * relay process refuses to start and the all-in-one process runs without one.
 */
import { z } from 'zod';
import { integerFromEnv, key, readSection, type SectionValues } from '../config/env';

/** A NATS stream name: no spaces, dots, wildcards or path separators. */
const STREAM_NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** The first subject token(s): lower-case tokens separated by dots, no wildcards. */
const SUBJECT_PREFIX = /^[a-z0-9_-]{1,32}(\.[a-z0-9_-]{1,32}){0,3}$/;

export const relaySection = {
  natsUrl: key('NATS_URL', 'NATS server(s) the relay publishes integration events to, e.g. nats://127.0.0.1:4222 (comma-separated for a cluster); unset: no relay.', z.string().regex(/^(nats|tls|wss?):\/\/[^\s]+$|^[^\s:/]+:\d+(,[^\s:/]+:\d+)*$/, 'must be nats://host:port (or host:port)').optional()),
  streamName: key('NATS_STREAM', 'JetStream stream the relay publishes to; created when missing.', z.string().regex(STREAM_NAME, 'letters, digits, _ and - only').default('PAYSTREAM'), 'PAYSTREAM'),
  subjectPrefix: key('NATS_SUBJECT_PREFIX', 'First subject token(s) of every integration event: `<prefix>.<tenant>.payment.<event>`; the stream captures `<prefix>.>`.', z.string().regex(SUBJECT_PREFIX, 'lower-case tokens separated by dots').default('paystream'), 'paystream'),
  source: key('RELAY_SOURCE', 'CloudEvents `source` of every integration event (a URI reference naming this service).', z.string().min(1).max(200).default('urn:paystream:payments'), 'urn:paystream:payments'),
  batchSizeMax: key('RELAY_BATCH_SIZE_MAX', 'Events the relay reads per page and publishes before it writes its checkpoint.', integerFromEnv(1, 1_000).default(100), '100'),
  pollIntervalMs: key('RELAY_POLL_INTERVAL_MS', 'How often an idle relay looks for new events.', integerFromEnv(10, 60_000).default(100), '100'),
  publishTimeoutMs: key('RELAY_PUBLISH_TIMEOUT_MS', 'Longest the relay waits for one JetStream ack before it counts the publish as failed (and re-checks the stream before trying again).', integerFromEnv(100, 60_000).default(5_000), '5000'),
  healthPort: key('RELAY_HEALTH_PORT', "Port of the relay process's /health/live, /health/ready (lag, last published position) and /metrics, on HOST (0 picks a free one).", integerFromEnv(0, 65535).default(3003), '3003'),
  crashPoints: key('RELAY_CRASH_POINTS', 'Tests only, refused in production: `after-publish-before-checkpoint`, optionally `@probability` (see docs/integration-events.md).', z.string().max(200).optional()),
};

export type RelayConfig = SectionValues<typeof relaySection>;

export function readRelayConfig(env: NodeJS.ProcessEnv, problems: string[]): RelayConfig {
  return readSection(relaySection, env, problems);
}
