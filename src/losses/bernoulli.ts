/**
 * The Bernoulli likelihood: `bernoulliNLL` and the element-wise NLLs it is
 * built from (logits: the Bernoulli log-mass of `src/distributions`;
 * probabilities: clipped as in Keras).
 */
import * as tf from '@tensorflow/tfjs-core';

import {bernoulliNegLogProbFromLogits} from '../distributions/discrete';
import {checkBoolean, checkOptions, LikelihoodLoss, makeLoss, PROBABILITY_EPSILON} from './shared';

export interface BernoulliNLLArgs {
  /** `yPred` holds logits (any real) rather than probabilities in [0, 1]. Default false. */
  fromLogits?: boolean;
  /**
   * Before computing the loss, read the targets' minimum, maximum and sum
   * back from the backend and throw if any target is outside [0, 1] or NaN, e.g.
   * `bernoulliNLL: expected yTrue (targets) in [0, 1]. Received: targets in [0, 255]`.
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
 * Bernoulli NLL from logits `l`, per element:
 *
 *     nll = softplus(l) − x·l        (= −x·log σ(l) − (1−x)·log(1−σ(l)))
 *     ∂nll/∂l = σ(l) − x
 *
 * The negative log-mass of the `Bernoulli` distribution
 * (`bernoulliNegLogProbFromLogits` in `src/distributions/discrete.ts`, which
 * gives the numerical reasoning): finite for every finite l and x ∈ [0, 1].
 */
export function bernoulliNLLFromLogits(x: tf.Tensor, logits: tf.Tensor): tf.Tensor {
  return bernoulliNegLogProbFromLogits(x, logits);
}

/**
 * Bernoulli NLL from probabilities `p`, per element, with
 * `p̃ = clip(p, eps, 1 − eps)` (see {@link PROBABILITY_EPSILON}):
 *
 *     nll = −x·log p̃ − (1−x)·log1p(−p̃)
 *
 * Finite for p exactly 0 or 1; there the clip passes no gradient (as in
 * Keras), so prefer logits when the model can saturate.
 */
export function bernoulliNLLFromProbs(x: tf.Tensor, probs: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const p = tf.clipByValue(probs, PROBABILITY_EPSILON, 1 - PROBABILITY_EPSILON);
    // log1p(−p̃) rather than log(1 − p̃): exact for small p̃ where the backend has a true log1p.
    return tf.neg(tf.add(tf.mul(x, tf.log(p)), tf.mul(tf.sub(1, x), tf.log1p(tf.neg(p)))));
  });
}

/**
 * Bernoulli negative log-likelihood per example, for binary or [0, 1] data
 * (binarised or grey-level images):
 *
 *     logits:         nll_b = Σ_event softplus(l) − x·l
 *     probabilities:  nll_b = Σ_event −x·log p̃ − (1−x)·log(1−p̃),  p̃ = clip(p, 1e-7, 1−1e-7)
 *
 * **yTrue**: `[batch, ...event]`, values in [0, 1] (with `checkTargets: true`
 * anything else throws, naming the range seen: e.g. raw 0–255 pixels).
 * **yPred**: `[batch, ...event]`, or `[batch·k, ...event]` for k samples per
 * example (row `b·k + s` is sample `s` of example `b`; the k NLLs are averaged).
 * **Returns**: `[batch]`.
 *
 * ```js
 * vae.compile({optimizer: tf.train.adam(1e-3), loss: tfv.losses.bernoulliNLL({fromLogits: true})});
 * tfv.losses.bernoulliNLL({fromLogits: true})(tf.tensor2d([[1, 0]]), tf.tensor2d([[2, -1]])).print();
 * // [0.4402]  = softplus(2) − 2 + softplus(−1)
 * ```
 */
export function bernoulliNLL(args?: BernoulliNLLArgs): LikelihoodLoss {
  const where = 'bernoulliNLL';
  const opts = checkOptions(where, args, ['fromLogits', 'checkTargets']);
  const fromLogits = checkBoolean(where, 'fromLogits', opts.fromLogits);
  const targets = checkBoolean(where, 'checkTargets', opts.checkTargets) ? 'unit' : null;
  return makeLoss(where, 1, 1, fromLogits ? bernoulliNLLFromLogits : bernoulliNLLFromProbs, targets);
}
