/**
 * JSON with object members in code-point order at every depth (arrays keep
 * their order, undefined members are left out). Two values are the same data
 * exactly when their canonical texts are equal, whatever order their members
 * came in: a stored JSON document (PostgreSQL jsonb) does not keep the order
 * it was written in.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const members = Object.keys(record)
      .sort()
      .filter((name) => record[name] !== undefined)
      .map((name) => `${JSON.stringify(name)}:${canonicalJson(record[name])}`);
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}
