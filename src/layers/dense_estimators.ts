/**
 * The three gradient estimators of a dense layer with a mean-field normal
 * weight posterior, as pure functions of the input, the posterior and the
 * noise: the generic estimators of `variational/estimators.ts` with the
 * dense operation `x W`. `BayesianDense` draws the noise through the same
 * estimators; tests call these with fixed noise to check values and gradients.
 *
 * Notation: input `x` `[batch, in]`; posterior `W_ij ~ N(μ_ij, σ_ij²)` with
 * `μ, σ` `[in, out]`; bias `b_j ~ N(μ_b,j, σ_b,j²)`, or the point `μ_b` for a
 * deterministic bias (σ_b = 0); `⊙` is the element-wise product.
 */
import type * as tf from '@tensorflow/tfjs-core';

import {
  flipoutOutput, FlipoutNoise, LinearPosterior, localReparameterizationOutput, LocalReparameterizationNoise, meanOutput,
  reparameterizationOutput, ReparameterizationNoise,
} from './variational/estimators';
import {MATMUL_OP} from './variational/linear_ops';

/**
 * A mean-field normal posterior over a dense layer's weights; scales already
 * positive: μ, σ `[in, out]`, μ_b `[out]` or null without a bias, σ_b
 * `[out]` or null for a deterministic bias.
 */
export type DensePosterior = LinearPosterior;

/**
 * Noise of `denseReparameterization`: standard normal ε `[in, out]`, one draw
 * for the whole batch, and ε_b `[out]` (needed only with a Bayesian bias).
 */
export type {ReparameterizationNoise};

/** Noise of `denseLocalReparameterization`: standard normal ζ `[batch, out]`, one per output unit and example. */
export type {LocalReparameterizationNoise};

/**
 * Noise of `denseFlipout`: ε `[in, out]` standard normal shared by the
 * batch, ε_b `[out]` with a Bayesian bias, and the signs s `[batch, in]`
 * and r `[batch, out]` (entries ±1).
 */
export type {FlipoutNoise};

/** The posterior mean's output, `x μ + μ_b` (deterministic). */
export function denseMean(x: tf.Tensor, q: DensePosterior): tf.Tensor {
  return meanOutput(MATMUL_OP, x, q);
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
  return reparameterizationOutput(MATMUL_OP, x, q, noise, 'denseReparameterization');
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
  return localReparameterizationOutput(MATMUL_OP, x, q, noise);
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
  return flipoutOutput(MATMUL_OP, x, q, noise, 'denseFlipout');
}
