/**
 * The projector's configuration section. Registered with the others in the
 * configuration reference (src/processes/print-config-docs.ts) by whoever owns that file.
 */
import { z } from 'zod';
import { integerFromEnv, key, readSection, type SectionValues } from '../config/env';

export const projectorSection = {
  batchSizeMax: key('PROJECTOR_BATCH_SIZE_MAX', 'Events a projection applies per transaction (and reads per page).', integerFromEnv(1, 10_000).default(500), '500'),
  pollIntervalMs: key('PROJECTOR_POLL_INTERVAL_MS', 'How often an idle projection looks for new events.', integerFromEnv(10, 60_000).default(100), '100'),
  lagLogIntervalMs: key('PROJECTOR_LAG_LOG_INTERVAL_MS', "How often each projection's lag is logged.", integerFromEnv(1_000, 3_600_000).default(30_000), '30000'),
  healthPort: key('PROJECTOR_HEALTH_PORT', 'Port of the projector process\'s /health/live and /health/ready (0 picks a free one).', integerFromEnv(0, 65535).default(3001), '3001'),
  enabled: key('PROJECTOR_ENABLED', 'Whether the all-in-one process runs the projector.', z.enum(['true', 'false']).default('true').transform((value) => value === 'true'), 'true'),
};

export type ProjectorConfig = SectionValues<typeof projectorSection>;

export function readProjectorConfig(env: NodeJS.ProcessEnv, problems: string[]): ProjectorConfig {
  return readSection(projectorSection, env, problems);
}
