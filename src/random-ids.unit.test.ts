import { decodeTime, isValid } from 'ulid';
import { createPooledRandom, createUlidFactory } from './random-ids';

describe('pooled random ids', () => {
  it('when many ids are made in one millisecond, then each is a valid ULID and they sort in the order they were made', () => {
    const newId = createUlidFactory();
    const ids = Array.from({ length: 5_000 }, () => newId());
    expect(ids.every(isValid)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    const now = Date.now();
    expect(Math.abs(decodeTime(ids[ids.length - 1]!) - now)).toBeLessThan(5_000);
  });

  it('when the pool is used up, then it is refilled with fresh bytes, not replayed', () => {
    const random = createPooledRandom(8);
    const first = Array.from({ length: 8 }, random);
    const second = Array.from({ length: 8 }, random);
    expect(first.every((value) => value >= 0 && value < 1)).toBe(true);
    // Eight equal bytes twice in a row has a chance of 2^-64.
    expect(second).not.toEqual(first);
  });

  it('when drawn many times, then every one of the 32 ULID characters comes up about equally often', () => {
    const random = createPooledRandom();
    const counts = new Array<number>(32).fill(0);
    const draws = 320_000;
    for (let index = 0; index < draws; index++) counts[Math.floor(random() * 32)]! += 1;
    for (const count of counts) expect(Math.abs(count - draws / 32)).toBeLessThan(draws / 32 / 10);
  });

  it('when the pool size is not a positive integer, then it is refused', () => {
    expect(() => createPooledRandom(0)).toThrow(RangeError);
    expect(() => createPooledRandom(1.5)).toThrow(RangeError);
  });
});
