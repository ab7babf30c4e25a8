/**
 * The health endpoints of a process that serves no API (gateway, projector):
 * /health/live and /health/ready for the platform's probes, and /metrics for
 * Prometheus.
 */
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import express from 'express';
import type { Logger } from '../logging';
import type { ProcessModule } from '../shared/process-module';
import type { ReadinessChecks } from '../shared/readiness';
import { createHealthRouter } from './health';
import { METRICS_CONTENT_TYPE, renderMetrics } from '../observability/metrics';

export interface HealthServerOptions {
  /** Names the process in the log line ("gateway health endpoints listening"). */
  readonly name: string;
  readonly checks: ReadinessChecks;
  readonly port: number;
  readonly host: string;
  readonly logger: Logger;
}

export function createHealthServerModule(options: HealthServerOptions): ProcessModule {
  let server: Server | undefined;
  return {
    async start() {
      const app = express().use(createHealthRouter(options.checks));
      // Not public (a platform port): Prometheus scrapes it without a key (docs/metrics.md).
      app.get('/metrics', (_req, res, next) => void renderMetrics().then((text) => res.type(METRICS_CONTENT_TYPE).send(text), next));
      const listening = createServer(app);
      await new Promise<void>((resolve, reject) => {
        listening.once('error', reject);
        listening.listen(options.port, options.host, () => {
          listening.off('error', reject);
          resolve();
        });
      });
      server = listening;
      const address = listening.address() as AddressInfo;
      options.logger.info({ address, host: options.host, port: address.port }, `${options.name} health endpoints listening`);
    },
    stop: async () => {
      server?.close();
    },
    readinessChecks: new Map(),
  };
}
