/**
 * Per-call seeds derived from one user seed: the same seed gives the same
 * sequence of draws, while consecutive calls get independent noise (a fixed
 * `seed` passed straight to `tf.randomNormal` would repeat one draw forever).
 */

/** A 32-bit avalanche hash of `(seed, counter)` (the finaliser of MurmurHash3), never 0. */
export function deriveSeed(seed: number, counter: number): number {
  let h = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul((seed / 4294967296) | 0, 0x85ebca6b)) >>> 0;
  h = (h ^ Math.imul(counter + 1, 0xc2b2ae35)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  // tfjs's random ops read a seed of 0 as "no seed" (`seed ? seed : Math.random()`):
  // the one hash value that would make a seeded draw unseeded gets another fixed value.
  return (h >>> 0) || 0x9e3779b9;
}

/** Hands out the derived seeds of one layer, or `undefined` when unseeded. */
export class SeedStream {
  private counter = 0;
  constructor(readonly seed: number|undefined) {}

  next(): number|undefined {
    if (this.seed === undefined) return undefined;
    return deriveSeed(this.seed, this.counter++);
  }

  /** Restarts the sequence from the first draw. */
  reset(): void {
    this.counter = 0;
  }
}
