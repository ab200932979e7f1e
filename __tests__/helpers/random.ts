/**
 * Seeded pseudo-random values for the test suites, and the tail bounds their
 * statistical assertions are derived from (see docs/testing.md).
 *
 * Every generator here is a pure function of its seed, so fixtures are the
 * same on every run and every backend.
 */

// ------------------------------------------------------------ generators

/** mulberry32: a small 32-bit seeded generator of uniforms in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` uniforms in [0, 1) from mulberry32(seed), as float32 (the sequence of helpers/vae.ts's `uniformArray`). */
export function uniformArray(n: number, seed: number): Float32Array {
  const next = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = next();
  return out;
}

/** `n` uniforms in [lo, hi) (float32 uniforms of `uniformArray` rescaled in float64). */
export function uniform(n: number, seed: number, lo = 0, hi = 1): number[] {
  return Array.from(uniformArray(n, seed), (u) => lo + (hi - lo) * u);
}

/** `n` standard normals: Box–Muller (cosine branch) on the uniforms `uniformArray(2n, seed)`. */
export function normal(n: number, seed: number): number[] {
  const u = uniformArray(2 * n, seed);
  return Array.from({length: n}, (_, i) => Math.sqrt(-2 * Math.log(1 - u[2 * i])) * Math.cos(2 * Math.PI * u[2 * i + 1]));
}

/**
 * `n` values in [-1, 1) from a linear congruential sequence seeded by `seed`
 * (the kernel and backend comparisons' inputs; re-exported by helpers/values.ts).
 */
export function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed * 2654435761 % 2 ** 32;
  for (let i = 0; i < n; i++) {
    s = (1664525 * s + 1013904223) % 2 ** 32;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/**
 * Replaces `Math.random` by mulberry32(seed) until the returned function is
 * called. tfjs draws from `Math.random` wherever no seed is given: the seed of
 * an unseeded `tf.randomNormal`/`tf.randomUniform` (so unseeded initializers
 * and unseeded layers' noise) and `model.fit`'s shuffling of the examples.
 */
export function seedMathRandom(seed: number): () => void {
  const original = Math.random;
  Math.random = mulberry32(seed);
  return () => {
    Math.random = original;
  };
}

/**
 * Seeds `Math.random` afresh before each test of the calling file (and
 * restores it after), so every test's unseeded draws are a fixed function of
 * `seed`, independent of which tests ran before it.
 */
export function useSeededMathRandom(seed: number): void {
  let restore: (() => void)|null = null;
  beforeEach(() => {
    restore = seedMathRandom(seed);
  });
  afterEach(() => {
    restore?.();
    restore = null;
  });
}

// ------------------------------------------------------------ tail bounds

/**
 * The false-failure budget of one statistical assertion (see docs/testing.md,
 * "The budget": every test file far below 1e-6; the whole Node run, about 114
 * such units, below 1.2e-6 by the union bound).
 */
export const P_ASSERTION = 1e-8;

/** z with P(|N(0, 1)| > z) = 8.9e-9 ≤ P_ASSERTION: the half-width, in standard errors, for a normal estimator. */
export const Z_ASSERTION = 5.75;

/**
 * erfc(x) for x ≥ 0, with relative error below 1.2e-7 (Numerical Recipes'
 * Chebyshev fit), ample for tail probabilities down to 1e-300.
 */
function erfc(x: number): number {
  const t = 1 / (1 + 0.5 * x);
  const poly = -x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
      t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return t * Math.exp(poly);
}

/** P(Z > z) for a standard normal Z. */
export function normalUpperTail(z: number): number {
  return z >= 0 ? 0.5 * erfc(z / Math.SQRT2) : 1 - 0.5 * erfc(-z / Math.SQRT2);
}

/** P(|Z| > z) for a standard normal Z, z ≥ 0. */
export function normalTwoSidedTail(z: number): number {
  return erfc(z / Math.SQRT2);
}

/**
 * An interval holding X ~ χ²_k with probability ≥ 1 − p, from Laurent &
 * Massart (2000, Lemma 1): P(X ≥ k + 2√(kx) + 2x) ≤ e^(−x) and
 * P(X ≤ k − 2√(kx)) ≤ e^(−x), with e^(−x) = p/2. A bound, not an
 * approximation: it holds for every k, whatever the skewness of χ²_k.
 */
export function chiSquareInterval(k: number, p: number): {lo: number, hi: number} {
  const x = Math.log(2 / p);
  return {lo: Math.max(0, k - 2 * Math.sqrt(k * x)), hi: k + 2 * Math.sqrt(k * x) + 2 * x};
}

/**
 * Bounds on the unbiased sample variance s² of n independent N(μ, σ²) draws,
 * as multiples of σ²: (n − 1)s²/σ² ~ χ²_{n−1}, so s²/σ² lies in the returned
 * [lo, hi] with probability ≥ 1 − p (see chiSquareInterval).
 */
export function sampleVarianceRatioBounds(n: number, p: number): {lo: number, hi: number} {
  const {lo, hi} = chiSquareInterval(n - 1, p);
  return {lo: lo / (n - 1), hi: hi / (n - 1)};
}
