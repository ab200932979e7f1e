/**
 * The three gradient estimators of a dense layer with a mean-field normal
 * weight posterior, as pure functions of the input, the posterior and the
 * noise. `BayesianDense` draws the noise and calls one of them; tests call
 * them with fixed noise to check values and gradients.
 *
 * Notation: input `x` `[batch, in]`; posterior `W_ij ~ N(μ_ij, σ_ij²)` with
 * `μ, σ` `[in, out]`; bias `b_j ~ N(μ_b,j, σ_b,j²)`, or the point `μ_b` for a
 * deterministic bias (σ_b = 0); `⊙` is the element-wise product.
 */
import * as tf from '@tensorflow/tfjs-core';

import {normalSampleFromNoise} from '../distributions/normal';

/** A mean-field normal posterior over a dense layer's weights; scales already positive. */
export interface DensePosterior {
  /** μ, `[in, out]`. */
  kernelLoc: tf.Tensor;
  /** σ > 0, `[in, out]`. */
  kernelScale: tf.Tensor;
  /** μ_b, `[out]`, or null without a bias. */
  biasLoc: tf.Tensor|null;
  /** σ_b > 0, `[out]`, or null for a deterministic bias. */
  biasScale: tf.Tensor|null;
}

/** Noise of `denseReparameterization`: standard normal, one draw for the whole batch. */
export interface ReparameterizationNoise {
  /** ε, `[in, out]`. */
  kernel: tf.Tensor;
  /** ε_b, `[out]`; needed only with a Bayesian bias. */
  bias?: tf.Tensor|null;
}

/** Noise of `denseLocalReparameterization`: standard normal, one per output unit and example. */
export interface LocalReparameterizationNoise {
  /** ζ, `[batch, out]`. */
  output: tf.Tensor;
}

/** Noise of `denseFlipout`: one shared normal perturbation and per-example random signs. */
export interface FlipoutNoise {
  /** ε, `[in, out]`, standard normal, shared by the batch. */
  kernel: tf.Tensor;
  /** ε_b, `[out]`; needed only with a Bayesian bias. */
  bias?: tf.Tensor|null;
  /** s, `[batch, in]`, entries ±1. */
  inputSigns: tf.Tensor;
  /** r, `[batch, out]`, entries ±1. */
  outputSigns: tf.Tensor;
}

/** `tf.customGrad` for a function of one tensor (its typing wants a variadic function). */
function customGrad1(
    f: (x: tf.Tensor, save: tf.GradSaveFunc) => {value: tf.Tensor, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[]}):
    (x: tf.Tensor) => tf.Tensor {
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;
}

/**
 * `sqrt(v)` for v ≥ 0 whose gradient is `dy/(2√v)` where v > 0 and 0 at
 * v = 0 (a pre-activation variance of 0: an all-zero input row with a
 * deterministic bias), where autodiff would give `∞ · 0 = NaN`. The standard
 * deviation `sqrt(Σ x²σ²)` has derivative 0 in σ there, and 0 is the
 * symmetric subgradient of |x|·σ in x.
 */
const safeSqrt = customGrad1((v: tf.Tensor, save: tf.GradSaveFunc) => {
  const value = tf.sqrt(v);
  save([value]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [root] = saved;
      const positive = tf.greater(root, 0);
      return [tf.where(positive, tf.div(dy, tf.mul(2, tf.where(positive, root, tf.onesLike(root)))), tf.zerosLike(dy))];
    },
  };
});

/**
 * Each column's largest entry of a positive `[rows, out]` tensor, `[1, out]`
 * (1 for an all-zero column), with a zero gradient: a rescaling factor the
 * result does not depend on (see `denseLocalReparameterization`).
 */
const columnScale = customGrad1((t: tf.Tensor, save: tf.GradSaveFunc) => {
  save([t]);
  const m = tf.max(t, 0, true);
  return {value: tf.where(tf.greater(m, 0), m, tf.onesLike(m)), gradFunc: (_dy: tf.Tensor, saved: tf.Tensor[]) => [tf.zerosLike(saved[0])]};
});

function needBiasNoise(where: string, eps: tf.Tensor|null|undefined): tf.Tensor {
  if (eps == null) {
    throw new Error(`${where}: the posterior has a Bayesian bias (biasScale), so noise.bias is required`);
  }
  return eps;
}

function addBias(y: tf.Tensor, bias: tf.Tensor|null): tf.Tensor {
  return bias === null ? y : tf.add(y, bias);
}

/** The posterior mean's output, `x μ + μ_b` (deterministic). */
export function denseMean(x: tf.Tensor, q: DensePosterior): tf.Tensor {
  return tf.tidy(() => addBias(tf.matMul(x, q.kernelLoc), q.biasLoc));
}

/**
 * The reparameterization estimator (Bayes by Backprop; Blundell et al. 2015,
 * arXiv:1505.05424; TFP `DenseReparameterization`): one weight matrix per
 * forward pass, shared by every example of the batch,
 *
 *     W = μ + σ ⊙ ε,   b = μ_b + σ_b ⊙ ε_b,   y = x W + b,   ε, ε_b ~ N(0, I).
 *
 * Cheapest, but the examples of a batch see the same weights, so the
 * gradient's variance does not fall with the batch size.
 */
export function denseReparameterization(x: tf.Tensor, q: DensePosterior, noise: ReparameterizationNoise): tf.Tensor {
  return tf.tidy(() => {
    const w = normalSampleFromNoise(q.kernelLoc, q.kernelScale, noise.kernel);
    let bias = q.biasLoc;
    if (bias !== null && q.biasScale !== null) {
      bias = normalSampleFromNoise(bias, q.biasScale, needBiasNoise('denseReparameterization', noise.bias));
    }
    return addBias(tf.matMul(x, w), bias);
  });
}

/**
 * The local reparameterization estimator (Kingma, Salimans & Welling 2015,
 * arXiv:1506.02557; TFP `DenseLocalReparameterization`). For independent
 * normal weights the pre-activations are normal too, so they are sampled
 * directly, independently for every example:
 *
 *     m = x μ + μ_b,   v = x² σ² + σ_b²,   y = m + √v ⊙ ζ,   ζ ~ N(0, I) [batch, out]
 *
 * (`x²`, `σ²` element-wise; computed as `s·√(x²(σ/s)² + (σ_b/s)²)` with s
 * each column's largest scale, so σ² cannot overflow, and with a square
 * root whose gradient is 0, not NaN, at v = 0). Each example gets its own weights in effect, so
 * the gradient's variance falls like 1/batch; it costs a second matrix
 * product. The bias variance enters per example as well.
 */
export function denseLocalReparameterization(
    x: tf.Tensor, q: DensePosterior, noise: LocalReparameterizationNoise): tf.Tensor {
  return tf.tidy(() => {
    const mean = denseMean(x, q);
    const bayesianBias = q.biasLoc !== null && q.biasScale !== null;
    // Each output column's scales are divided by their largest, s_j (a constant to autodiff: the standard
    // deviation s·sqrt(Σ x²(σ/s)² + (σ_b/s)²) does not depend on it), so σ² never overflows float32 in
    // the product: with σ = 1e20 on an all-zero input row, x²·σ² would be 0·∞ = NaN.
    const s = columnScale(bayesianBias ? tf.concat([q.kernelScale, tf.reshape(q.biasScale as tf.Tensor, [1, -1])], 0) : q.kernelScale);
    let variance = tf.matMul(tf.square(x), tf.square(tf.div(q.kernelScale, s)));
    if (bayesianBias) variance = tf.add(variance, tf.square(tf.div(tf.reshape(q.biasScale as tf.Tensor, [1, -1]), s)));
    // y = m + √v ⊙ ζ, a normal sample of the pre-activations.
    return normalSampleFromNoise(mean, tf.mul(safeSqrt(variance), s), noise.output);
  });
}

/**
 * The Flipout estimator (Wen et al. 2018, arXiv:1803.04386; TFP
 * `DenseFlipout`). One perturbation `Δ = σ ⊙ ε` is shared by the batch, and
 * each example n flips its signs with random ±1 vectors `s_n` (inputs) and
 * `r_n` (outputs): example n uses `W_n = μ + Δ ⊙ (s_n r_nᵀ)`, i.e.
 *
 *     y_n = x_n μ + μ_b + [ ((x_n ⊙ s_n) Δ) + σ_b ⊙ ε_b ] ⊙ r_n.
 *
 * Because `Δ` is symmetric about 0 and independent of the signs, every
 * `W_n` has exactly the posterior's distribution, and the perturbations of
 * different examples are uncorrelated: the gradient's variance falls nearly
 * like 1/batch, as with local reparameterization, for two matrix products.
 * The bias perturbation is flipped by the same `r_n`.
 */
export function denseFlipout(x: tf.Tensor, q: DensePosterior, noise: FlipoutNoise): tf.Tensor {
  return tf.tidy(() => {
    const mean = denseMean(x, q);
    const delta = tf.mul(q.kernelScale, noise.kernel);
    let perturbation = tf.matMul(tf.mul(x, noise.inputSigns), delta);
    if (q.biasLoc !== null && q.biasScale !== null) {
      perturbation = tf.add(perturbation, tf.mul(q.biasScale, needBiasNoise('denseFlipout', noise.bias)));
    }
    return tf.add(mean, tf.mul(perturbation, noise.outputSigns));
  });
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
