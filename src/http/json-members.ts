/**
 * Duplicate member names in a JSON text (RFC 8259 says names SHOULD be unique,
 * RFC 7493 I-JSON says MUST). JSON.parse keeps the last of them silently, so
 * `{"amount":"125.50", …, "amount":"999999.99"}` would book the second amount
 * while a log, a proxy or a reviewer reads the first. The check runs on the raw
 * text, before anything is parsed into an object.
 */
import { parse, type ValueNode } from '@humanwhocodes/momoa';

/** Nested deeper than this is not walked (the schemas refuse such bodies anyway). */
const DEPTH_MAX = 64;

const pointerToken = (name: string) => name.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * The JSON Pointer (RFC 6901) of every member whose name repeats an earlier
 * one in the same object; empty when there is none, or when the text is not
 * JSON at all (the body parser answers that one as malformed).
 */
export function duplicateMemberPointers(text: string): string[] {
  let root: ValueNode;
  try {
    root = parse(text, { mode: 'json' }).body;
  } catch {
    return [];
  }
  const found: string[] = [];
  const walk = (node: ValueNode, pointer: string, depth: number): void => {
    if (depth > DEPTH_MAX) return;
    if (node.type === 'Array') node.elements.forEach((element, index) => walk(element.value, `${pointer}/${index}`, depth + 1));
    if (node.type !== 'Object') return;
    const seen = new Set<string>();
    for (const member of node.members) {
      const name = member.name.type === 'String' ? member.name.value : member.name.name;
      const memberPointer = `${pointer}/${pointerToken(name)}`;
      if (seen.has(name)) found.push(memberPointer);
      seen.add(name);
      walk(member.value, memberPointer, depth + 1);
    }
  };
  walk(root, '', 0);
  return found;
}

/** Thrown from the body parser's verify hook; the problem handler answers it with a 400 naming each member. */
export class DuplicateMemberError extends Error {
  /** body-parser passes `type` through; the problem handler reads it. */
  readonly type = 'entity.duplicate.member';
  constructor(readonly pointers: readonly string[]) {
    super(`duplicate member names: ${pointers.join(', ')}`);
    this.name = 'DuplicateMemberError';
  }
}

/** express.json's `verify` option: refuses a body with a repeated member name before it is parsed. */
export function refuseDuplicateMembers(_req: unknown, _res: unknown, body: Buffer, encoding: string): void {
  let text: string;
  try {
    text = new TextDecoder(encoding).decode(body);
  } catch {
    return; // a charset the parser refuses itself (415)
  }
  const pointers = duplicateMemberPointers(text);
  if (pointers.length > 0) throw new DuplicateMemberError(pointers);
}
