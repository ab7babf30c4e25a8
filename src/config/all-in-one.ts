/**
 * Switches of the all-in-one process (`npm start`): which of the separately
 * deployable parts it runs besides the API. The projector's own switch is
 * PROJECTOR_ENABLED in its section.
 */
import { booleanFromEnv, key, readSection, type SectionValues } from './env';

export const allInOneSection = {
  gatewayEnabled: key('GATEWAY_ENABLED', 'Whether the all-in-one process runs the bank gateway.', booleanFromEnv.default(true), 'true'),
  bankSandboxEnabled: key(
    'BANK_SANDBOX_ENABLED',
    'Whether the all-in-one process runs the sandbox bank and points the gateway at it (BANK_URL is then ignored).',
    booleanFromEnv.default(true),
    'true',
  ),
};

export type AllInOneConfig = SectionValues<typeof allInOneSection>;

export function readAllInOneConfig(env: NodeJS.ProcessEnv, problems: string[]): AllInOneConfig {
  return readSection(allInOneSection, env, problems);
}
