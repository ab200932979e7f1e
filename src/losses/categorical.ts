/**
 * The categorical likelihood: `categoricalNLL` and the per-position NLLs it
 * is built from (logits: the categorical cross-entropy of
 * `src/distributions`; probabilities: clipped as in Keras).
 */
import * as tf from '@tensorflow/tfjs-core';

import {categoricalNegLogProbFromLogits} from '../distributions/discrete';
import {checkBoolean, checkOptions, LikelihoodLoss, makeLoss, PROBABILITY_EPSILON} from './shared';

export interface CategoricalNLLArgs {
  /** `yPred` holds logits rather than probabilities (e.g. a softmax output). Default false. */
  fromLogits?: boolean;
  /**
   * Before computing the loss, read the targets' minimum, maximum and sum
   * back from the backend and throw if any target is outside [0, 1] (one-hot
   * or probabilities) or NaN, e.g.
   * `categoricalNLL: expected yTrue (targets) in [0, 1]. Received: targets in [0, 9]`.
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
 * Categorical NLL from logits along the last axis (reduces that axis):
 *
 *     nll = −Σ_c y_c · log softmax(l)_c,   log softmax(l) = l − logsumexp(l)
 *     ∂nll/∂l = softmax(l)·Σ_c y_c − y
 *
 * `categoricalNegLogProbFromLogits` of `src/distributions/discrete.ts` (the
 * `Categorical` distribution's log-mass for one-hot y): max-shifted, with
 * a closed-form gradient, and classes with y_c = 0 contribute exactly 0,
 * also where their log-probability is below float32's range (logits more
 * than 3.4·10³⁸ apart), so the loss is finite wherever the true one is.
 */
export function categoricalNLLFromLogits(y: tf.Tensor, logits: tf.Tensor): tf.Tensor {
  return categoricalNegLogProbFromLogits(y, logits);
}

/**
 * Categorical NLL from probabilities along the last axis (reduces that axis),
 * with `p̃ = clip(p, eps, 1)`:
 *
 *     nll = −Σ_c y_c · log p̃_c
 *
 * `p` is used as given (not renormalised): pass a softmax output. Only
 * `log p̃` appears, so probabilities of exactly 1 need no upper clip.
 */
export function categoricalNLLFromProbs(y: tf.Tensor, probs: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.neg(tf.sum(tf.mul(y, tf.log(tf.clipByValue(probs, PROBABILITY_EPSILON, 1))), -1)));
}

/**
 * Categorical negative log-likelihood per example, classes on the last axis
 * (e.g. one pixel's 256 intensity levels, or a sequence of tokens):
 *
 *     logits:         nll_b = −Σ_event Σ_c y_c · log softmax(l)_c
 *     probabilities:  nll_b = −Σ_event Σ_c y_c · log clip(p_c, 1e-7, 1)
 *
 * **yTrue**: `[batch, ...event, classes]`, one-hot or probabilities (in
 * [0, 1], checked with `checkTargets: true`).
 * **yPred**: the same shape, or `[batch·k, ...event, classes]` for k samples
 * per example, averaged.
 * **Returns**: `[batch]`.
 *
 * ```js
 * model.compile({optimizer: 'adam', loss: tfv.losses.categoricalNLL({fromLogits: true})});
 * tfv.losses.categoricalNLL({fromLogits: true})(tf.tensor2d([[0, 1]]), tf.tensor2d([[0, 0]])).print();
 * // [0.6931]  = log 2
 * ```
 */
export function categoricalNLL(args?: CategoricalNLLArgs): LikelihoodLoss {
  const where = 'categoricalNLL';
  const opts = checkOptions(where, args, ['fromLogits', 'checkTargets']);
  const fromLogits = checkBoolean(where, 'fromLogits', opts.fromLogits);
  const targets = checkBoolean(where, 'checkTargets', opts.checkTargets) ? 'unit' : null;
  return makeLoss(where, 2, 1, fromLogits ? categoricalNLLFromLogits : categoricalNLLFromProbs, targets);
}
