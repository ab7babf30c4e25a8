/**
 * Configuration is read from environment variables through one schema per
 * section. Every key names its env var, its description and its default, so the
 * same table validates start-up, prints the README's configuration reference
 * (`npm run config:docs`), and names the offending variable when a value is wrong.
 */
import { z } from 'zod';

export interface EnvKey<T> {
  readonly env: string;
  readonly description: string;
  readonly schema: z.ZodType<T>;
  /** Shown in docs; undefined means "required" or "unset". */
  readonly defaultText?: string;
}

export type EnvSection = Readonly<Record<string, EnvKey<unknown>>>;

export type SectionValues<S extends EnvSection> = { [K in keyof S]: S[K] extends EnvKey<infer T> ? T : never };

export function key<T>(env: string, description: string, schema: z.ZodType<T>, defaultText?: string): EnvKey<T> {
  return { env, description, schema, ...(defaultText === undefined ? {} : { defaultText }) };
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** Parses one section; collects every problem instead of stopping at the first. */
export function readSection<S extends EnvSection>(section: S, env: NodeJS.ProcessEnv, problems: string[]): SectionValues<S> {
  const values: Record<string, unknown> = {};
  for (const [name, entry] of Object.entries(section)) {
    const raw = env[entry.env];
    const parsed = entry.schema.safeParse(raw === '' ? undefined : raw);
    if (parsed.success) values[name] = parsed.data;
    else problems.push(`${entry.env}: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`);
  }
  return values as SectionValues<S>;
}

export const booleanFromEnv = z
  .enum(['true', 'false', '1', '0'])
  .transform((value) => value === 'true' || value === '1');

export const integerFromEnv = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const rateFromEnv = z.coerce.number().min(0).max(1);

/**
 * Whether NODE_ENV says production, for the production rules of sections other
 * than the core one (the gateway's bank, the sandbox): they read it themselves,
 * so each module's refusals live beside its own keys.
 */
export function isProduction(env: NodeJS.ProcessEnv): boolean {
  return env['NODE_ENV'] === 'production';
}

export function describeSections(sections: readonly EnvSection[]): string {
  const rows = sections.flatMap((section) =>
    Object.values(section).map((entry) => `| \`${entry.env}\` | ${entry.defaultText ?? '—'} | ${entry.description} |`),
  );
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
