/**
 * The noise sources of the library's stochastic layers: standard normal
 * draws and random signs, seeded or not. Every weight-noise draw of the
 * Bayesian layers goes through these two functions.
 *
 * Both come from one counter-based generator (Threefry-2x32-20, normals by
 * Box–Muller; `src/perf/random_generator.ts`), run by a small WebAssembly
 * SIMD module of our own where the engine has WebAssembly SIMD and by plain
 * JavaScript giving the same bits elsewhere. A draw depends only on the seed
 * and the element's index: the same seed gives the same tensor on every
 * backend, and a longer draw with the same seed starts with the shorter one.
 * Normals and signs of one seed come from separate streams (independent).
 * Without a seed, the key is taken from `Math.random`.
 *
 * Cost on the wasm backend for 784×512 draws: about 1 ms, against 12–20 ms
 * for `tf.randomNormal`, which draws in JavaScript one element at a time
 * (see docs/performance.md).
 */
import * as tf from '@tensorflow/tfjs-core';

import {fillRandomSigns, fillStandardNormal, keyFromSeed, randomKey} from '../perf/random_generator';

function checkShape(where: string, shape: number[]): number {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`${where}: expected shape to be an array of non-negative integers. Received: shape=${JSON.stringify(shape)}`);
  }
  return tf.util.sizeFromShape(shape);
}

/**
 * Standard normal draws `N(0, 1)` of `shape` (float32); the same `seed` (a
 * non-negative integer) gives the same draws. Values lie within ±6.8 (the
 * Box–Muller radius of the smallest uniform, 2⁻³³: a truncation of
 * probability 10⁻¹¹).
 */
export function standardNormal(shape: number[], seed?: number): tf.Tensor {
  const size = checkShape('standardNormal', shape);
  const values = new Float32Array(size);
  fillStandardNormal(values, seed == null ? randomKey() : keyFromSeed(seed));
  return tf.tensor(values, shape, 'float32');
}

/**
 * Independent random signs of `shape` (float32), each +1 or −1 with
 * probability ½ (never 0); the same `seed` gives the same signs.
 */
export function randomSigns(shape: number[], seed?: number): tf.Tensor {
  const size = checkShape('randomSigns', shape);
  const values = new Float32Array(size);
  fillRandomSigns(values, seed == null ? randomKey() : keyFromSeed(seed));
  return tf.tensor(values, shape, 'float32');
}
