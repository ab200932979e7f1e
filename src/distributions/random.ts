/**
 * The noise sources of the library's stochastic layers: standard normal
 * draws and random signs, seeded or not. Every weight-noise draw of the
 * Bayesian layers goes through these two functions, so a faster generator
 * changes one place.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Standard normal draws of `shape` (float32); the same `seed` gives the same draws. */
export function standardNormal(shape: number[], seed?: number): tf.Tensor {
  return tf.randomNormal(shape, 0, 1, 'float32', seed);
}

/**
 * Independent random signs, each +1 or −1 with probability ½: `2·[u < ½] − 1`
 * with `u ~ U[0, 1)` (never 0, unlike `sign(u − ½)`).
 */
export function randomSigns(shape: number[], seed?: number): tf.Tensor {
  return tf.tidy(() => {
    const u = tf.randomUniform(shape, 0, 1, 'float32', seed);
    return tf.sub(tf.mul(tf.cast(tf.less(u, 0.5), 'float32'), 2), 1);
  });
}
