/**
 * Loads the configuration a process needs from its sections, all at once, and
 * refuses to start with a message naming every wrong variable.
 */
import { ConfigError } from './env';

export { ConfigError } from './env';
export { readCoreConfig, coreSection, type CoreConfig, type ApiKeyEntry } from './core';

export type SectionReader<T> = (env: NodeJS.ProcessEnv, problems: string[]) => T;

export function loadConfig<T extends Record<string, unknown>>(
  readers: { [K in keyof T]: SectionReader<T[K]> },
  env: NodeJS.ProcessEnv = process.env,
): T {
  const problems: string[] = [];
  const config = {} as T;
  for (const name of Object.keys(readers) as Array<keyof T>) config[name] = readers[name](env, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
