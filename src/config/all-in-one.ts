/**
 * Switches of the all-in-one process (`npm start`): which of the separately
 * deployable parts it runs besides the API. The projector's own switch is
 * PROJECTOR_ENABLED in its section.
 */
import { booleanFromEnv, isProduction, key, readSection, type SectionValues } from './env';

export const allInOneSection = {
  gatewayEnabled: key('GATEWAY_ENABLED', 'Whether the all-in-one process runs the bank gateway.', booleanFromEnv.default(true), 'true'),
  bankSandboxEnabled: key(
    'BANK_SANDBOX_ENABLED',
    'Whether the all-in-one process runs the sandbox bank and points the gateway at it (BANK_URL is then ignored). With NODE_ENV=production the default is false and true is refused.',
    booleanFromEnv.optional(),
    'true (false with NODE_ENV=production)',
  ),
};

export type AllInOneConfig = Omit<SectionValues<typeof allInOneSection>, 'bankSandboxEnabled'> & { readonly bankSandboxEnabled: boolean };

export function readAllInOneConfig(env: NodeJS.ProcessEnv, problems: string[]): AllInOneConfig {
  const section = readSection(allInOneSection, env, problems);
  const production = isProduction(env);
  // Rationale: an explicit request is refused rather than ignored, so nobody believes a sandbox is running.
  if (production && section.bankSandboxEnabled === true) {
    problems.push('BANK_SANDBOX_ENABLED: the sandbox bank is refused when NODE_ENV=production (unset it or set false, and point BANK_URL at your bank)');
  }
  return { ...section, bankSandboxEnabled: section.bankSandboxEnabled ?? !production };
}
