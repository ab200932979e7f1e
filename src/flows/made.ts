/**
 * MADE (Germain et al. 2015, arXiv:1502.03509): a dense network whose
 * weights are masked so that output j depends only on the inputs before j
 * in a chosen autoregressive order. The inverse autoregressive flow builds
 * its shift and gate from it. Masks are a pure function of (d, hidden
 * units, layers, order), rebuilt from the config, never stored as weights.
 */
import * as tf from '@tensorflow/tfjs-core';

import {argumentError} from '../util/validate';

/** The hidden activations the network offers. */
export const MADE_ACTIVATIONS = ['elu', 'relu', 'tanh'] as const;
/** A hidden activation of the network: `'elu'`, `'relu'` or `'tanh'`. @useDeclaredType */
export type MadeActivation = typeof MADE_ACTIVATIONS[number];

/**
 * The autoregressive order of d dimensions: `order[k]` is the dimension
 * that comes k-th (it depends on `order[0..k−1]`). An explicit order must
 * be a permutation of 0..d−1; otherwise 0..d−1, or d−1..0 with `reverse`.
 */
export function autoregressiveOrder(where: string, d: number, order: readonly number[]|null, reverse: boolean): number[] {
  if (order !== null) {
    if (order.length !== d) throw argumentError(where, 'order', `a permutation of 0..${d - 1} (one entry per dimension)`, order);
    return [...order];
  }
  const natural = Array.from({length: d}, (_, i) => i);
  return reverse ? natural.reverse() : natural;
}

/** Checks that `order` is a permutation of 0..n−1 for its length n. */
export function checkOrder(where: string, order: unknown): number[] {
  const ok = Array.isArray(order) && order.length > 0 && order.every((v) => Number.isInteger(v)) &&
      [...order].sort((a, b) => a - b).every((v, i) => v === i);
  if (!ok) throw argumentError(where, 'order', 'a permutation of 0..d−1', order);
  return [...(order as number[])];
}

/**
 * The masks of a MADE with `numLayers` ≥ 1 hidden layers of `hiddenUnits`
 * on d inputs in `order`, as `[rows, cols]` 0/1 arrays (row-major):
 * input i has degree rank(i) (its position in the order); hidden unit k has
 * degree k mod (d − 1) (−1 for d = 1: it sees no input); a unit of degree m
 * sees inputs of rank ≤ m and hidden units of degree ≤ m, and output j sees
 * hidden units of degree < rank(j). Returns the numLayers hidden masks, then
 * the output mask `[hiddenUnits, d]` (shared by the shift and gate heads).
 */
export function madeMasks(d: number, hiddenUnits: number, numLayers: number, order: readonly number[]): {shape: [number, number], values: Float32Array}[] {
  const rank = new Array<number>(d);
  order.forEach((dim, k) => { rank[dim] = k; });
  const hidden = Array.from({length: hiddenUnits}, (_, k) => (d >= 2 ? k % (d - 1) : -1));
  const mask = (rows: number, cols: number, connected: (i: number, j: number) => boolean) => {
    const values = new Float32Array(rows * cols);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) values[i * cols + j] = connected(i, j) ? 1 : 0;
    return {shape: [rows, cols] as [number, number], values};
  };
  const masks = [mask(d, hiddenUnits, (i, k) => rank[i] <= hidden[k])];
  for (let l = 1; l < numLayers; l++) masks.push(mask(hiddenUnits, hiddenUnits, (k, k2) => hidden[k] <= hidden[k2]));
  masks.push(mask(hiddenUnits, d, (k, j) => hidden[k] < rank[j]));
  return masks;
}

/** The weights of a MADE with a shift head m and a gate head s. */
export interface MadeWeights {
  /** `[d, H]`, then `[H, H]` per further hidden layer. */
  kernels: tf.Tensor[];
  biases: tf.Tensor[];
  /** `[c, H]`: the context's (unmasked) weights into the first hidden layer, or null. */
  contextKernel: tf.Tensor|null;
  shiftKernel: tf.Tensor;
  shiftBias: tf.Tensor;
  gateKernel: tf.Tensor;
  gateBias: tf.Tensor;
}

function activate(x: tf.Tensor, activation: MadeActivation): tf.Tensor {
  switch (activation) {
    case 'elu': return tf.elu(x);
    case 'relu': return tf.relu(x);
    case 'tanh': return tf.tanh(x);
  }
}

/**
 * `[m, s]`, each `[batch, d]`, of the masked network at `z` `[batch, d]`
 * with an optional context `[batch, c]` added to the first hidden layer:
 *
 *     h_1 = act(z (W_1 ⊙ M_1) + b_1 + context · C),   h_l = act(h_{l−1} (W_l ⊙ M_l) + b_l),
 *     m = h_L (W_m ⊙ M_out) + b_m,   s = h_L (W_s ⊙ M_out) + b_s.
 */
export function madeForward(z: tf.Tensor, context: tf.Tensor|null, weights: MadeWeights,
                            masks: readonly {shape: [number, number], values: Float32Array}[],
                            activation: MadeActivation): [tf.Tensor, tf.Tensor] {
  return tf.tidy(() => {
    const masked = (w: tf.Tensor, i: number) => tf.mul(w, tf.tensor2d(masks[i].values, masks[i].shape));
    let h = tf.add(tf.matMul(z, masked(weights.kernels[0], 0)), weights.biases[0]);
    if (context !== null && weights.contextKernel !== null) h = tf.add(h, tf.matMul(context, weights.contextKernel));
    h = activate(h, activation);
    for (let l = 1; l < weights.kernels.length; l++) {
      h = activate(tf.add(tf.matMul(h, masked(weights.kernels[l], l)), weights.biases[l]), activation);
    }
    const out = weights.kernels.length;
    const m = tf.add(tf.matMul(h, masked(weights.shiftKernel, out)), weights.shiftBias);
    const s = tf.add(tf.matMul(h, masked(weights.gateKernel, out)), weights.gateBias);
    return [m, s] as [tf.Tensor, tf.Tensor];
  });
}
