/** zod results to the field problems of a 400 problem: every problem, each with a JSON pointer. */
import type { z } from 'zod';
import { validationProblem, type FieldProblem } from './problem';

export type Location = 'body' | 'query' | 'path' | 'header';

function pointer(location: Location, path: readonly PropertyKey[]): string {
  const escaped = path.map((part) => String(part).replace(/~/g, '~0').replace(/\//g, '~1'));
  const prefix = location === 'body' ? '' : `#/${location}`;
  return `${prefix}/${escaped.join('/')}`.replace(/\/$/, location === 'body' ? '/' : '');
}

export function fieldProblems(location: Location, error: z.ZodError): FieldProblem[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((name) => ({ pointer: pointer(location, [...issue.path, name]), detail: 'unknown field' }));
    }
    return [{ pointer: pointer(location, issue.path), detail: issue.message }];
  });
}

const INPUT_DEPTH_MAX = 32;

const storable = (text: string) => !text.includes('\u0000') && text.isWellFormed();

/**
 * Input no schema should see: strings PostgreSQL cannot store (a NUL character,
 * a lone UTF-16 surrogate from a `\ud800` escape), and the key `__proto__`,
 * which an object built from the input would silently turn into its prototype.
 * Found before any schema runs, so they answer 400 with their pointers instead
 * of failing in the store or vanishing.
 */
export function unreadableInputProblems(location: Location, value: unknown, path: readonly PropertyKey[] = []): FieldProblem[] {
  if (typeof value === 'string') return storable(value) ? [] : [{ pointer: pointer(location, path), detail: 'must not contain NUL characters or unpaired surrogates' }];
  if (value === null || typeof value !== 'object' || path.length >= INPUT_DEPTH_MAX) return [];
  return Object.entries(value).flatMap(([key, item]) => {
    if (key === '__proto__') return [{ pointer: pointer(location, [...path, key]), detail: 'the key __proto__ is reserved' }];
    if (!storable(key)) return [{ pointer: pointer(location, path), detail: 'keys must not contain NUL characters or unpaired surrogates' }];
    return unreadableInputProblems(location, item, [...path, key]);
  });
}

/** Parses every part of a request at once, so one answer lists all of its problems. */
export function parseRequestParts<T extends Partial<Record<Location, unknown>>>(
  parts: { [K in keyof T]: { schema: z.ZodType<T[K]>; value: unknown } },
): T {
  const problems: FieldProblem[] = [];
  const parsed: Partial<T> = {};
  for (const [location, { schema, value }] of Object.entries(parts) as Array<[Location, { schema: z.ZodType; value: unknown }]>) {
    const unreadable = unreadableInputProblems(location, value);
    if (unreadable.length > 0) {
      problems.push(...unreadable);
      continue;
    }
    const result = schema.safeParse(value);
    if (result.success) (parsed as Record<string, unknown>)[location] = result.data;
    else problems.push(...fieldProblems(location, result.error));
  }
  if (problems.length > 0) throw validationProblem(problems);
  return parsed as T;
}
