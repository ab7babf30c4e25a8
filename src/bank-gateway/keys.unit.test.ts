import type { PaymentId, TenantId } from '../domain/ids';
import { END_TO_END_ID_LENGTH_MAX, endToEndIdFor, idempotencyKeyFor } from './keys';

const tenant = (value: string) => value as TenantId;
const payment = (value: string) => value as PaymentId;

describe('bank references derived from (tenant, payment id)', () => {
  it('when derived twice for the same payment, then the key and the reference are identical', () => {
    expect(idempotencyKeyFor(tenant('acme'), payment('p-1'))).toBe(idempotencyKeyFor(tenant('acme'), payment('p-1')));
    expect(endToEndIdFor(tenant('acme'), payment('p-1'))).toBe(endToEndIdFor(tenant('acme'), payment('p-1')));
  });

  it('when derived, then they match a pinned value, so a code change cannot silently re-key payments already at the bank', () => {
    expect(idempotencyKeyFor(tenant('acme'), payment('p-1'))).toMatchInlineSnapshot(`"ps1-26bff185881284ca9630edeed19533148ae8f881bdd9f6446c9ea9b8237bd812"`);
    expect(endToEndIdFor(tenant('acme'), payment('p-1'))).toMatchInlineSnapshot(`"PS153489909D7AAF83834FDA0322E224417"`);
  });

  it('when ids are the longest allowed, then the end-to-end id is still at most 35 safe characters', () => {
    const reference = endToEndIdFor(tenant('t'.repeat(64)), payment('~'.repeat(64)));
    expect(reference.length).toBeLessThanOrEqual(END_TO_END_ID_LENGTH_MAX);
    expect(reference).toMatch(/^[A-Z0-9]{1,35}$/);
  });

  it('when tenant and id are split differently or swapped, then the references differ', () => {
    const pairs: Array<[string, string]> = [['ab', 'c'], ['a', 'bc'], ['c', 'ab'], ['acme', 'p-1'], ['globex', 'p-1']];
    const references = pairs.map(([t, p]) => endToEndIdFor(tenant(t), payment(p)));
    const keys = pairs.map(([t, p]) => idempotencyKeyFor(tenant(t), payment(p)));
    expect(new Set(references).size).toBe(pairs.length);
    expect(new Set(keys).size).toBe(pairs.length);
  });

  it('when many payments are derived, then no two share a reference or a key', () => {
    const count = 10_000;
    const references = new Set<string>();
    const keys = new Set<string>();
    for (let index = 0; index < count; index += 1) {
      references.add(endToEndIdFor(tenant('acme'), payment(`p-${index}`)));
      keys.add(idempotencyKeyFor(tenant('acme'), payment(`p-${index}`)));
    }
    expect(references.size).toBe(count);
    expect(keys.size).toBe(count);
  });

  it('when derived, then the key does not contain the reference (the two are unrelated)', () => {
    const reference = endToEndIdFor(tenant('acme'), payment('p-1'));
    expect(idempotencyKeyFor(tenant('acme'), payment('p-1')).toUpperCase()).not.toContain(reference.slice(3));
  });
});
