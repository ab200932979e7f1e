/** Deterministic pseudo-random values for tests that compare backends and kernels. */

/** `n` values in [-1, 1) from a linear congruential sequence seeded by `seed`. */
export function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed * 2654435761 % 2 ** 32;
  for (let i = 0; i < n; i++) {
    s = (1664525 * s + 1013904223) % 2 ** 32;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}
