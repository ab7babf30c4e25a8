/**
 * Ids made in the request path (request ids, the sandbox's transfer ids): ULIDs,
 * so they sort by creation time, from a monotonic factory, so two made in the
 * same millisecond by one process still sort in the order they were made.
 *
 * Rationale: ulid's default source asks the operating system for one random
 * byte per character (16 calls per id, each with its own buffer); that was 5% of
 * the API's CPU under load. Here the randomness comes from a pool refilled with
 * one `randomFillSync` call every `RANDOM_POOL_BYTES` bytes: the same
 * cryptographic source, about a thousand times fewer calls. See
 * docs/adr/0013-lean-request-path.md.
 */
import { randomFillSync } from 'node:crypto';
import { monotonicFactory } from 'ulid';

/** Bytes drawn from the operating system at once: 256 ids' worth of random characters. */
export const RANDOM_POOL_BYTES = 4_096;

/**
 * A uniform number in [0, 1) from the next pooled byte, as ulid's PRNG contract
 * asks. ulid maps it to one of 32 characters with floor(x × 32), so a byte
 * (256 values, a multiple of 32) gives every character the same chance.
 */
export function createPooledRandom(poolBytes: number = RANDOM_POOL_BYTES): () => number {
  if (!Number.isInteger(poolBytes) || poolBytes < 1) throw new RangeError('poolBytes must be a positive integer');
  const pool = Buffer.allocUnsafe(poolBytes);
  let next = poolBytes;
  return () => {
    if (next === poolBytes) {
      randomFillSync(pool);
      next = 0;
    }
    return pool[next++]! / 256;
  };
}

export type NewId = () => string;

/** A monotonic ULID factory over a random pool of its own. */
export function createUlidFactory(poolBytes: number = RANDOM_POOL_BYTES): NewId {
  const ulid = monotonicFactory(createPooledRandom(poolBytes));
  return () => ulid();
}
