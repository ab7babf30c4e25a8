/**
 * Query-string pieces every keyset list shares (the analyst and the operator
 * lists), so both refuse the same input the same way: a strict whole number
 * and an opaque cursor holding the last key of a page.
 */
import { z } from 'zod';

/**
 * Digits only, checked in one refinement so a bad value is one problem, not
 * one per rule broken. Number() and z.coerce would also take "1e1", "0x10" and " 1".
 */
export const wholeNumberText = (min: number, max: number) =>
  z.string().refine((text) => /^[0-9]{1,9}$/.test(text) && Number(text) >= min && Number(text) <= max, `must be a whole number from ${min} to ${max}`);

export const encodeCursorParts = (parts: readonly string[]): string => Buffer.from(JSON.stringify(parts), 'utf8').toString('base64url');

/**
 * The key parts of a cursor this API gave out, or undefined. Each part must
 * pass its check, and the text must be exactly what encodeCursorParts makes of
 * them: a cursor comes back from the client, and what it holds goes into SQL,
 * where a NUL character or an impossible time is a server error, not a 400.
 */
export function decodeCursorParts(text: string, checks: ReadonlyArray<(part: string) => boolean>): string[] | undefined {
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parts) || parts.length !== checks.length) return undefined;
  if (!parts.every((part, index) => typeof part === 'string' && checks[index]!(part))) return undefined;
  return encodeCursorParts(parts as string[]) === text ? (parts as string[]) : undefined;
}
