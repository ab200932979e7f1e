/**
 * The estimators of a Bayesian linear layer `y = op(x, W) + b` (dense or
 * convolutional, see `linear_ops.ts`) with a mean-field normal posterior
 * `W ~ N(μ, σ²)`, `b ~ N(μ_b, σ_b²)` (or the point μ_b), written once for
 * any bilinear `op`:
 *
 * - reparameterization: `y = op(x, μ + σ ⊙ ε) + μ_b + σ_b ⊙ ε_b`;
 * - local reparameterization: `y = op(x, μ) + μ_b + √(op(x², σ²) + σ_b²) ⊙ ζ`;
 * - flipout: `y = op(x, μ) + μ_b + [op(x ⊙ s, σ ⊙ ε) + σ_b ⊙ ε_b] ⊙ r`.
 *
 * Each is a pure function of fixed noise (for tests and the public
 * `tfv.layers.dense*` functions) and a small strategy, registered by name,
 * that draws that noise from a layer's noise source and calls it. A layer
 * keeps the estimator's name in its config and looks the strategy up here.
 */
import * as tf from '@tensorflow/tfjs-core';

import {normalSampleFromNoise} from '../../distributions/normal';
import {argumentError} from '../../util/validate';
import {columnScale, localOutputSample, LocalVarianceTerms, safeSqrt, scaledSquare} from './fused_variance';
import {addFlipped, flipSigns} from './fused_flipout';
import type {LinearOp} from './linear_ops';

/** The posterior of a linear layer's weights; scales already positive. */
export interface LinearPosterior {
  /** μ, the kernel's shape. */
  kernelLoc: tf.Tensor;
  /** σ > 0, the kernel's shape. */
  kernelScale: tf.Tensor;
  /** μ_b, `[out]`, or null without a bias. */
  biasLoc: tf.Tensor|null;
  /** σ_b > 0, `[out]`, or null for a deterministic bias. */
  biasScale: tf.Tensor|null;
}

/**
 * The posterior of a linear layer whose kernel's sample comes with the
 * kernel's divergence from one op (`normalSampleAndKL` in `fused_sample.ts`:
 * a Gaussian prior with number parameters), so no σ tensor is formed.
 */
export interface FusedLinearPosterior {
  /** μ, the kernel's shape. */
  kernelLoc: tf.Tensor;
  /**
   * `{sample: μ + σ ⊙ ε (centered: σ ⊙ ε), kl: Σ KL(q(w_i) ‖ p(w_i))}` for the kernel's noise ε;
   * centered, possibly `loc`: μ passed through the same op, to use for the mean output (its
   * gradient then joins the op's backward pass instead of a separate addition).
   */
  kernelSample(eps: tf.Tensor, centered: boolean): {sample: tf.Tensor, kl: tf.Scalar, loc?: tf.Tensor};
  /**
   * Local reparameterization's kernel terms `{scaledSquare: (σ/s)², scale: s, kl, loc}`
   * (`localVarianceTerms` in `fused_variance.ts`: s over the kernel's scales and
   * `biasScale`; `loc` μ for the mean product), with the kernel's divergence
   * when the layer records one.
   */
  kernelVarianceTerms(biasScale: tf.Tensor|null): LocalVarianceTerms;
  biasLoc: tf.Tensor|null;
  biasScale: tf.Tensor|null;
}

/** Noise of reparameterization: standard normal, one draw for the whole batch. */
export interface ReparameterizationNoise {
  /** ε, the kernel's shape. */
  kernel: tf.Tensor;
  /** ε_b, `[out]`; needed only with a Bayesian bias. */
  bias?: tf.Tensor|null;
}

/** Noise of local reparameterization: standard normal, one per output and example. */
export interface LocalReparameterizationNoise {
  /** ζ, the output's shape. */
  output: tf.Tensor;
}

/** Noise of flipout: one shared normal perturbation and per-example random signs. */
export interface FlipoutNoise {
  /** ε, the kernel's shape, standard normal, shared by the batch. */
  kernel: tf.Tensor;
  /** ε_b, `[out]`; needed only with a Bayesian bias. */
  bias?: tf.Tensor|null;
  /** s, ±1: `[batch, in]` (dense), `[batch, 1, 1, in]` (conv: one sign per input channel, shared by the positions). */
  inputSigns: tf.Tensor;
  /** r, ±1: `[batch, out]` (dense), `[batch, 1, 1, out]` (conv). */
  outputSigns: tf.Tensor;
}

function needBiasNoise(where: string, eps: tf.Tensor|null|undefined): tf.Tensor {
  if (eps == null) {
    throw new Error(`${where}: the posterior has a Bayesian bias (biasScale), so noise.bias is required`);
  }
  return eps;
}

function addBias(y: tf.Tensor, bias: tf.Tensor|null): tf.Tensor {
  return bias === null ? y : tf.add(y, bias);
}

function hasBayesianBias<Q extends {biasLoc: tf.Tensor|null, biasScale: tf.Tensor|null}>(q: Q): q is Q & {biasLoc: tf.Tensor, biasScale: tf.Tensor} {
  return q.biasLoc !== null && q.biasScale !== null;
}

/** The posterior mean's output `op(x, μ) + μ_b` (deterministic). */
export function meanOutput(op: LinearOp, x: tf.Tensor, q: Pick<LinearPosterior, 'kernelLoc'|'biasLoc'>): tf.Tensor {
  return tf.tidy(() => addBias(op.apply(x, q.kernelLoc), q.biasLoc));
}

/**
 * Reparameterization (Blundell et al. 2015): one weight draw per forward
 * pass, shared by the batch, `y = op(x, μ + σ ⊙ ε) + μ_b + σ_b ⊙ ε_b`.
 */
export function reparameterizationOutput(
    op: LinearOp, x: tf.Tensor, q: LinearPosterior, noise: ReparameterizationNoise, where = 'reparameterization'): tf.Tensor {
  return tf.tidy(() => reparameterizationWith(op, x, normalSampleFromNoise(q.kernelLoc, q.kernelScale, noise.kernel), q, noise, where));
}

/** `op(x, w) + μ_b + σ_b ⊙ ε_b` for a kernel sample w (in the caller's tidy). */
function reparameterizationWith(op: LinearOp, x: tf.Tensor, w: tf.Tensor,
    q: Pick<LinearPosterior, 'biasLoc'|'biasScale'>, noise: ReparameterizationNoise, where: string): tf.Tensor {
  let bias = q.biasLoc;
  if (hasBayesianBias(q)) bias = normalSampleFromNoise(q.biasLoc, q.biasScale, needBiasNoise(where, noise.bias));
  return addBias(op.apply(x, w), bias);
}

/**
 * Local reparameterization (Kingma, Salimans & Welling 2015): each output
 * is a sum of independent normal terms, so it is sampled directly per
 * example and position,
 *
 *     m = op(x, μ) + μ_b,   v = op(x², σ²) + σ_b²,   y = m + √v ⊙ ζ.
 *
 * Computed as `s·√(op(x², (σ/s)²) + (σ_b/s)²)` with s each output
 * channel's largest scale (a constant to autodiff), so σ² cannot overflow
 * float32 (σ = 1e20 on an all-zero input would give 0·∞ = NaN), and with a
 * square root whose gradient is 0, not NaN, at v = 0.
 */
export function localReparameterizationOutput(
    op: LinearOp, x: tf.Tensor, q: LinearPosterior, noise: LocalReparameterizationNoise): tf.Tensor {
  return tf.tidy(() => {
    const out = q.kernelScale.shape[q.kernelScale.rank - 1]!;
    const kernelRows = tf.reshape(q.kernelScale, [-1, out]);
    const s = columnScale(hasBayesianBias(q) ? tf.concat([kernelRows, tf.reshape(q.biasScale, [1, out])], 0) : kernelRows);
    return localReparameterizationWith(op, x, q, scaledSquare(q.kernelScale, s), s, noise);
  });
}

/**
 * `m + s·√(op(x², t) + (σ_b/s)²) ⊙ ζ` for the kernel's `t = (σ/s)²` and the
 * column scale s (in the caller's tidy).
 */
function localReparameterizationWith(op: LinearOp, x: tf.Tensor, q: Pick<LinearPosterior, 'kernelLoc'|'biasLoc'|'biasScale'>,
    t: tf.Tensor, s: tf.Tensor, noise: LocalReparameterizationNoise, fused = false): tf.Tensor {
  const mean = meanOutput(op, x, q);
  let variance = op.apply(tf.square(x), t);
  if (hasBayesianBias(q)) variance = tf.add(variance, scaledSquare(q.biasScale, s));
  // y = m + √v ⊙ ζ, a normal sample of the pre-activations (one fused op on wasm for the fused path).
  if (fused) return localOutputSample(mean, variance, s, noise.output);
  return normalSampleFromNoise(mean, tf.mul(safeSqrt(variance), s), noise.output);
}

/**
 * Flipout (Wen et al. 2018): one perturbation `Δ = σ ⊙ ε` shared by the
 * batch, whose signs each example flips with its own ±1 vectors s (input
 * channels) and r (output channels):
 *
 *     y = op(x, μ) + μ_b + [op(x ⊙ s, Δ) + σ_b ⊙ ε_b] ⊙ r.
 *
 * Example n then uses the weights `μ + Δ ⊙ (s_n r_nᵀ)` (for conv, the same
 * sign for every position of a channel, as TFP's Conv2DFlipout), which have
 * exactly the posterior's distribution since Δ is symmetric about 0; the
 * perturbations of different examples are uncorrelated.
 */
export function flipoutOutput(op: LinearOp, x: tf.Tensor, q: LinearPosterior, noise: FlipoutNoise, where = 'flipout'): tf.Tensor {
  return tf.tidy(() => flipoutWith(op, x, tf.mul(q.kernelScale, noise.kernel), q, noise, where));
}

/** Flipout's output for the perturbation Δ = σ ⊙ ε (in the caller's tidy). */
function flipoutWith(op: LinearOp, x: tf.Tensor, delta: tf.Tensor,
    q: Pick<LinearPosterior, 'kernelLoc'|'biasLoc'|'biasScale'>, noise: FlipoutNoise, where: string): tf.Tensor {
  const mean = meanOutput(op, x, q);
  // x ⊙ s and mean + perturbation ⊙ r: one pass each on wasm (fused_flipout.ts), tf.mul and tf.add elsewhere.
  let perturbation = op.apply(flipSigns(x, noise.inputSigns), delta);
  if (hasBayesianBias(q)) perturbation = tf.add(perturbation, tf.mul(q.biasScale, needBiasNoise(where, noise.bias)));
  return addFlipped(mean, perturbation, noise.outputSigns);
}

// ------------------------------------------------------------ strategies

/** Where a strategy draws its noise: the layer's seeded stream. */
export interface NoiseSource {
  /** Standard normal draws. */
  normal(shape: number[]): tf.Tensor;
  /** Independent ±1 signs. */
  signs(shape: number[]): tf.Tensor;
}

/** An estimator's output, and the weight noise it drew (reused by a Monte Carlo divergence). */
export interface EstimatorSample {
  output: tf.Tensor;
  kernelEps: tf.Tensor|null;
  biasEps: tf.Tensor|null;
  /** The kernel's divergence when the fused op gave it (`sampleFused`). */
  kernelDivergence?: tf.Scalar;
}

/**
 * A training-time estimator: draws its noise from `source` (in a fixed
 * order, so seeded runs repeat) and returns the output with that noise.
 */
export interface EstimatorStrategy {
  sample(op: LinearOp, x: tf.Tensor, q: LinearPosterior, source: NoiseSource): EstimatorSample;
  /**
   * The same draws and output with the kernel's sample and divergence from
   * `q.kernelSample` (estimators that sample the kernel's weights) or its
   * variance terms and divergence from `q.kernelVarianceTerms` (local
   * reparameterization, `fusedKernel: 'variance'`), returning the divergence
   * as `kernelDivergence`.
   */
  sampleFused?(op: LinearOp, x: tf.Tensor, q: FusedLinearPosterior, source: NoiseSource): EstimatorSample;
  /** Which fused kernel op `sampleFused` calls: `'sample'` (default) or `'variance'`. */
  fusedKernel?: 'sample'|'variance';
}

/** `[batch, 1, …, 1, channels]` of rank `rank`: one sign per example and channel, broadcast over positions. */
function signShape(rank: number, batch: number, channels: number): number[] {
  return [batch, ...new Array<number>(rank - 2).fill(1), channels];
}

const strategies = new Map<string, EstimatorStrategy>();

/** Makes `strategy` available to the Bayesian layers as `estimator: name`. */
export function registerEstimator(name: string, strategy: EstimatorStrategy): void {
  strategies.set(name, strategy);
}

/** The registered estimator names, in registration order. */
export function registeredEstimatorNames(): string[] {
  return [...strategies.keys()];
}

/** Checks an `estimator` argument against the registered names (the error lists them). */
export function checkEstimator(where: string, value: unknown): string {
  if (typeof value !== 'string' || !strategies.has(value)) {
    throw argumentError(where, 'estimator', `one of ${registeredEstimatorNames().map((n) => `'${n}'`).join(', ')}`, value);
  }
  return value;
}

/** The strategy registered as `name`. */
export function getEstimator(name: string): EstimatorStrategy {
  const strategy = strategies.get(name);
  if (strategy === undefined) throw new Error(`no estimator is registered as '${name}'`);
  return strategy;
}

// Draw order per application: ε (kernel), ε_b (Bayesian bias), then flipout's s and r.
function drawWeightNoise(q: Pick<LinearPosterior, 'kernelLoc'|'biasLoc'|'biasScale'>, source: NoiseSource): {kernel: tf.Tensor, bias: tf.Tensor|null} {
  const kernel = source.normal(q.kernelLoc.shape);
  const bias = hasBayesianBias(q) ? source.normal(q.biasScale.shape) : null;
  return {kernel, bias};
}

registerEstimator('reparameterization', {
  sample(op, x, q, source) {
    const noise = drawWeightNoise(q, source);
    return {output: reparameterizationOutput(op, x, q, noise), kernelEps: noise.kernel, biasEps: noise.bias};
  },
  sampleFused(op, x, q, source) {
    const noise = drawWeightNoise(q, source);
    const {output, kl} = tf.tidy(() => {
      const fused = q.kernelSample(noise.kernel, false);
      return {output: reparameterizationWith(op, x, fused.sample, q, noise, 'reparameterization'), kl: fused.kl};
    });
    return {output, kernelEps: noise.kernel, biasEps: noise.bias, kernelDivergence: kl};
  },
});

registerEstimator('localReparameterization', {
  fusedKernel: 'variance',
  sample(op, x, q, source) {
    const output = source.normal(op.outputShape(x.shape, q.kernelLoc.shape));
    return {output: localReparameterizationOutput(op, x, q, {output}), kernelEps: null, biasEps: null};
  },
  sampleFused(op, x, q, source) {
    const output = source.normal(op.outputShape(x.shape, q.kernelLoc.shape));
    const {y, kl} = tf.tidy(() => {
      // (σ/s)², s and the kernel's divergence from one fused op (no σ tensor).
      const terms = q.kernelVarianceTerms(q.biasScale);
      // The mean product through the op's μ (its gradient joins the divergence's in one pass).
      const y = localReparameterizationWith(op, x, {...q, kernelLoc: terms.loc}, terms.scaledSquare, terms.scale, {output}, true);
      return {y, kl: terms.kl ?? undefined};
    });
    return {output: y, kernelEps: null, biasEps: null, kernelDivergence: kl as tf.Scalar|undefined};
  },
});

registerEstimator('flipout', {
  sample(op, x, q, source) {
    const weightNoise = drawWeightNoise(q, source);
    const noise = flipoutNoise(op, x, q.kernelLoc, weightNoise, source);
    return {output: flipoutOutput(op, x, q, noise), kernelEps: weightNoise.kernel, biasEps: weightNoise.bias};
  },
  sampleFused(op, x, q, source) {
    const weightNoise = drawWeightNoise(q, source);
    const noise = flipoutNoise(op, x, q.kernelLoc, weightNoise, source);
    const {output, kl} = tf.tidy(() => {
      // Δ = σ ⊙ ε = w − μ from the fused op (and μ through it, for the mean output).
      const fused = q.kernelSample(weightNoise.kernel, true);
      const mean = fused.loc === undefined ? q : {...q, kernelLoc: fused.loc};
      return {output: flipoutWith(op, x, fused.sample, mean, noise, 'flipout'), kl: fused.kl};
    });
    return {output, kernelEps: weightNoise.kernel, biasEps: weightNoise.bias, kernelDivergence: kl};
  },
});

/** Flipout's noise: the weights' (drawn first), then the input's and the output's signs. */
function flipoutNoise(op: LinearOp, x: tf.Tensor, kernelLoc: tf.Tensor,
    weightNoise: {kernel: tf.Tensor, bias: tf.Tensor|null}, source: NoiseSource): FlipoutNoise {
  const outShape = op.outputShape(x.shape, kernelLoc.shape);
  return {
    ...weightNoise,
    inputSigns: source.signs(signShape(x.rank, x.shape[0], x.shape[x.rank - 1])),
    outputSigns: source.signs(signShape(outShape.length, outShape[0], outShape[outShape.length - 1])),
  };
}
