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

/** Parses every part of a request at once, so one answer lists all of its problems. */
export function parseRequestParts<T extends Partial<Record<Location, unknown>>>(
  parts: { [K in keyof T]: { schema: z.ZodType<T[K]>; value: unknown } },
): T {
  const problems: FieldProblem[] = [];
  const parsed: Partial<T> = {};
  for (const [location, { schema, value }] of Object.entries(parts) as Array<[Location, { schema: z.ZodType; value: unknown }]>) {
    const result = schema.safeParse(value);
    if (result.success) (parsed as Record<string, unknown>)[location] = result.data;
    else problems.push(...fieldProblems(location, result.error));
  }
  if (problems.length > 0) throw validationProblem(problems);
  return parsed as T;
}
