/**
 * The noise sources (src/distributions/random.ts) and their generator
 * (src/perf/random_generator.ts: Threefry-2x32-20, Box–Muller normals, sign
 * bits; a WebAssembly SIMD module and a plain-JavaScript twin).
 *
 * Statistical assertions (seeded, so each outcome is fixed; their tolerances
 * are bounds with false-failure probability ≤ P_ASSERTION = 1e-8 each, for
 * any seed): normal mean, variance, Kolmogorov–Smirnov, lag-1 and lag-4
 * correlation, correlation of consecutive seeds, normals against signs of
 * one seed; sign mean and lag-1 correlation — 9 in all.
 */
import * as tf from '@tensorflow/tfjs-core';

import {randomSigns, standardNormal} from '../src/distributions/random';
import {
  fillRandomSigns, fillRandomSignsInMemory, fillStandardNormal, fillStandardNormalInMemory, keyFromSeed, RandomKey,
  randomKernelsAvailable, setRandomImplementation, threefry2x32,
} from '../src/perf/random_generator';
import {deriveSeed} from '../src/util/seed';
import {NODE_BACKENDS, useBackend} from './helpers/backends';
import {
  normalUpperTail, P_ASSERTION, sampleVarianceRatioBounds, useSeededMathRandom, Z_ASSERTION,
} from './helpers/random';

function normals(n: number, key: RandomKey, impl: 'wasm'|'js' = 'wasm'): Float32Array {
  const previous = setRandomImplementation(impl);
  try {
    const out = new Float32Array(n);
    fillStandardNormal(out, key);
    return out;
  } finally {
    setRandomImplementation(previous);
  }
}

function signs(n: number, key: RandomKey, impl: 'wasm'|'js' = 'wasm'): Float32Array {
  const previous = setRandomImplementation(impl);
  try {
    const out = new Float32Array(n);
    fillRandomSigns(out, key);
    return out;
  } finally {
    setRandomImplementation(previous);
  }
}

/** Index of the first element whose bits differ, or −1. */
function firstBitDifference(a: Float32Array, b: Float32Array): number {
  const ai = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const bi = new Uint32Array(b.buffer, b.byteOffset, b.length);
  if (ai.length !== bi.length) return Math.min(ai.length, bi.length);
  for (let i = 0; i < ai.length; i++) if (ai[i] !== bi[i]) return i;
  return -1;
}

function mean(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s / x.length;
}

/** Mean of x_i·y_i over the first n. */
function meanProduct(x: ArrayLike<number>, y: ArrayLike<number>, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i] * y[i];
  return s / n;
}

/** Φ(x) from the helpers' erfc (relative error below 1.2e-7). */
function normalCdf(x: number): number {
  return x >= 0 ? 1 - normalUpperTail(x) : normalUpperTail(-x);
}

describe('Threefry-2x32-20', () => {
  it('gives the known-answer vectors of Random123 (kat_vectors, threefry2x32_20)', () => {
    const r = new Uint32Array(2);
    threefry2x32(0, 0, 0, 0, r);
    expect([r[0], r[1]]).toEqual([0x6b200159, 0x99ba4efe]);
    threefry2x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, r);
    expect([r[0], r[1]]).toEqual([0x1cb996fc, 0xbb002be7]);
    // key (0x13198a2e, 0x03707344), counter (0x243f6a88, 0x85a308d3): the digits of π
    threefry2x32(0x13198a2e, 0x03707344, 0x243f6a88, 0x85a308d3, r);
    expect([r[0], r[1]]).toEqual([0xc4923a9c, 0x483df7a0]);
  });
});

describe('the WebAssembly SIMD module and the JavaScript fallback', () => {
  it('runs in this engine (Node 20 has WebAssembly SIMD)', () => {
    expect(randomKernelsAvailable()).toBe(true);
  });

  // The module writes normals four blocks of 8 at a time and signs two groups of 256 at a time:
  // these lengths take 1 to 9 blocks (every remainder of four, after none, one or two whole passes)
  // and 1 to 4 groups.
  const lengths = [1, 2, 3, 4, 5, 7, 8, 9, 17, 24, 25, 33, 41, 49, 63, 64, 65, 255, 256, 257, 513, 1000, 4099];
  const keys: RandomKey[] = [[0, 0], [1, 0], [0xffffffff, 0xffffffff], keyFromSeed(deriveSeed(42, 3))];

  it('give bit-identical normals for every length and key', () => {
    for (const key of keys) {
      for (const n of lengths) {
        expect({key, n, at: firstBitDifference(normals(n, key, 'wasm'), normals(n, key, 'js'))})
            .toEqual({key, n, at: -1});
      }
    }
    // A large draw: every lane, quadrant and exponent of the log polynomial many times over.
    const big = 784 * 512 + 5;
    expect(firstBitDifference(normals(big, [123, 456], 'wasm'), normals(big, [123, 456], 'js'))).toBe(-1);
  });

  it('give bit-identical signs for every length and key', () => {
    for (const key of keys) {
      for (const n of lengths) {
        expect({key, n, at: firstBitDifference(signs(n, key, 'wasm'), signs(n, key, 'js'))}).toEqual({key, n, at: -1});
      }
    }
    expect(firstBitDifference(signs(256 * 784 + 3, [9, 9], 'wasm'), signs(256 * 784 + 3, [9, 9], 'js'))).toBe(-1);
  });

  it('write into another memory (the wasm backend\'s heap) the same bits: whole blocks by the module, the tail by JavaScript', () => {
    const memory = new WebAssembly.Memory({initial: 2});
    for (const n of [1, 7, 8, 9, 255, 256, 257, 1000, 4099]) {
      for (const key of keys) {
        // At an offset inside the memory, with sentinels on both sides that must survive.
        const offset = 64;
        const all = new Float32Array(memory.buffer);
        all.fill(12345);
        const view = new Float32Array(memory.buffer, 4 * offset, n);
        expect(fillStandardNormalInMemory(memory, view, key)).toBe(true);
        expect({n, key, at: firstBitDifference(view, normals(n, key, 'js'))}).toEqual({n, key, at: -1});
        expect([all[offset - 1], all[offset + n]]).toEqual([12345, 12345]);
        expect(fillRandomSignsInMemory(memory, view, key)).toBe(true);
        expect({n, key, at: firstBitDifference(view, signs(n, key, 'js'))}).toEqual({n, key, at: -1});
        expect([all[offset - 1], all[offset + n]]).toEqual([12345, 12345]);
      }
    }
    // A view of another buffer is refused (and left alone).
    const other = new Float32Array(8);
    expect(fillStandardNormalInMemory(memory, other, [1, 2])).toBe(false);
    expect(Array.from(other)).toEqual(new Array(8).fill(0));
  });

  it('draw a prefix of the key\'s stream: a shorter draw is the start of a longer one', () => {
    const long = normals(1000, [5, 6]);
    const longSigns = signs(1000, [5, 6]);
    for (const n of [1, 7, 9, 500, 999]) {
      expect(firstBitDifference(normals(n, [5, 6]), long.subarray(0, n))).toBe(-1);
      expect(firstBitDifference(signs(n, [5, 6]), longSigns.subarray(0, n))).toBe(-1);
    }
  });

  it('map the integers as documented: element 8b + l is r·cos θ of counter 4b + l, 8b + 4 + l its r·sin θ', () => {
    // Recompute two normals in double precision from the counter's words; float32 rounding of the
    // polynomials is within 1e-5 of the exact Box–Muller values.
    const key: RandomKey = [77, 88];
    const z = normals(16, key);
    const r = new Uint32Array(2);
    for (const [b, l] of [[0, 0], [0, 3], [1, 2]]) {
      threefry2x32(key[0], key[1], 4 * b + l, 0, r);
      const u = Math.fround(r[0]) * 2 ** -32 + 2 ** -33;
      const radius = Math.sqrt(-2 * Math.log(u));
      const theta = (r[1] >>> 30) * Math.PI / 2 + ((r[1] & 0x3fffff) - 2097151.5) * (Math.PI / 2) / 2 ** 22;
      expect(Math.abs(z[8 * b + l] - radius * Math.cos(theta))).toBeLessThan(1e-5 * Math.max(1, radius));
      expect(Math.abs(z[8 * b + 4 + l] - radius * Math.sin(theta))).toBeLessThan(1e-5 * Math.max(1, radius));
    }
  });
});

describe('keys', () => {
  it('map a seed modulo 2^64 to two words, so seeds above 2^32 and 0 are seeds of their own', () => {
    expect(keyFromSeed(0)).toEqual([0, 0]);
    expect(keyFromSeed(7)).toEqual([7, 0]);
    expect(keyFromSeed(2 ** 32 + 7)).toEqual([7, 1]);
    expect(keyFromSeed(Number.MAX_SAFE_INTEGER)).toEqual([0xffffffff, 0x1fffff]);
    expect(firstBitDifference(normals(8, keyFromSeed(7)), normals(8, keyFromSeed(2 ** 32 + 7)))).not.toBe(-1);
    expect(() => keyFromSeed(NaN)).toThrow(/finite number\. Received: seed=NaN/);
  });
});

describe.each(NODE_BACKENDS)('standardNormal and randomSigns on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });
  useSeededMathRandom(2026);

  it('give the generator\'s values, the same on every backend for a seed', () => {
    const z = standardNormal([3, 5], 11);
    expect(z.shape).toEqual([3, 5]);
    expect(z.dtype).toBe('float32');
    expect(firstBitDifference(z.dataSync() as Float32Array, normals(15, keyFromSeed(11)))).toBe(-1);
    const s = randomSigns([7, 9], 11);
    expect(s.shape).toEqual([7, 9]);
    expect(firstBitDifference(s.dataSync() as Float32Array, signs(63, keyFromSeed(11)))).toBe(-1);
    tf.dispose([z, s]);
    // Lengths with and without a tail, on each path (on wasm: straight into the tensor's memory).
    for (const n of [8, 16, 257, 1000, 4099]) {
      const zn = standardNormal([n], 12);
      const sn = randomSigns([n], 12);
      expect({n, at: firstBitDifference(zn.dataSync() as Float32Array, normals(n, keyFromSeed(12), 'js'))}).toEqual({n, at: -1});
      expect({n, at: firstBitDifference(sn.dataSync() as Float32Array, signs(n, keyFromSeed(12), 'js'))}).toEqual({n, at: -1});
      tf.dispose([zn, sn]);
    }
  });

  it('repeat for a seed, differ between seeds, and take unseeded keys from Math.random', () => {
    const [a, b, c] = [standardNormal([100], 3), standardNormal([100], 3), standardNormal([100], 4)];
    expect(firstBitDifference(a.dataSync() as Float32Array, b.dataSync() as Float32Array)).toBe(-1);
    expect(firstBitDifference(a.dataSync() as Float32Array, c.dataSync() as Float32Array)).not.toBe(-1);
    const restore = Math.random;
    let u1: Float32Array, u2: Float32Array, u3: Float32Array, s1: Float32Array, s2: Float32Array;
    try {
      let state = 1;
      Math.random = () => ((state = (state * 48271) % 2147483647) / 2147483647);
      u1 = standardNormal([50]).dataSync() as Float32Array;
      s1 = randomSigns([50]).dataSync() as Float32Array;
      u3 = standardNormal([50]).dataSync() as Float32Array;
      state = 1;
      u2 = standardNormal([50]).dataSync() as Float32Array;
      s2 = randomSigns([50]).dataSync() as Float32Array;
    } finally {
      Math.random = restore;
    }
    expect(firstBitDifference(u1, u2)).toBe(-1);
    expect(firstBitDifference(s1, s2)).toBe(-1);
    expect(firstBitDifference(u1, u3)).not.toBe(-1);
    tf.dispose([a, b, c]);
  });

  it('take any shape, including empty and scalar ones, and reject others naming the argument', () => {
    for (const shape of [[], [0], [2, 0, 3], [1], [7], [3, 1, 5]]) {
      const z = standardNormal(shape, 1);
      const s = randomSigns(shape, 1);
      expect(z.shape).toEqual(shape);
      expect(s.shape).toEqual(shape);
      expect(z.size).toBe(tf.util.sizeFromShape(shape));
      expect(Array.from(s.dataSync()).every((v) => v === 1 || v === -1)).toBe(true);
      tf.dispose([z, s]);
    }
    expect(() => standardNormal([2, -1])).toThrow(/standardNormal: expected shape to be an array of non-negative integers\. Received: shape=\[2,-1\]/);
    expect(() => randomSigns([1.5])).toThrow(/randomSigns: expected shape .*Received: shape=\[1\.5\]/);
  });

  it('leak no tensors', () => {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      standardNormal([64, 33], 5);
      randomSigns([64, 33], 5);
      standardNormal([10]);
    });
    tf.dispose(standardNormal([4], 1));
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('the draws\' distribution (seeded; each bound fails falsely with probability ≤ 1e-8 for any seed)', () => {
  const N = 1 << 20;
  const z = normals(N, keyFromSeed(deriveSeed(2026, 0)));

  it('normals: mean 0 and variance 1', () => {
    // Mean of N independent N(0, 1): standard error 1/√N; |mean| ≤ 5.75/√N (P = 8.9e-9).
    expect(Math.abs(mean(z))).toBeLessThan(Z_ASSERTION / Math.sqrt(N));
    // Sample variance: the χ²(N − 1) interval of Laurent & Massart for P_ASSERTION.
    const m = mean(z);
    let ss = 0;
    for (let i = 0; i < N; i++) ss += (z[i] - m) ** 2;
    const {lo, hi} = sampleVarianceRatioBounds(N, P_ASSERTION);
    expect(ss / (N - 1)).toBeGreaterThan(lo);
    expect(ss / (N - 1)).toBeLessThan(hi);
  });

  it('normals: Kolmogorov–Smirnov distance to Φ', () => {
    // Dvoretzky–Kiefer–Wolfowitz with Massart's constant: P(√N·D > t) ≤ 2e^{−2t²} for every N;
    // 2e^{−2t²} = 1e-8 at t = 3.09. The generator's truncation at |z| = 6.8 (mass 1e-11) and Φ's
    // error (1.2e-7 relative) shift D by far less than t/√N = 3e-3.
    const t = Math.sqrt(Math.log(2 / P_ASSERTION) / 2);
    expect(2 * Math.exp(-2 * t * t)).toBeLessThanOrEqual(P_ASSERTION * 1.0001);
    const sorted = Float64Array.from(z).sort();
    let d = 0;
    for (let i = 0; i < N; i++) {
      const c = normalCdf(sorted[i]);
      d = Math.max(d, (i + 1) / N - c, c - i / N);
    }
    expect(Math.sqrt(N) * d).toBeLessThan(t);
  });

  it('normals: uncorrelated neighbours, the two halves of one Box–Muller pair, and consecutive seeds', () => {
    // For independent N(0, 1) draws the products z_i·z_{i+k} (k ≥ 1) are uncorrelated with variance 1, so
    // their mean has standard error 1/√n (a martingale difference sum: the normal bound holds).
    const n = N - 4;
    expect(Math.abs(meanProduct(z, z.subarray(1), n))).toBeLessThan(Z_ASSERTION / Math.sqrt(n));
    // Lag 4 pairs r·cos θ with r·sin θ of one counter inside each block of 8.
    expect(Math.abs(meanProduct(z, z.subarray(4), n))).toBeLessThan(Z_ASSERTION / Math.sqrt(n));
    // The layers' consecutive derived seeds: independent streams, z·z' of variance 1.
    const next = normals(N, keyFromSeed(deriveSeed(2026, 1)));
    expect(Math.abs(meanProduct(z, next, N))).toBeLessThan(Z_ASSERTION / Math.sqrt(N));
  });

  it('signs: balanced, independent of their neighbours and of the normals of the same seed', () => {
    const s = signs(N, keyFromSeed(deriveSeed(2026, 0)));
    // Mean of N fair ±1: a symmetric binomial with standard error 1/√N; at N = 2^20 its tail at 5.75
    // standard errors is the normal one (8.9e-9) to within a relative O(z⁴/N) = 1e-3.
    expect(Math.abs(mean(s))).toBeLessThan(Z_ASSERTION / Math.sqrt(N));
    // s_i·s_{i+1}, i < N − 1, are themselves N − 1 independent fair signs.
    expect(Math.abs(meanProduct(s, s.subarray(1), N - 1))).toBeLessThan(Z_ASSERTION / Math.sqrt(N - 1));
    // s·z for the same seed's normals: mean 0, variance 1, independent terms if the streams are.
    expect(Math.abs(meanProduct(s, z, N))).toBeLessThan(Z_ASSERTION / Math.sqrt(N));
  });
});
