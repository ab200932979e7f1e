/**
 * The Gaussian likelihood: `gaussianNLL` and the element-wise NLLs it is
 * built from, both the normal negative log-density of `src/distributions`
 * (fixed scale: `normalNegLogProb`; learned log-variance:
 * `normalNegLogProbFromLogVariance`).
 */
import * as tf from '@tensorflow/tfjs-core';

import {normalNegLogProbFromLogVariance} from '../distributions/log_variance';
import {normalNegLogProb} from '../distributions/normal';
import {checkBoolean, checkOptions, checkScale, LikelihoodLoss, makeLoss} from './shared';

export interface GaussianNLLArgs {
  /**
   * Fixed standard deviation σ > 0 of every element. Default 1. Not allowed
   * together with `learnedVariance: true`.
   */
  scale?: number;
  /**
   * `yPred`'s last axis is twice `yTrue`'s: its first half is the mean, its
   * second half the log-variance (e.g. two decoder heads joined with
   * `tf.layers.concatenate`). Default false.
   */
  learnedVariance?: boolean;
  /**
   * Before computing the loss, read the targets' minimum, maximum and sum
   * back from the backend and throw if any target is NaN or ±∞, e.g.
   * `gaussianNLL: expected yTrue (targets) to be finite. Received: targets in [-0.5, 1], and 3 NaN values`.
   * It catches raw 0–255 pixels or a NaN in the data before they silently
   * turn training NaN. It costs three reductions and one synchronous device read
   * per call: on a `[256, 784]` batch (the MNIST VAE's) 1.7 ms on the cpu
   * backend and 1.0 ms on wasm (2-core x86, Node 20), against that VAE's
   * 3.4 s and 69 ms training step (`bench/results.md`, vae-step), i.e. under
   * 0.1% and about 1.5%; on webgl/webgpu the read also stalls the pipeline
   * every step. Default false.
   */
  checkTargets?: boolean;
}

/**
 * Gaussian NLL with a fixed standard deviation σ, per element:
 *
 *     nll = ½·((x − μ)/σ)² + log σ + ½·log 2π
 *
 * `normalNegLogProb(x, μ, σ)`: with z = (x − μ)·(1/σ), the factor `1/σ`
 * taken in double precision (and applied in float32-sized pieces for a σ
 * outside float32's range, where rounding it alone gives ∞ or 0), the
 * half-square is `z·(½z)`: squaring before halving would overflow from
 * |z| = 1.8·10¹⁹, where the loss still fits in float32, and the gradient
 * `z/σ` is then formed without an overflowing `2z`; `log σ + ½ log 2π` is
 * summed in double precision and added once.
 */
export function gaussianNLLFixedScale(x: tf.Tensor, mean: tf.Tensor, scale = 1): tf.Tensor {
  checkScale('gaussianNLLFixedScale', scale);
  return normalNegLogProb(x, mean, scale);
}

/**
 * Gaussian NLL with a learned log-variance v = log σ², per element:
 *
 *     nll = ½·(x − μ)²·e^{−v} + ½·(v + log 2π)
 *     ∂nll/∂μ = −(x − μ)·e^{−v},   ∂nll/∂v = ½ − ½·(x − μ)²·e^{−v}
 *
 * `normalNegLogProbFromLogVariance(x, μ, v)`: the quadratic term and its
 * gradient never form an intermediate beyond float32's range (`e^{−v}`
 * alone overflows for v < −88.7 and `e^{−v/2}` for v < −177 even when the
 * product is small; at x = μ exactly, `0·∞` is NaN), so for |v| > 170 both
 * go through log space. The value and gradients are finite and accurate
 * wherever the true ones fit in float32 — for every v at x = μ (e.g.
 * v = −1000 gives −499.08, `∂/∂v = ½`); beyond that (e.g. |x − μ| = 10⁴
 * with v = −80, a loss of 3·10⁴²) they are ±∞, never NaN.
 */
export function gaussianNLLLearnedVariance(x: tf.Tensor, mean: tf.Tensor, logVar: tf.Tensor): tf.Tensor {
  return normalNegLogProbFromLogVariance(x, mean, logVar);
}

/**
 * Gaussian negative log-likelihood per example, for real-valued data:
 *
 *     fixed σ:          nll_b = Σ_event ½·((x − μ)/σ)² + log σ + ½·log 2π
 *     learnedVariance:  nll_b = Σ_event ½·((x − μ)²·e^{−v} + v + log 2π)
 *
 * With a fixed σ = 1 this is half the summed squared error plus a constant.
 * With `learnedVariance: true`, `yPred = concat([μ, v], -1)` where v is the
 * log-variance; nothing bounds v, so a decoder that fits some element exactly
 * can drive its NLL towards −∞ — bound v in the model (e.g. a tanh-scaled or
 * softplus head) if that happens.
 *
 * **yTrue**: `[batch, ...event]`, finite (checked with `checkTargets: true`).
 * **yPred**: like `yTrue` (fixed σ), or with a last axis twice `yTrue`'s
 * (`learnedVariance`); `[batch·k, ...]` for k samples per example, averaged.
 * **Returns**: `[batch]`.
 *
 * `model.fit` and `model.evaluate` check the targets against the model's
 * declared output shape, so end a learned-variance model with
 * `tfv.layers.gaussianOutput()`, which joins the two heads and declares the
 * last axis unknown: targets stay `[batch, d]`.
 *
 * ```js
 * vae.compile({optimizer: 'adam', loss: tfv.losses.gaussianNLL({scale: 0.1})});
 * const nll = tfv.losses.gaussianNLL({learnedVariance: true});
 * nll(tf.tensor2d([[1]]), tf.tensor2d([[0, 0]])).print();  // [1.4189]  = ½·(1 + 0 + log 2π)
 * ```
 */
export function gaussianNLL(args?: GaussianNLLArgs): LikelihoodLoss {
  const where = 'gaussianNLL';
  const opts = checkOptions(where, args, ['scale', 'learnedVariance', 'checkTargets']);
  const learnedVariance = checkBoolean(where, 'learnedVariance', opts.learnedVariance);
  const targets = checkBoolean(where, 'checkTargets', opts.checkTargets) ? 'finite' : null;
  if (learnedVariance) {
    if (opts.scale !== undefined) {
      throw new Error(
          `${where}: scale and learnedVariance: true exclude each other (the scale comes from yPred). ` +
          `Received: scale=${String(opts.scale)}`);
    }
    return makeLoss(where, 2, 2, (yTrue, yPred) => {
      const [mean, logVar] = tf.split(yPred, 2, -1);
      return gaussianNLLLearnedVariance(yTrue, mean, logVar);
    }, targets);
  }
  const scale = opts.scale === undefined ? 1 : opts.scale;
  checkScale(where, scale);
  return makeLoss(where, 1, 1, (yTrue, yPred) => gaussianNLLFixedScale(yTrue, yPred, scale), targets);
}
