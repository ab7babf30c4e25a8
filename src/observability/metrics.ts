/**
 * Prometheus metrics (prom-client), one registry per process, with every
 * family paystream exposes declared here so the names, labels and units are in
 * one place (and in docs/metrics.md and docs/grafana-dashboard.json).
 *
 * Rationale for module-level families rather than a registry handed through
 * the factories: a process has exactly one /metrics, the families are created
 * once at import, and an observation is then one call on a pre-made object,
 * cheap enough for the request path (ADR 0013). Gauges that describe a running
 * part (gateway, projector, relay) are read when scraped, from sources the part
 * registers on start and removes on stop.
 *
 * Labels are bounded sets only: route templates, methods, statuses, outcomes,
 * projection names. Never a payment id, tenant, IBAN or key.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });

export const METRICS_CONTENT_TYPE = metricsRegistry.contentType;

const registers = [metricsRegistry];
/** Seconds, from a fast local write to a slow bank call. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const httpRequestDuration = new Histogram({
  name: 'http_server_request_duration_seconds',
  help: 'API requests by route template, method and status code.',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: LATENCY_BUCKETS,
  registers,
});

export const eventStoreAppendDuration = new Histogram({
  name: 'event_store_append_duration_seconds',
  help: 'Appends to the event store, by outcome (ok, wrong_expected_version, unavailable, error).',
  labelNames: ['outcome'] as const,
  buckets: LATENCY_BUCKETS,
  registers,
});

export const eventStoreReadDuration = new Histogram({
  name: 'event_store_read_duration_seconds',
  help: 'Reads from the event store: one stream, or a page of the global log.',
  labelNames: ['operation', 'outcome'] as const,
  buckets: LATENCY_BUCKETS,
  registers,
});

export const bankCallDuration = new Histogram({
  name: 'gateway_bank_call_duration_seconds',
  help: 'Bank calls by the gateway, by operation (submit, lookup) and outcome (accepted, rejected, not_found, in_flight, retryable, unreadable, conflicting, error).',
  labelNames: ['operation', 'outcome'] as const,
  buckets: LATENCY_BUCKETS,
  registers,
});

export const paymentStatusTransitions = new Counter({
  name: 'payment_status_transitions_total',
  help: 'Payments that reached a status (requested, submitted, settled, rejected, unknown, cancelled), counted by the process that recorded it.',
  labelNames: ['status'] as const,
  registers,
});

export const refundStatusTransitions = new Counter({
  name: 'refund_status_transitions_total',
  help: 'Refunds that reached a status (requested, submitted, succeeded, failed, unknown).',
  labelNames: ['status'] as const,
  registers,
});

export const relayEventsPublished = new Counter({
  name: 'relay_events_published_total',
  help: 'Integration events the relay published to JetStream (acked).',
  registers,
});

/** A running part's figures, read at scrape time. */
type Source<T> = () => Promise<T>;

function sourceSet<T>() {
  const sources = new Set<Source<T>>();
  return {
    sources,
    add(source: Source<T>): () => void {
      sources.add(source);
      return () => sources.delete(source);
    },
  };
}

export interface GatewayFigures {
  readonly inFlight: number;
  readonly lagEvents: number;
  readonly parked: number;
  readonly circuit: 'closed' | 'open' | 'half-open';
}

const gatewaySources = sourceSet<GatewayFigures>();
/** Registers a gateway's figures; the returned function removes them (on stop). */
export const registerGatewayMetrics = gatewaySources.add;

async function gatewayFigures(): Promise<GatewayFigures[]> {
  return Promise.all([...gatewaySources.sources].map((source) => source()));
}

new Gauge({
  name: 'gateway_in_flight',
  help: 'Payments the gateway is working on right now.',
  registers,
  async collect() {
    this.set((await gatewayFigures()).reduce((sum, figures) => sum + figures.inFlight, 0));
  },
});
new Gauge({
  name: 'gateway_lag_events',
  help: 'Payment events the gateway has not yet fed into its work queue (counted up to 1000).',
  registers,
  async collect() {
    this.set(Math.max(0, ...(await gatewayFigures()).map((figures) => figures.lagEvents)));
  },
});
new Gauge({
  name: 'gateway_parked',
  help: 'Payments parked for an operator (unknown outcome) in the work queue.',
  registers,
  async collect() {
    this.set(Math.max(0, ...(await gatewayFigures()).map((figures) => figures.parked)));
  },
});
new Gauge({
  name: 'gateway_circuit_state',
  help: "The bank circuit breaker: 1 for the state it is in (closed, half-open, open), 0 for the others.",
  labelNames: ['state'] as const,
  registers,
  async collect() {
    const figures = await gatewayFigures();
    this.reset();
    if (figures.length === 0) return;
    for (const state of ['closed', 'half-open', 'open'] as const) this.set({ state }, figures.some((one) => one.circuit === state) ? 1 : 0);
  },
});

export interface ProjectionFigures {
  readonly projection: string;
  readonly lagEvents: number;
  readonly lagSeconds: number;
}

const projectorSources = sourceSet<readonly ProjectionFigures[]>();
export const registerProjectorMetrics = projectorSources.add;

async function projectionFigures(): Promise<ProjectionFigures[]> {
  return (await Promise.all([...projectorSources.sources].map((source) => source()))).flat();
}

new Gauge({
  name: 'projector_lag_events',
  help: 'Events a projection has not applied yet (counted up to 1000).',
  labelNames: ['projection'] as const,
  registers,
  async collect() {
    this.reset();
    for (const figures of await projectionFigures()) this.set({ projection: figures.projection }, figures.lagEvents);
  },
});
new Gauge({
  name: 'projector_lag_seconds',
  help: 'Age of the oldest event a projection has not applied yet (0 when caught up).',
  labelNames: ['projection'] as const,
  registers,
  async collect() {
    this.reset();
    for (const figures of await projectionFigures()) this.set({ projection: figures.projection }, figures.lagSeconds);
  },
});

export interface RelayFigures {
  readonly lagEvents: number;
  readonly lagSeconds: number;
  readonly streamSequence: number;
  /** The `prepare` half of the last published log position (the event sequence on the SQL stores). */
  readonly positionPrepare: number;
  readonly up: boolean;
}

const relaySources = sourceSet<RelayFigures>();
export const registerRelayMetrics = relaySources.add;

async function relayFigures(): Promise<RelayFigures[]> {
  return Promise.all([...relaySources.sources].map((source) => source()));
}

const relayGauge = (name: string, help: string, pick: (figures: RelayFigures) => number) =>
  new Gauge({
    name,
    help,
    registers,
    async collect() {
      this.reset();
      const figures = await relayFigures();
      if (figures.length > 0) this.set(Math.max(...figures.map(pick)));
    },
  });
relayGauge('relay_lag_events', 'Payment events the relay has not published yet (counted up to 1000).', (figures) => figures.lagEvents);
relayGauge('relay_lag_seconds', 'Age of the oldest event the relay has not published yet (0 when caught up).', (figures) => figures.lagSeconds);
relayGauge('relay_last_published_sequence', 'JetStream stream sequence of the last message the relay knows is on the stream.', (figures) => figures.streamSequence);
relayGauge('relay_last_published_position', 'Log position (prepare part) of the last event the relay knows is on the stream.', (figures) => figures.positionPrepare);
relayGauge('relay_up', '1 while the relay can publish, 0 while NATS or the store is unreachable.', (figures) => (figures.up ? 1 : 0));

/** The text /metrics answers. */
export function renderMetrics(): Promise<string> {
  return metricsRegistry.metrics();
}
